/**
 * Database names (docs/design.md §4): `<prefix>_core`, `<prefix>_reporting` and one `<prefix>_<platform>`
 * per configured platform key. Identifiers are interpolated into SQL text (they cannot be bound),
 * so both parts are validated here to `[a-z][a-z0-9]*` and never come from untrusted input unchecked.
 */
export const IDENT = /^[a-z][a-z0-9]{0,19}$/;

export interface DbNames {
  prefix: string;
  core: string;
  reporting: string;
  platform(key: string): string;
  /** Every database of an install with these platforms: core, reporting, then one per platform. */
  all(platforms: readonly string[]): string[];
}

export function dbNames(prefix: string): DbNames {
  if (!IDENT.test(prefix)) throw new Error(`databases.prefix: must match ${IDENT} (got ${JSON.stringify(prefix)})`);
  return {
    prefix,
    core: `${prefix}_core`,
    reporting: `${prefix}_reporting`,
    platform(key: string) {
      if (!IDENT.test(key)) throw new Error(`platform key must match ${IDENT} (got ${JSON.stringify(key)})`);
      return `${prefix}_${key}`;
    },
    all(platforms) {
      return [this.core, this.reporting, ...platforms.map((p) => this.platform(p))];
    },
  };
}
