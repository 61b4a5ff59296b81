import { Writable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { main } from '../../cli/main.js';

const sqs = mockClient(SQSClient);
beforeEach(() => sqs.reset());

function io() {
  let out = '';
  let err = '';
  return {
    stdout: new Writable({
      write: (c, _e, cb) => {
        out += String(c);
        cb();
      },
    }),
    stderr: new Writable({
      write: (c, _e, cb) => {
        err += String(c);
        cb();
      },
    }),
    env: { AWS_REGION: 'eu-west-1' } as NodeJS.ProcessEnv,
    get out() {
      return out;
    },
    get err() {
      return err;
    },
  };
}

const DLQ1 = 'arn:aws:sqs:eu-west-1:123456789012:Dualtrack-NormalizeDlq';
const DLQ2 = 'arn:aws:sqs:eu-west-1:123456789012:Dualtrack-EverflowFetchDlq';

describe('dualtrack replay-dlq --aws', () => {
  it('starts one redrive per DLQ back to its source queue, with exactly these requests', async () => {
    sqs
      .on(StartMessageMoveTaskCommand)
      .callsFake((input: { SourceArn: string }) => ({ TaskHandle: `h-${input.SourceArn.split(':').pop()}` }));
    const x = io();
    const code = await main(['replay-dlq', '--aws', '--dlq-arn', DLQ1, '--dlq-arn', DLQ2], x);
    expect(code).toBe(0);
    expect(sqs.commandCalls(StartMessageMoveTaskCommand).map((c) => c.args[0].input)).toEqual([
      { SourceArn: DLQ1 },
      { SourceArn: DLQ2 },
    ]);
    expect(x.out).toBe(
      `redrive started from ${DLQ1} (task h-Dualtrack-NormalizeDlq)\nredrive started from ${DLQ2} (task h-Dualtrack-EverflowFetchDlq)\n`,
    );
  });

  it('reports a failed redrive and exits 1; bad flags are usage errors naming the flag', async () => {
    sqs
      .on(StartMessageMoveTaskCommand)
      .rejects(Object.assign(new Error('There is already a task running'), { name: 'UnsupportedOperation' }));
    const x = io();
    expect(await main(['replay-dlq', '--aws', '--dlq-arn', DLQ1], x)).toBe(1);
    expect(x.out).toMatch(/redrive from .*NormalizeDlq failed: UnsupportedOperation: There is already a task running/);
    const y = io();
    expect(await main(['replay-dlq', '--aws'], y)).toBe(2);
    expect(y.err).toMatch(/^dualtrack replay-dlq: --aws needs at least one --dlq-arn/);
    const z = io();
    expect(await main(['replay-dlq', '--aws', '--dlq-arn', 'https://sqs.eu-west-1.amazonaws.com/1/q'], z)).toBe(2);
    expect(z.err).toMatch(/--dlq-arn https:\/\/sqs\.eu-west-1\.amazonaws\.com\/1\/q: not an SQS queue ARN/);
    const w = io();
    expect(await main(['replay-dlq', '--dlq'], w)).toBe(2);
    expect(w.err).toMatch(/unknown flag --dlq \(did you mean --dlq-arn\?\)/);
  });
});
