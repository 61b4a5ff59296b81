import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { SQL_DIR, loadMigrationFiles, migrate } from '#shared/db/migrate.js';
import { type DbUser, ensureUsers } from '#shared/db/users.js';
import { IDENT, dbNames } from '#shared/db/names.js';
import type { Db } from '#shared/db/port.js';
import type { Logger } from '#shared/util/logger.js';
import { secretsManagerClient } from './commons/clients.js';
import { dataApiDbFromEnv } from './commons/database.js';
import { domainLogger, logger } from './commons/powertools.js';

/**
 * Custom resource `Custom::DualtrackSchema` (onEvent of a CDK Provider): Create and Update run
 * `migrate()` through the RDS Data API; Delete does nothing — the databases hold the network's
 * data and outlive the resource (the cluster's removal policy decides their fate).
 *
 * Properties: `Prefix` (databases.prefix), `Platforms` (platform keys), `Fingerprint` (hash of
 * the schema inputs; only there so CloudFormation sends an Update when they change), and
 * `AppUserSecretArn` / `ReadUserSecretArn`: the secrets (`{username, password}`) of the
 * application and read-only users it creates and grants after migrating (shared/db/users.ts).
 * This function alone connects as the master user.
 * The migration files ship next to the bundle (`DUALTRACK_SQL_DIR`, set by DataApiDatabase).
 */

/** What the Provider framework expects from onEvent. */
export interface OnEventResponse {
  PhysicalResourceId: string;
  Data?: Record<string, string | number>;
}

export class SchemaResourcePropertiesError extends Error {
  constructor(readonly problems: string[]) {
    super(`Custom::DualtrackSchema properties: ${problems.join('; ')}`);
    this.name = 'SchemaResourcePropertiesError';
  }
}

// zod/mini: the full zod build would be most of this bundle (docs/toolchain.md, Bundles).
const identifier = z.string().check(z.regex(IDENT, `must match ${IDENT}`));
const propertiesSchema = z.object({
  Prefix: identifier,
  Platforms: z.array(identifier).check(z.minLength(1, 'must name at least one platform')),
  Fingerprint: z.optional(z.string()),
  /** The config's baseCurrency: the reporting views convert amounts into it (default USD). */
  BaseCurrency: z.optional(z.string().check(z.regex(/^[A-Z]{3}$/))),
  AppUserSecretArn: z.optional(z.string().check(z.minLength(1))),
  ReadUserSecretArn: z.optional(z.string().check(z.minLength(1))),
});
export type SchemaResourceProperties = z.infer<typeof propertiesSchema>;

export function parseProperties(input: unknown): SchemaResourceProperties {
  const result = propertiesSchema.safeParse(input);
  if (!result.success)
    throw new SchemaResourcePropertiesError(
      result.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`),
    );
  return result.data;
}

export interface MigrateSchemaDeps {
  /** Opens the database (the Data API adapter in Lambda); closed after each migration. */
  openDb: () => Db;
  /** Directory holding `core/` and `platform/` migration files. */
  sqlDir: string;
  logger: Logger;
  /** Reads a database user's secret (`{username, password}` JSON) by ARN. */
  userSecret?: (arn: string) => Promise<DbUser>;
}

const userSecretSchema = z.object({ username: z.string(), password: z.string().check(z.minLength(12)) });

/** A user secret from Secrets Manager: `{username, password}` (what CDK's DatabaseSecret generates). */
export async function userSecretFromSecretsManager(arn: string): Promise<DbUser> {
  const r = await secretsManagerClient.send(new GetSecretValueCommand({ SecretId: arn }));
  let json: unknown;
  try {
    json = JSON.parse(r.SecretString ?? '');
  } catch {
    throw new Error(`database user secret ${arn} is not JSON`);
  }
  const parsed = userSecretSchema.safeParse(json);
  if (!parsed.success) throw new Error(`database user secret ${arn} needs a username and a password of 12+ characters`);
  return parsed.data;
}

export function createOnEvent(deps: MigrateSchemaDeps) {
  return async function onEvent(event: CloudFormationCustomResourceEvent): Promise<OnEventResponse> {
    if (event.RequestType === 'Delete') {
      // Never fail a delete over properties: a failed delete blocks the stack's rollback/removal.
      deps.logger.info('schema resource removed; databases left in place', {
        physicalResourceId: event.PhysicalResourceId,
      });
      return { PhysicalResourceId: event.PhysicalResourceId };
    }
    const props = parseProperties(event.ResourceProperties);
    const files = loadMigrationFiles(deps.sqlDir);
    const db = deps.openDb();
    try {
      const result = await migrate(db, dbNames(props.Prefix), props.Platforms, {
        logger: deps.logger,
        files,
        baseCurrency: props.BaseCurrency,
      });
      let users = false;
      if (props.AppUserSecretArn && props.ReadUserSecretArn) {
        const read = deps.userSecret ?? userSecretFromSecretsManager;
        await ensureUsers(db, dbNames(props.Prefix), props.Platforms, {
          app: await read(props.AppUserSecretArn),
          read: await read(props.ReadUserSecretArn),
        });
        users = true;
      }
      deps.logger.info('schema migrated', {
        users,
        requestType: event.RequestType,
        prefix: props.Prefix,
        platforms: props.Platforms,
        created: result.created,
        applied: result.applied.length,
        views: result.views,
      });
      return {
        // One physical resource per prefix: a prefix change makes CloudFormation create a new
        // resource (migrating the new databases) and delete the old one (a no-op above).
        PhysicalResourceId: `dualtrack-schema-${props.Prefix}`,
        Data: { Created: result.created.length, Applied: result.applied.length, Views: result.views },
      };
    } finally {
      await db.close();
    }
  };
}

export const handler = middy<CloudFormationCustomResourceEvent, OnEventResponse>()
  .use(injectLambdaContext(logger))
  .handler(
    createOnEvent({
      // Deploy-time: allow for a paused writer resuming (≈15 s) with a generous margin.
      openDb: () => dataApiDbFromEnv({ resumeTimeoutMs: 180_000 }),
      sqlDir: process.env.DUALTRACK_SQL_DIR ?? SQL_DIR,
      logger: domainLogger,
    }),
  );
