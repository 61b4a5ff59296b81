-- Core database (docs/design.md §4): pipeline state, crosswalk, FX, alert state, migration plan.
-- {{core}} is replaced by `<prefix>_core`. schema_migrations itself is created by the migrator.

-- Fetch ledger: one row per planned slice (platform, stream, window). Counts add up:
-- records_fetched = rows_loaded + rows_quarantined + records_dlq once a slice is done.
CREATE TABLE IF NOT EXISTS {{core}}.fetch_slices (
  slice_id          CHAR(36)      NOT NULL,
  platform          VARCHAR(32)   NOT NULL,
  stream            VARCHAR(32)   NOT NULL,
  window_from       DATETIME(3)   NOT NULL,
  window_to         DATETIME(3)   NOT NULL,
  backfill_id       CHAR(36)      NULL,
  status            VARCHAR(16)   NOT NULL,
  pages             INT           NOT NULL DEFAULT 0,
  records_fetched   INT           NOT NULL DEFAULT 0,
  messages_total    INT           NULL,
  messages_done     INT           NOT NULL DEFAULT 0,
  rows_loaded       INT           NOT NULL DEFAULT 0,
  rows_quarantined  INT           NOT NULL DEFAULT 0,
  records_dlq       INT           NOT NULL DEFAULT 0,
  attempts          INT           NOT NULL DEFAULT 0,
  error             TEXT          NULL,
  error_kind        VARCHAR(16)   NULL,
  planned_at        DATETIME(3)   NOT NULL,
  started_at        DATETIME(3)   NULL,
  fetched_at        DATETIME(3)   NULL,
  finished_at       DATETIME(3)   NULL,
  PRIMARY KEY (slice_id),
  KEY fetch_slices_platform (platform, stream, window_from),
  KEY fetch_slices_status (status, planned_at),
  KEY fetch_slices_backfill (backfill_id),
  -- superseded: a failed scheduled slice whose window a later run re-planned (it no longer holds the watermark back).
  CONSTRAINT fetch_slices_status_ck CHECK (status IN ('planned', 'fetching', 'fetched', 'done', 'failed', 'superseded'))
);

-- Per-message progress of a slice's normalize messages (idempotent counting under redelivery).
-- Keyed by fetch attempt: a re-fetched slice counts only its latest attempt's messages.
CREATE TABLE IF NOT EXISTS {{core}}.slice_messages (
  slice_id          CHAR(36)      NOT NULL,
  attempt           INT           NOT NULL,
  seq               INT           NOT NULL,
  records           INT           NOT NULL,
  rows_loaded       INT           NOT NULL DEFAULT 0,
  rows_quarantined  INT           NOT NULL DEFAULT 0,
  status            VARCHAR(16)   NOT NULL,
  processed_at      DATETIME(3)   NULL,
  PRIMARY KEY (slice_id, attempt, seq)
);

-- Local runs only: messages that exhausted their retries in the in-process queue, kept so that
-- `dualtrack replay-dlq` can move them back (in AWS the SQS DLQs hold them).
CREATE TABLE IF NOT EXISTS {{core}}.local_dlq (
  id          BIGINT        NOT NULL AUTO_INCREMENT,
  queue       VARCHAR(64)   NOT NULL,
  body        LONGTEXT      NOT NULL,
  error       TEXT          NULL,
  receives    INT           NOT NULL,
  created_at  DATETIME(3)   NOT NULL,
  PRIMARY KEY (id)
);

CREATE TABLE IF NOT EXISTS {{core}}.watermarks (
  platform    VARCHAR(32)  NOT NULL,
  stream      VARCHAR(32)  NOT NULL,
  watermark   DATETIME(3)  NOT NULL,
  updated_at  DATETIME(3)  NOT NULL,
  PRIMARY KEY (platform, stream)
);

-- Records that can never load (schema-invalid), with the reason; not retried.
CREATE TABLE IF NOT EXISTS {{core}}.quarantine (
  id           BIGINT        NOT NULL AUTO_INCREMENT,
  platform     VARCHAR(32)   NOT NULL,
  stream       VARCHAR(32)   NOT NULL,
  record_hash  CHAR(64)      NOT NULL,
  slice_id     CHAR(36)      NULL,
  reason       TEXT          NOT NULL,
  record       JSON          NULL,
  created_at   DATETIME(3)   NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY quarantine_record (platform, stream, record_hash),
  KEY quarantine_slice (slice_id)
);

-- Entity crosswalk: one row per entity per platform.
CREATE TABLE IF NOT EXISTS {{core}}.entity_map (
  entity_type    VARCHAR(16)   NOT NULL,
  platform       VARCHAR(32)   NOT NULL,
  platform_id    VARCHAR(64)   NOT NULL,
  canonical_key  VARCHAR(128)  NOT NULL,
  source         VARCHAR(16)   NOT NULL,
  confidence     DECIMAL(4,3)  NOT NULL DEFAULT 1.000,
  updated_at     DATETIME(3)   NOT NULL,
  PRIMARY KEY (entity_type, platform, platform_id),
  KEY entity_map_canonical (entity_type, canonical_key),
  CONSTRAINT entity_map_type CHECK (entity_type IN ('affiliate', 'offer', 'advertiser')),
  CONSTRAINT entity_map_source CHECK (source IN ('imported', 'matched', 'manual'))
);

CREATE TABLE IF NOT EXISTS {{core}}.fx_rates (
  currency    CHAR(3)        NOT NULL,
  month       DATE           NOT NULL,
  -- Units of the base currency per unit of `currency`.
  rate        DECIMAL(18,8)  NOT NULL,
  updated_at  DATETIME(3)    NOT NULL,
  PRIMARY KEY (currency, month)
);

CREATE TABLE IF NOT EXISTS {{core}}.backfills (
  backfill_id   CHAR(36)      NOT NULL,
  platform      VARCHAR(32)   NOT NULL,
  streams       VARCHAR(255)  NOT NULL,
  window_from   DATETIME(3)   NOT NULL,
  window_to     DATETIME(3)   NOT NULL,
  status        VARCHAR(16)   NOT NULL,
  slices_total  INT           NOT NULL DEFAULT 0,
  requested_at  DATETIME(3)   NOT NULL,
  finished_at   DATETIME(3)   NULL,
  PRIMARY KEY (backfill_id)
);

CREATE TABLE IF NOT EXISTS {{core}}.alerts (
  fingerprint         CHAR(64)       NOT NULL,
  rule                VARCHAR(64)    NOT NULL,
  severity            VARCHAR(16)    NOT NULL,
  state               VARCHAR(16)    NOT NULL,
  subject             JSON           NOT NULL,
  summary             TEXT           NOT NULL,
  metrics             JSON           NULL,
  evidence            JSON           NULL,
  money_at_risk       DECIMAL(18,6)  NULL,
  first_seen_at       DATETIME(3)    NOT NULL,
  last_seen_at        DATETIME(3)    NOT NULL,
  resolved_at         DATETIME(3)    NULL,
  last_notified_at    DATETIME(3)    NULL,
  notified_severity   VARCHAR(16)    NULL,
  muted_until         DATETIME(3)    NULL,
  acked_at            DATETIME(3)    NULL,
  acked_by            VARCHAR(128)   NULL,
  note                TEXT           NULL,
  PRIMARY KEY (fingerprint),
  KEY alerts_state (state, rule)
);

CREATE TABLE IF NOT EXISTS {{core}}.alert_events (
  id           BIGINT        NOT NULL AUTO_INCREMENT,
  fingerprint  CHAR(64)      NOT NULL,
  event        VARCHAR(16)   NOT NULL,
  at           DATETIME(3)   NOT NULL,
  severity     VARCHAR(16)   NULL,
  details      JSON          NULL,
  PRIMARY KEY (id),
  KEY alert_events_fingerprint (fingerprint, at)
);

CREATE TABLE IF NOT EXISTS {{core}}.migration_plan (
  canonical_key   VARCHAR(128)   NOT NULL,
  tier            INT            NOT NULL,
  due_date        DATE           NOT NULL,
  legacy_revenue  DECIMAL(18,6)  NOT NULL DEFAULT 0,
  source          VARCHAR(16)    NOT NULL,
  updated_at      DATETIME(3)    NOT NULL,
  PRIMARY KEY (canonical_key)
);

-- Shared request budgets (token buckets) per platform, taken under FOR UPDATE.
CREATE TABLE IF NOT EXISTS {{core}}.rate_limits (
  bucket        VARCHAR(64)    NOT NULL,
  tokens        DECIMAL(14,6)  NOT NULL,
  capacity      INT            NOT NULL,
  per_seconds   DECIMAL(12,3)  NOT NULL,
  refilled_at   DATETIME(3)    NOT NULL,
  paused_until  DATETIME(3)    NOT NULL,
  PRIMARY KEY (bucket)
);
