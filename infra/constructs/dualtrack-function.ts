import { Duration, RemovalPolicy, Token, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import {
  NodejsFunction,
  OutputFormat,
  type BundlingOptions,
  type NodejsFunctionProps,
} from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { LOCK_FILE, REPO_ROOT } from '../paths.js';
import type { DatabaseAccess, IDataApiDatabase } from './data-api-database.js';
import { assertNoProblems } from './props-error.js';

/**
 * Every Lambda of dualtrack, with the org defaults in one place (docs/style.md, Powertools example app):
 * - Node.js 22 on arm64 (Graviton: cheaper per GB-second; no native dependencies here);
 * - one minified **ESM** file with the AWS SDK bundled (`externalModules: []`): @middy/core 6 is
 *   ESM-only, `shared/db/migrate.ts` reads `import.meta.url` at load (undefined in a CJS bundle),
 *   and bundling the SDK pins its version and avoids runtime module resolution on cold start
 *   (docs/aws-limits.md §8). The `createRequire` banner lets bundled CJS dependencies `require()` Node
 *   built-ins, which esbuild cannot turn into imports in ESM output;
 * - source maps (`NODE_OPTIONS=--enable-source-maps`) without embedded sources, so stack traces
 *   name `shared/…` files and lines while the zip stays small;
 * - an explicit log group with a retention (Lambda's implicit one keeps logs forever);
 * - Powertools environment (`POWERTOOLS_SERVICE_NAME`, metrics namespace `dualtrack`).
 *
 * Anything in `props` overrides the defaults; `bundling` is merged key by key.
 */
export interface DualtrackFunctionProps
  extends Omit<NodejsFunctionProps, 'runtime' | 'architecture' | 'logGroup' | 'logRetention'> {
  /** The handler's entry file, `functions/<verb-noun>.ts` (see `functionEntry`). */
  readonly entry: string;
  /**
   * Powertools service name (`POWERTOOLS_SERVICE_NAME`): the `service` key of every log line and
   * the `service` dimension of every metric.
   * @default 'dualtrack'
   */
  readonly serviceName?: string;
  /**
   * How long the function's logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the log group when the function is removed from the stack.
   * @default RemovalPolicy.RETAIN (CloudWatch's default; the retention still expires old events)
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Function timeout. DB-bound functions need ≥ 60 s: an auto-paused Aurora Serverless v2 writer
   * takes about 15 s to resume (docs/aws-limits.md §13).
   * @default Duration.seconds(60)
   */
  readonly timeout?: Duration;
  /**
   * Memory in MB (CPU scales with it).
   * @default 512
   */
  readonly memorySize?: number;
}

/** The Powertools metrics namespace of every dualtrack function. */
export const METRICS_NAMESPACE = 'dualtrack';

/**
 * Lets bundled CommonJS code `require()` Node built-ins inside an ESM bundle (esbuild emits a
 * `__require` shim that throws "Dynamic require … is not supported" without it).
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __dtCreateRequire } from 'node:module'; const require = __dtCreateRequire(import.meta.url);";

export const DEFAULT_BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  target: 'node22',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  keepNames: true,
  mainFields: ['module', 'main'],
  bundleAwsSDK: true,
  externalModules: [],
  banner: ESM_REQUIRE_BANNER,
};

export class DualtrackFunction extends NodejsFunction {
  readonly serviceName: string;

  constructor(scope: Construct, id: string, props: DualtrackFunctionProps) {
    validateProps(id, props);
    const serviceName = props.serviceName ?? 'dualtrack';
    const { serviceName: _s, logRetention, logRemovalPolicy, bundling, environment, ...rest } = props;
    // The log group is created under the caller's scope (not `this`, which does not exist yet)
    // and named by the function id, so two functions never share one.
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    // An own role whose only policy writes to this function's log group, instead of Lambda's
    // default role with the AWS-managed AWSLambdaBasicExecutionRole (logs on every group; cdk-nag IAM4).
    const role = rest.role ?? new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    if (!rest.role) logGroup.grantWrite(role);
    super(scope, id, {
      role,
      timeout: Duration.seconds(60),
      memorySize: 512,
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      ...rest,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      logGroup,
      bundling: { ...DEFAULT_BUNDLING, ...bundling },
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...environment,
      },
    });
    this.serviceName = serviceName;
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 on purpose: the version the code is tested with (middy 6, Powertools 2, AWS SDK v3 all support it; Lambda supports it into 2027). Moving to nodejs24.x is one line in DualtrackFunction once CI runs Node 24.',
    });
  }

  /**
   * Grants this function the RDS Data API on the cluster (and read on its secret) and sets the
   * environment `createDataApiDb` needs: `DB_CLUSTER_ARN`, `DB_SECRET_ARN`, `DT_DB_PREFIX`.
   */
  /** Data API access as one database user (`app`, `read`, or `admin` for the migration): its secret only. */
  bindDatabase(db: IDataApiDatabase, access: DatabaseAccess): this {
    db.grantDataApiAccess(this, access);
    this.addEnvironment('DB_CLUSTER_ARN', db.clusterArn);
    this.addEnvironment('DB_SECRET_ARN', db.secretFor(access).secretArn);
    this.addEnvironment('DT_DB_PREFIX', db.prefix);
    return this;
  }
}

function validateProps(id: string, props: DualtrackFunctionProps): void {
  const problems: string[] = [];
  if (!/\.(ts|mts|js|mjs)$/.test(props.entry))
    problems.push(`entry must be a .ts/.mts/.js/.mjs file (got ${props.entry})`);
  if (props.serviceName !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(props.serviceName))
    problems.push(
      `serviceName must be 1–128 letters, digits, '.', '_' or '-' (got ${JSON.stringify(props.serviceName)})`,
    );
  const t = props.timeout;
  if (t && !Token.isUnresolved(t.toSeconds()) && (t.toSeconds() < 1 || t.toSeconds() > 900))
    problems.push(`timeout must be 1 s–15 min (got ${t.toSeconds()} s)`);
  if (props.bundling?.format === OutputFormat.CJS)
    problems.push('bundling.format CJS is not supported: @middy/core 6 is ESM-only and shared/ reads import.meta.url');
  assertNoProblems('DualtrackFunction', id, problems);
}
