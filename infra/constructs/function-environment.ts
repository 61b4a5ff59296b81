import { Stack } from 'aws-cdk-lib';
import type { CfnFunction, Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { Config } from '#shared/config/schema.js';

/** Lambda's limit on a function's environment: all keys and values together (UTF-8 bytes). */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

/**
 * DUALTRACK_CONFIG_JSON: the validated config the app loaded, as the functions re-parse it
 * (functions/commons/config.ts). It holds no secrets (the file names env vars, never values).
 * `alerts.email` is left out: only the stack uses it (email subscriptions), and addresses are
 * personal data that anyone with lambda:GetFunctionConfiguration could otherwise read.
 */
export function lambdaConfigJson(config: Config): string {
  return JSON.stringify({ ...config, alerts: { ...config.alerts, email: [] } });
}

/**
 * What a CloudFormation value will weigh once deployed. Literal strings count as they are; a
 * reference is estimated at its worst realistic length (a queue URL or a secret ARN with its
 * random suffixes is ~110 characters; 128 leaves margin), pseudo parameters at their longest.
 */
export function estimateDeployedLength(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number' || typeof value === 'boolean') return String(value).length;
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (Array.isArray(o['Fn::Join'])) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return (
        parts.reduce<number>((n, p) => n + estimateDeployedLength(p), 0) + sep.length * Math.max(0, parts.length - 1)
      );
    }
    const ref = o.Ref;
    if (ref === 'AWS::Region') return 14;
    if (ref === 'AWS::AccountId') return 12;
    if (ref === 'AWS::Partition') return 10;
    if (ref === 'AWS::URLSuffix') return 16;
  }
  return 128;
}

/**
 * Fails synth (not the deploy, half an hour later) when a function's environment could exceed
 * Lambda's 4 KB. The big variable is DUALTRACK_CONFIG_JSON: a config with many platforms and long
 * overrides (HitPath column maps, rule thresholds) grows it; the error names the biggest variables.
 */
export function checkEnvironmentSize(fn: LambdaFunction, limit = LAMBDA_ENVIRONMENT_LIMIT_BYTES): void {
  fn.node.addValidation({
    validate: () => {
      const cfn = fn.node.defaultChild as CfnFunction;
      const resolved = Stack.of(fn).resolve(cfn.environment) as { variables?: Record<string, unknown> } | undefined;
      const sizes = Object.entries(resolved?.variables ?? {}).map(([k, v]) => ({
        k,
        bytes: k.length + estimateDeployedLength(v),
      }));
      const total = sizes.reduce((n, s) => n + s.bytes, 0);
      if (total <= limit) return [];
      const biggest = sizes
        .sort((a, b) => b.bytes - a.bytes)
        .slice(0, 3)
        .map((s) => `${s.k} ~${s.bytes} B`)
        .join(', ');
      return [
        `the environment of ${fn.node.path} may reach ~${total} bytes, over Lambda's ${limit}-byte limit (${biggest}). ` +
          'DUALTRACK_CONFIG_JSON is the config file after defaults: shorten it (fewer platforms per stack, shorter column maps or URLs).',
      ];
    },
  });
}
