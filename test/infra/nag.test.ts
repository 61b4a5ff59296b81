import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { DualtrackStack } from '../../infra/dualtrack-stack.js';
import { ConstructsFixtureStack, removeTestOutdirs, testApp, testConfig } from './fixtures/apps.js';

afterAll(removeTestOutdirs);

interface ValidationReport {
  pluginReports: {
    summary: { pluginName: string; status: string };
    violations: { ruleName: string; violatingResources: { resourceLogicalId: string }[] }[];
  }[];
}

/** Synthesizes with cdk-nag's AwsSolutions pack (v3 API); returns the rule ids that fired. */
function nagFindings(build: (app: ReturnType<typeof testApp>) => void, options: { cfnRules?: boolean } = {}): string[] {
  const app = testApp(options);
  build(app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  try {
    app.synth();
    return [];
  } catch (e) {
    if ((e as Error).name !== 'ValidationFailed') throw e;
    const report = JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8')) as ValidationReport;
    return report.pluginReports.flatMap((r) => r.violations.map((v) => v.ruleName));
  }
}

describe('cdk-nag AwsSolutions', () => {
  it('passes on the dualtrack stack: every remaining finding is acknowledged in code with a reason', () => {
    // With CDK's CloudFormation default-rules validation too, as `cdk synth` runs it (cdk.json flag).
    const findings = nagFindings((app) => new DualtrackStack(app, 'Dualtrack', { config: testConfig() }), {
      cfnRules: true,
    });
    expect(findings).toEqual([]);
  });

  it('passes with every platform kind and an imported platform secret (acknowledgements hold per construct, not per name)', () => {
    const config = testConfig({
      migration: {
        legacy: ['hitpath', 'cake', 'partnerize'],
        target: 'everflow',
        startDate: '2026-09-01',
        cutoverDate: '2026-10-15',
      },
      platforms: {
        everflow: { kind: 'everflow', baseUrl: 'https://api.eflow.team', apiKeyEnv: 'EVERFLOW_API_KEY' },
        hitpath: {
          kind: 'hitpath',
          baseUrl: 'https://reports.example.net/api.php',
          apiKeyEnv: 'HITPATH_API_KEY',
          timezone: 'America/New_York',
          secretName: 'acme/hitpath',
        },
        cake: {
          kind: 'cake',
          baseUrl: 'https://cake.example.net',
          apiKeyEnv: 'CAKE_API_KEY',
          timezone: 'America/Los_Angeles',
        },
        partnerize: {
          kind: 'partnerize',
          baseUrl: 'https://api.partnerize.com',
          apiKeyEnv: 'PZ_USER_KEY',
          applicationKeyEnv: 'PZ_APP_KEY',
          networkId: 'n1',
        },
      },
    });
    expect(nagFindings((app) => new DualtrackStack(app, 'AllKinds', { config }))).toEqual([]);
  });

  it('passes on the reusable constructs wired together (queue consumer, scheduled job, topics, alarms)', () => {
    const findings = nagFindings((app) => new ConstructsFixtureStack(app, 'Fixture'));
    expect(findings).toEqual([]);
  });

  it('fails synth on an unacknowledged finding (the check is live, not a no-op)', () => {
    const findings = nagFindings((app) => {
      const s = new Stack(app, 'Bare');
      new Queue(s, 'NoDlqNoSsl');
    });
    expect(findings).toEqual(
      expect.arrayContaining([expect.stringMatching(/AwsSolutions-SQS3/), expect.stringMatching(/AwsSolutions-SQS4/)]),
    );
  });
});
