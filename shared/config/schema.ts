import * as z from 'zod';
import { IDENT } from '../db/names.js';

/**
 * The config file of docs/design.md §8, validated by zod. Unknown keys are errors (strict objects), and
 * every problem is reported at once with its path (see `loadConfig`). Secrets are never here: the
 * file names the environment variables (or, in AWS, the Secrets Manager secrets) that hold them.
 */

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD')
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)), 'not a calendar date');

export function isIanaZone(zone: string): boolean {
  if (zone === 'UTC') return true;
  try {
    const supported = Intl.supportedValuesOf('timeZone');
    if (supported.includes(zone)) return true;
    // Aliases (e.g. "Asia/Calcutta") are valid IANA names absent from the canonical list; accept what
    // ICU resolves, but only in Area/Location form, so POSIX-style strings like "EST5" are refused.
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return /^[A-Za-z_]+\/[A-Za-z0-9_+\-/]+$/.test(zone);
  } catch {
    return false;
  }
}

const ianaZone = z.string().superRefine((s, ctx) => {
  if (!isIanaZone(s)) ctx.addIssue({ code: 'custom', message: `invalid IANA zone ${JSON.stringify(s)}` });
});
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name (A-Z, 0-9, _)');
const positive = z.number().positive();

const rateLimit = z.strictObject({
  /** Requests allowed per `perSeconds`, shared by every worker. */
  requests: z.number().int().positive(),
  perSeconds: positive,
});

/** Loopback hosts (the simulators, a local tunnel): the only ones plain http is allowed for. */
const isLoopback = (host: string) =>
  host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

/** An API's address: https, since every request carries the platform's API key (HitPath's in the query string). */
const apiUrl = z.url().refine((u) => {
  const url = new URL(u);
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname));
}, 'expected an https:// address (http:// only for a loopback host such as 127.0.0.1): the API key travels with every request');

/** Keys whose database name (`<prefix>_<key>`) the install itself uses. */
export const RESERVED_PLATFORM_KEYS: readonly string[] = ['core', 'reporting'];

/** Hours a scheduled pull re-reads behind its watermark (0–45 days). */
const lookback = z
  .number()
  .int()
  .min(0)
  .max(24 * 45);

const platformCommon = {
  baseUrl: apiUrl,
  /** How often the scheduler fetches this platform. */
  scheduleMinutes: z.number().int().min(1).max(1440).default(60),
  /**
   * Slices fetched at once (the fetch workers' concurrency; every call still shares the platform's
   * rate budget). Default by platform: Everflow 5, HitPath 2, CAKE 4, Partnerize 3.
   */
  concurrency: z.number().int().min(1).max(50).optional(),
  /**
   * How far behind now a scheduled run reads at most, in days (default 7). A watermark further
   * back leaves a gap that the run records (stale-source reports it) for a backfill to load.
   */
  maxBehindDays: z.number().int().min(1).max(365).default(7),
  /**
   * Trailing window re-read on every pull (docs/design.md §3): a number is the conversions'
   * lookback (status and payout changes are caught); clicks never change once recorded and re-read
   * only `min(number, 2)` hours, for rows that arrive late. Per stream: `{"conversions": 72,
   * "conversion_changes": 72, "clicks": 2}`.
   */
  lookbackHours: z
    .union([
      lookback,
      z.strictObject({
        conversions: lookback.optional(),
        conversion_changes: lookback.optional(),
        clicks: lookback.optional(),
      }),
    ])
    .default(72),
  /** Overrides the platform's documented limit (only for simulators or a negotiated higher limit). */
  rateLimit: rateLimit.optional(),
  /** In AWS: the Secrets Manager secret holding the key (the stack creates one per platform when absent). */
  secretName: z.string().min(1).optional(),
  /**
   * A fixed slice length in hours per stream, overriding the planner (which makes slices as long as
   * the platform allows and shortens them from the ledger's recent density, docs/design.md §3).
   * The connectors still size their calls and split a reply that hits a cap.
   */
  sliceHours: z
    .strictObject({
      conversions: z
        .number()
        .int()
        .min(1)
        .max(24 * 14),
      conversion_changes: z
        .number()
        .int()
        .min(1)
        .max(24 * 14),
      clicks: z
        .number()
        .int()
        .min(1)
        .max(24 * 14),
    })
    .partial()
    .optional(),
};

export const HITPATH_DEFAULT_COLUMNS = {
  click_id: 'hitid',
  clicked_at: 'date',
  converted_at: 'saledate',
  offer_id: 'campaignid',
  affiliate_id: 'affiliateid',
  sub1: 'c1',
  sub2: 'c2',
  sub3: 'c3',
  ip: 'ip',
  order_id: 'transid',
  revenue: 'amount',
  payout: 'payout',
  status: 'status',
  event_name: 'event',
} as const;
export type HitpathColumnKey = keyof typeof HITPATH_DEFAULT_COLUMNS;
/** Columns a deployment may map that have no default header (HitPath's vocabulary has no "unique" flag; absent → every click unique). */
export const HITPATH_OPTIONAL_COLUMNS = ['is_unique'] as const;
export type HitpathOptionalColumnKey = (typeof HITPATH_OPTIONAL_COLUMNS)[number];

const hitpathColumns = z.strictObject(
  Object.fromEntries(
    [...Object.keys(HITPATH_DEFAULT_COLUMNS), ...HITPATH_OPTIONAL_COLUMNS].map((k) => [
      k,
      z.string().min(1).optional(),
    ]),
  ) as Record<HitpathColumnKey | HitpathOptionalColumnKey, z.ZodOptional<z.ZodString>>,
);

export const platformSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('everflow'), ...platformCommon, apiKeyEnv: envName }),
  z.strictObject({
    kind: z.literal('hitpath'),
    ...platformCommon,
    apiKeyEnv: envName,
    timezone: ianaZone,
    format: z.enum(['csv', 'xml']).default('csv'),
    /** Header names in this instance's report, overriding docs/design.md's defaults column by column. */
    columns: hitpathColumns.default({}),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/)
      .default('USD'),
  }),
  z.strictObject({
    kind: z.literal('cake'),
    ...platformCommon,
    apiKeyEnv: envName,
    timezone: ianaZone,
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/)
      .default('USD'),
  }),
  z.strictObject({
    kind: z.literal('partnerize'),
    ...platformCommon,
    /** Env var holding the user API key (Basic auth password); the application key goes in `applicationKeyEnv`. */
    apiKeyEnv: envName,
    applicationKeyEnv: envName,
    /** Partnerize network id, used in report paths. */
    networkId: z.string().min(1),
    timezone: ianaZone.default('UTC'),
  }),
]);
export type PlatformConfig = z.infer<typeof platformSchema>;

const severity = z.enum(['critical', 'warning', 'info']);
export type Severity = z.infer<typeof severity>;

const ruleCommonWith = (resolveAfterHours: number) => ({
  enabled: z.boolean().default(true),
  severity: severity.optional(),
  /** Re-notify an alert that keeps firing after this many hours (0: never). */
  repeatHours: z.number().min(0).default(24),
  /**
   * An open alert resolves only once the rule has not found it for this many hours (0: at the
   * first evaluation without it). Statistical rules sit near their significance edge and would
   * otherwise flap open/resolved from one evaluation to the next.
   */
  resolveAfterHours: z.number().min(0).default(resolveAfterHours),
});
const ruleCommon = ruleCommonWith(0);

/** Thresholds per rule (docs/design.md §6 defaults). */
export const rulesSchema = z
  .strictObject({
    'cross-platform-duplicate': z
      .strictObject({
        ...ruleCommon,
        ipWindowMinutes: positive.default(10),
        maxLookbackDays: z.number().int().min(1).max(90).default(90),
      })
      .prefault({}),
    'dual-running': z
      .strictObject({
        ...ruleCommon,
        /** Hours after an affiliate's first target click on an offer that belong to its switch (not dual running). */
        minOverlapHours: z.number().int().min(1).max(720).default(36),
        /** Clicks on each side after that grace period, summed over the affiliate's overlapping offers. */
        minClicks: z.number().int().min(1).default(20),
        /** Legacy share of both sides' clicks after the grace period (a tail of old links stays below). */
        minLegacyShare: z.number().min(0).max(1).default(0.1),
        maxLookbackDays: z.number().int().min(1).max(90).default(90),
      })
      .prefault({}),
    'platform-duplicate': z
      .strictObject({ ...ruleCommon, maxLookbackDays: z.number().int().min(1).max(90).default(90) })
      .prefault({}),
    'conversion-rate-discrepancy': z
      .strictObject({
        ...ruleCommonWith(24),
        windowDays: z.number().int().min(1).max(90).default(14),
        relativeTolerance: positive.default(0.1),
        pValue: z.number().gt(0).lt(1).default(0.01),
        minClicks: z.number().int().min(1).default(500),
        minConversions: z.number().int().min(0).default(20),
      })
      .prefault({}),
    'revenue-discrepancy': z
      .strictObject({
        ...ruleCommonWith(24),
        days: z.number().int().min(1).max(30).default(7),
        baselineWeeks: z.number().int().min(2).max(12).default(4),
        minDrop: z.number().gt(0).lt(1).default(0.3),
        pValue: z.number().gt(0).lt(1).default(0.01),
      })
      .prefault({}),
    'tracking-outage': z
      .strictObject({
        ...ruleCommon,
        minHours: z.number().int().min(1).default(6),
        baselineWeeks: z.number().int().min(1).max(12).default(4),
        pValue: z.number().gt(0).lt(1).default(0.001),
        perAffiliate: z.boolean().default(true),
        minBaselineConversions: z.number().int().min(1).default(20),
      })
      .prefault({}),
    'stale-source': z.strictObject({ ...ruleCommon, scheduleFactor: positive.default(2) }).prefault({}),
    'migration-lagging-partner': z.strictObject({ ...ruleCommon }).prefault({}),
    'legacy-traffic-after-cutover': z
      .strictObject({ ...ruleCommon, minConversions: z.number().int().min(1).default(1) })
      .prefault({}),
  })
  .prefault({});
export type RulesConfig = z.infer<typeof rulesSchema>;
export type RuleId = keyof RulesConfig;

const waves = z.strictObject({
  /** Tier boundaries as shares of affiliates ranked by legacy revenue (default thirds). */
  shares: z
    .array(z.number().gt(0).lte(1))
    .min(1)
    .default([1 / 3, 1 / 3, 1 / 3]),
  /** Days after startDate each tier is due on the target (same length as `shares`). */
  dueDays: z.array(z.number().int().min(0)).min(1).default([7, 14, 21]),
});

export const configSchema = z
  .strictObject({
    baseCurrency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code like "USD"')
      .default('USD'),
    databases: z
      .strictObject({
        prefix: z
          .string()
          .regex(IDENT, 'lower-case letters and digits, starting with a letter, at most 20')
          .default('dt'),
      })
      .prefault({}),
    migration: z
      .strictObject({
        legacy: z.array(z.string()).min(1),
        target: z.string(),
        startDate: isoDate,
        cutoverDate: isoDate,
        waves: waves.prefault({}),
      })
      .superRefine((m, ctx) => {
        if (m.legacy.includes(m.target))
          ctx.addIssue({ code: 'custom', path: ['target'], message: `"${m.target}" is also listed as legacy` });
        if (m.cutoverDate < m.startDate)
          ctx.addIssue({ code: 'custom', path: ['cutoverDate'], message: `is before startDate ${m.startDate}` });
        if (m.waves.shares.length !== m.waves.dueDays.length)
          ctx.addIssue({
            code: 'custom',
            path: ['waves', 'dueDays'],
            message: `needs one entry per share (${m.waves.shares.length})`,
          });
      }),
    platforms: z
      .record(z.string().regex(IDENT, 'platform keys are lower-case letters and digits'), platformSchema)
      .superRefine((p, ctx) => {
        for (const k of Object.keys(p))
          if (RESERVED_PLATFORM_KEYS.includes(k))
            ctx.addIssue({
              code: 'custom',
              path: [k],
              message: `"${k}" is reserved: <prefix>_${k} is the install's own database (choose another platform key)`,
            });
      })
      .refine((p) => Object.keys(p).length > 0, 'at least one platform'),
    rules: rulesSchema,
    alerts: z
      .strictObject({
        /** Email addresses subscribed to the alerts topic. */
        email: z.array(z.email()).default([]),
        /** Severities delivered by email (SNS filter policy). */
        emailSeverities: z.array(severity).min(1).default(['critical']),
        /** Env var holding the Slack incoming-webhook URL for local runs (Secrets Manager in AWS). */
        slackWebhookEnv: envName.default('SLACK_WEBHOOK_URL'),
        evaluateEveryMinutes: z.number().int().min(5).max(1440).default(60),
      })
      .prefault({}),
    privacy: z
      .strictObject({
        /** Env var holding the HMAC key for user agents, end-user emails and device ids. */
        hashKeyEnv: envName.default('DUALTRACK_HASH_KEY'),
        /** Store IPs as keyed hashes too (duplicate matching still works on equal hashes). */
        hashIps: z.boolean().default(false),
        /** Raw clicks older than this are purged; rollups, conversions and alert history stay. */
        clickRetentionDays: z.number().int().min(7).default(120),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    for (const [i, key] of [...c.migration.legacy, c.migration.target].entries()) {
      if (!(key in c.platforms)) {
        const path = i < c.migration.legacy.length ? ['migration', 'legacy', i] : ['migration', 'target'];
        ctx.addIssue({ code: 'custom', path, message: `platform "${key}" is not configured under platforms` });
      }
    }
  });

export type Config = z.infer<typeof configSchema>;
