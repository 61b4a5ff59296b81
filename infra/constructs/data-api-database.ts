import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CustomResource, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { IpAddresses, SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  AuroraMysqlEngineVersion,
  ClusterInstance,
  Credentials,
  DatabaseCluster,
  DatabaseClusterEngine,
  DatabaseSecret,
} from 'aws-cdk-lib/aws-rds';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Validations } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { IDENT } from '#shared/db/names.js';
import { REPO_ROOT, SQL_DIR, functionEntry } from '../paths.js';
import { DualtrackFunction } from './dualtrack-function.js';
import { assertNoProblems } from './props-error.js';

/**
 * Which database user a function connects as (shared/db/users.ts): `app` (DML on the install's
 * databases), `read` (SELECT only), `admin` (the cluster's master user: the schema migration only).
 */
export type DatabaseAccess = 'app' | 'read' | 'admin';

/** What a function needs to use the database through the Data API (see `DualtrackFunction.bindDatabase`). */
export interface IDataApiDatabase {
  readonly clusterArn: string;
  /** Database name prefix (`<prefix>_core`, `<prefix>_<platform>`, docs/design.md §4). */
  readonly prefix: string;
  /** The secret a function with this access connects with. */
  secretFor(access: DatabaseAccess): ISecret;
  /** Data API actions on the cluster and read on the one secret of `access`. */
  grantDataApiAccess(grantee: IGrantable, access: DatabaseAccess): Grant;
}

export interface DataApiDatabaseProps {
  /** Database name prefix from the config (`databases.prefix`). */
  readonly prefix: string;
  /** Platform keys from the config: one `<prefix>_<key>` database each, created by the migration. */
  readonly platforms: readonly string[];
  /**
   * The config's `baseCurrency`: the reporting views convert amounts into it through fx_rates.
   * @default 'USD'
   */
  readonly baseCurrency?: string;
  /**
   * Aurora MySQL engine version. Must be ≥ 3.08: the Data API needs ≥ 3.07 and scale-to-zero
   * (min 0 ACU, auto-pause) needs ≥ 3.08 (docs/aws-limits.md §1.1, §1.2).
   * @default AuroraMysqlEngineVersion.VER_3_10_3
   */
  readonly engineVersion?: AuroraMysqlEngineVersion;
  /**
   * Serverless v2 maximum capacity in ACUs (0.5 steps, 1–256).
   * @default 4
   */
  readonly maxCapacity?: number;
  /**
   * Idle time after which the writer pauses (0 ACU, storage cost only). 5 min–24 h. The first
   * Data API call after a pause gets `DatabaseResumingException` for ~15 s; the adapter retries.
   * @default Duration.minutes(5)
   */
  readonly autoPauseAfter?: Duration;
  /**
   * CloudFormation refuses to delete the cluster while set.
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * What happens to the cluster when it leaves the stack.
   * @default RemovalPolicy.SNAPSHOT (a final snapshot: the data outlives the stack)
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Automated backup retention (point-in-time restore window), 1–35 days.
   * @default Duration.days(7)
   */
  readonly backupRetention?: Duration;
  /**
   * Retention of the schema-migration function's logs.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
}

/** The default engine: 3.10 is a long-term-support line of Aurora MySQL 3 (MySQL 8.0). */
export const DEFAULT_ENGINE_VERSION = AuroraMysqlEngineVersion.VER_3_10_3;

/** Where the migration function finds the `sql/` tree copied next to its bundle. */
export const LAMBDA_SQL_DIR = '/var/task/sql';

/**
 * Aurora MySQL Serverless v2 reached only through the RDS Data API (docs/design.md §1, §4):
 * - a VPC with isolated subnets only (no NAT, no internet gateway): nothing in the VPC but the
 *   cluster, and no client connects over the network — Lambdas use the Data API's HTTPS endpoint;
 * - one serverless v2 writer that scales to 0 ACU and auto-pauses;
 * - an RDS-managed master secret (rotated by RDS), used by the schema migration alone, which
 *   creates the application and read-only users every other function connects as; storage
 *   encrypted;
 * - a custom resource that runs `migrate()` (shared/db/migrate.ts) through the Data API whenever
 *   the schema inputs change: the `sql/` tree, the migrator's own sources, the prefix or the
 *   platform list (their hash is the `Fingerprint` property). A content hash, not a timestamp,
 *   keeps synth deterministic (`cdk diff` shows a migration exactly when one can do something);
 *   `migrate()` is idempotent, so a re-run on an unchanged schema is harmless either way.
 */
export class DataApiDatabase extends Construct implements IDataApiDatabase {
  readonly vpc: Vpc;
  readonly cluster: DatabaseCluster;
  /** The master user's secret: the schema migration alone reads it. */
  readonly secret: ISecret;
  /** The application user's secret (DML) and the read-only user's. */
  readonly appSecret: DatabaseSecret;
  readonly readSecret: DatabaseSecret;
  readonly prefix: string;
  readonly platforms: readonly string[];
  readonly migrateFunction: DualtrackFunction;
  readonly migration: CustomResource;

  constructor(scope: Construct, id: string, props: DataApiDatabaseProps) {
    super(scope, id);
    const engineVersion = props.engineVersion ?? DEFAULT_ENGINE_VERSION;
    const maxCapacity = props.maxCapacity ?? 4;
    const autoPauseAfter = props.autoPauseAfter ?? Duration.minutes(5);
    const backupRetention = props.backupRetention ?? Duration.days(7);
    validateProps(id, props, engineVersion, maxCapacity, autoPauseAfter, backupRetention);
    this.prefix = props.prefix;
    this.platforms = [...props.platforms];

    this.vpc = new Vpc(this, 'Vpc', {
      ipAddresses: IpAddresses.cidr('10.80.0.0/20'),
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'db', subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
    });
    Validations.of(this.vpc).acknowledge({
      id: 'AwsSolutions-VPC7',
      reason:
        'The VPC holds only the Aurora cluster in isolated subnets; no client connects over the network (Lambdas use the RDS Data API), so flow logs would record nothing useful and cost a log group per deploy.',
    });

    this.cluster = new DatabaseCluster(this, 'Cluster', {
      engine: DatabaseClusterEngine.auroraMysql({ version: engineVersion }),
      writer: ClusterInstance.serverlessV2('writer', { autoMinorVersionUpgrade: true }),
      serverlessV2MinCapacity: 0,
      serverlessV2MaxCapacity: maxCapacity,
      serverlessV2AutoPauseDuration: autoPauseAfter,
      vpc: this.vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
      // RDS creates, stores and rotates the master password in Secrets Manager (the Data API reads
      // the secret's username and password like any other); no rotation Lambda, no VPC path.
      credentials: Credentials.fromUsername('dtadmin'),
      manageMasterUserPassword: true,
      enableDataApi: true,
      storageEncrypted: true,
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.SNAPSHOT,
      backup: { retention: backupRetention },
      cloudwatchLogsExports: ['error', 'slowquery'],
      cloudwatchLogsRetention: RetentionDays.ONE_MONTH,
    });
    if (!this.cluster.secret) throw new Error('DataApiDatabase: the cluster has no master secret');
    this.secret = this.cluster.secret;
    acknowledgeClusterFindings(this.cluster);
    // The users the migration creates (shared/db/users.ts); CDK generates their passwords without
    // quotes or backslashes. Rotation would need a VPC path this stack does not have (see SMG4).
    this.appSecret = new DatabaseSecret(this, 'AppUserSecret', { username: `${props.prefix}_app` });
    this.readSecret = new DatabaseSecret(this, 'ReadUserSecret', { username: `${props.prefix}_read` });
    for (const s of [this.appSecret, this.readSecret])
      Validations.of(s).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'Rotation needs a rotation Lambda with a network path to the cluster; the VPC is isolated on purpose. Re-deploying with a new secret value moves the user to it (the migration runs ALTER USER).',
      });

    this.migrateFunction = new DualtrackFunction(this, 'MigrateSchema', {
      entry: functionEntry('migrate-schema'),
      description: 'Creates or upgrades the dualtrack databases (sql/) through the RDS Data API on deploy',
      serviceName: 'dualtrack-migrate-schema',
      // Many DDL statements, one Data API call each, possibly after a ~15 s resume from pause.
      timeout: Duration.minutes(10),
      logRetention: props.logRetention,
      environment: { DUALTRACK_SQL_DIR: LAMBDA_SQL_DIR },
      bundling: {
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          // loadMigrationFiles() reads sql/core and sql/platform at run time: ship the tree.
          afterBundling: (inputDir: string, outputDir: string) => [
            `cp -R "${join(inputDir, 'sql')}" "${join(outputDir, 'sql')}"`,
          ],
        },
      },
    });
    this.migrateFunction.bindDatabase(this, 'admin');
    // It sets the users' passwords from their secrets.
    this.appSecret.grantRead(this.migrateFunction);
    this.readSecret.grantRead(this.migrateFunction);

    const provider = new Provider(this, 'MigrateProvider', {
      onEventHandler: this.migrateFunction,
      logGroup: new LogGroup(this, 'MigrateProviderLogs', {
        retention: props.logRetention ?? RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    Validations.of(provider).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        "The custom-resource Provider framework's own function (CDK's code) comes with Lambda's basic execution role.",
    });
    Validations.of(provider).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.migrateFunction.node.defaultChild as CfnFunction)}.Arn>:*]`,
      reason:
        'The Provider framework invokes the migration function by ARN and any of its versions/aliases (ARN:*), as CDK grants it.',
    });
    this.migration = new CustomResource(this, 'Schema', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::DualtrackSchema',
      properties: {
        Prefix: this.prefix,
        Platforms: this.platforms,
        BaseCurrency: props.baseCurrency ?? 'USD',
        Fingerprint: schemaFingerprint(this.prefix, this.platforms, undefined, props.baseCurrency ?? 'USD'),
        AppUserSecretArn: this.appSecret.secretArn,
        ReadUserSecretArn: this.readSecret.secretArn,
      },
    });
    // The writer instance must be up before the Data API can run anything.
    this.migration.node.addDependency(this.cluster);
  }

  get clusterArn(): string {
    return this.cluster.clusterArn;
  }

  secretFor(access: DatabaseAccess): ISecret {
    return access === 'admin' ? this.secret : access === 'app' ? this.appSecret : this.readSecret;
  }

  grantDataApiAccess(grantee: IGrantable, access: DatabaseAccess): Grant {
    const grant = Grant.addToPrincipal({
      grantee,
      actions: [
        'rds-data:BatchExecuteStatement',
        'rds-data:BeginTransaction',
        'rds-data:CommitTransaction',
        'rds-data:ExecuteStatement',
        'rds-data:RollbackTransaction',
      ],
      resourceArns: [this.cluster.clusterArn],
    });
    this.secretFor(access).grantRead(grantee);
    return grant;
  }
}

/** The schema inputs that make a migration worth running: sql/, the migrator's sources, prefix, platforms. */
export function schemaFingerprint(
  prefix: string,
  platforms: readonly string[],
  sqlDir = SQL_DIR,
  baseCurrency = 'USD',
): string {
  const h = createHash('sha256');
  h.update(
    JSON.stringify({ prefix, platforms: [...platforms].sort(), ...(baseCurrency === 'USD' ? {} : { baseCurrency }) }),
  );
  const files = [
    ...listFiles(sqlDir),
    ...['migrate.ts', 'views.ts', 'params.ts', 'names.ts'].map((f) => join(REPO_ROOT, 'shared', 'db', f)),
  ];
  for (const f of files) {
    h.update(`\0${relative(REPO_ROOT, f)}\0`);
    h.update(readFileSync(f));
  }
  return h.digest('hex');
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Minor version of `8.0.mysql_aurora.3.MM.P` as 3.MM → e.g. 310 for 3.10; undefined when unparseable. */
function auroraMinor(v: AuroraMysqlEngineVersion): number | undefined {
  const m = /mysql_aurora\.(\d+)\.(\d+)\./.exec(v.auroraMysqlFullVersion);
  return m ? Number(m[1]) * 100 + Number(m[2]) : undefined;
}

function validateProps(
  id: string,
  props: DataApiDatabaseProps,
  engine: AuroraMysqlEngineVersion,
  maxCapacity: number,
  autoPause: Duration,
  backup: Duration,
): void {
  const problems: string[] = [];
  if (!IDENT.test(props.prefix)) problems.push(`prefix must match ${IDENT} (got ${JSON.stringify(props.prefix)})`);
  if (props.platforms.length === 0) problems.push('platforms must name at least one platform');
  for (const [i, p] of props.platforms.entries())
    if (!IDENT.test(p)) problems.push(`platforms[${i}] must match ${IDENT} (got ${JSON.stringify(p)})`);
  if (new Set(props.platforms).size !== props.platforms.length) problems.push('platforms has duplicates');
  const minor = auroraMinor(engine);
  if (minor === undefined || minor < 308)
    problems.push(
      `engineVersion must be Aurora MySQL 3.08 or newer for Data API + scale to zero (got ${engine.auroraMysqlFullVersion})`,
    );
  if (
    !Token.isUnresolved(maxCapacity) &&
    (maxCapacity < 1 || maxCapacity > 256 || maxCapacity * 2 !== Math.round(maxCapacity * 2))
  )
    problems.push(`maxCapacity must be 1–256 ACUs in 0.5 steps (got ${maxCapacity})`);
  const pause = autoPause.toSeconds();
  if (pause < 300 || pause > 86_400) problems.push(`autoPauseAfter must be 5 min–24 h (got ${pause} s)`);
  const days = backup.toDays();
  if (days < 1 || days > 35) problems.push(`backupRetention must be 1–35 days (got ${days})`);
  assertNoProblems('DataApiDatabase', id, problems);
}

function acknowledgeClusterFindings(cluster: DatabaseCluster): void {
  const v = Validations.of(cluster);
  v.acknowledge({
    id: 'AwsSolutions-RDS6',
    reason:
      'Clients never connect to MySQL directly: every query goes through the RDS Data API, which authenticates with IAM (rds-data:* on the cluster) plus the Secrets Manager secret; IAM database authentication would add nothing.',
  });
  v.acknowledge({
    id: 'AwsSolutions-RDS11',
    reason:
      'The cluster sits in isolated subnets with no client in the VPC and is reached only through the Data API; a non-default port would not hide it from anything.',
  });
  v.acknowledge({
    id: 'AwsSolutions-RDS14',
    reason:
      'Recovery relies on automated backups with point-in-time restore (backupRetention); Backtrack bills per change record and rewinds the whole cluster, which the upsert-only pipeline does not need.',
  });
  // No SMG4 here: RDS rotates the master secret it manages.
  // cloudwatchLogsRetention is applied by CDK's stack-wide LogRetention singleton function.
  const logRetention = Stack.of(cluster).node.tryFindChild('LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a');
  if (logRetention) {
    Validations.of(logRetention).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        "CDK's LogRetention singleton (sets the retention of the cluster's exported log groups, which RDS creates itself) comes with Lambda's basic execution role; its code and role are CDK's, not ours.",
    });
    Validations.of(logRetention).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        "CDK's LogRetention singleton must put retention policies on log groups RDS names at run time (/aws/rds/cluster/<id>/…), so CDK scopes its policy to *.",
    });
  }
}
