import { createHash } from 'node:crypto';
import type { DbNames } from './names.js';
import type { Db } from './port.js';

/**
 * The install's database users (docs/design.md §4). Only the schema migration connects as the
 * cluster's master user; everything else connects as one of two users it creates:
 * - the application user: SELECT, INSERT, UPDATE, DELETE on the install's databases (core and one
 *   per platform) and SELECT on the reporting views; no DDL, no GRANT, nothing outside the install;
 * - the read-only user: SELECT on the same databases (the daily digest, BI access).
 *
 * Passwords come from their own Secrets Manager secrets and are given to MySQL as their
 * `mysql_native_password` hash, so no password ever appears in a statement (statements can end up
 * in logs and audit trails). Re-running with the same secrets is a no-op; with a new password it
 * moves the user to it.
 */

export interface DbUser {
  username: string;
  password: string;
}

export interface InstallUsers {
  app: DbUser;
  read: DbUser;
}

const USERNAME = /^[a-z][a-z0-9_]{0,31}$/;

/** MySQL's `mysql_native_password` hash: `*` + upper-case hex SHA1(SHA1(password)). */
export function nativePasswordHash(password: string): string {
  const inner = createHash('sha1').update(password, 'utf8').digest();
  return `*${createHash('sha1').update(inner).digest('hex').toUpperCase()}`;
}

/** The statements that create (or update) both users and their grants; each user's name is validated. */
export function userStatements(names: DbNames, platforms: readonly string[], users: InstallUsers): string[] {
  for (const [role, u] of Object.entries(users))
    if (!USERNAME.test(u.username))
      throw new Error(`database ${role} user name ${JSON.stringify(u.username)} must match ${USERNAME}`);
  if (users.app.username === users.read.username) throw new Error('the application and read-only users must differ');
  const data = [names.core, ...platforms.map((p) => names.platform(p))];
  const out: string[] = [];
  for (const u of [users.app, users.read]) {
    const who = `'${u.username}'@'%'`;
    const auth = `IDENTIFIED WITH mysql_native_password AS '${nativePasswordHash(u.password)}'`;
    out.push(`CREATE USER IF NOT EXISTS ${who} ${auth}`, `ALTER USER ${who} ${auth}`);
  }
  const app = `'${users.app.username}'@'%'`;
  const read = `'${users.read.username}'@'%'`;
  for (const d of data) {
    out.push(`GRANT SELECT, INSERT, UPDATE, DELETE ON \`${d}\`.* TO ${app}`);
    out.push(`GRANT SELECT ON \`${d}\`.* TO ${read}`);
  }
  out.push(`GRANT SELECT ON \`${names.reporting}\`.* TO ${app}`, `GRANT SELECT ON \`${names.reporting}\`.* TO ${read}`);
  return out;
}

export async function ensureUsers(
  db: Db,
  names: DbNames,
  platforms: readonly string[],
  users: InstallUsers,
): Promise<void> {
  for (const sql of userStatements(names, platforms, users)) await db.execute(sql);
}
