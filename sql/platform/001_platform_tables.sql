-- Per-platform schema template (docs/design.md §4). Applied to every `<prefix>_<platform>` database;
-- {{db}} is replaced by that database's name. Every platform gets the same tables and columns.
-- Dialect: the MySQL 8.0 / MariaDB 10.11 common subset (no collation names, no `AS new` upserts).
-- Idempotent upserts: each table's primary key is the platform's natural key.

CREATE TABLE IF NOT EXISTS {{db}}.conversions (
  conversion_id   VARCHAR(64)   NOT NULL,
  click_id        VARCHAR(128)  NULL,
  transaction_id  VARCHAR(128)  NULL,
  order_id        VARCHAR(191)  NULL,
  converted_at    DATETIME(3)   NOT NULL,
  clicked_at      DATETIME(3)   NULL,
  affiliate_id    VARCHAR(64)   NOT NULL,
  offer_id        VARCHAR(64)   NOT NULL,
  advertiser_id   VARCHAR(64)   NULL,
  sub1            VARCHAR(255)  NULL,
  sub2            VARCHAR(255)  NULL,
  sub3            VARCHAR(255)  NULL,
  sub4            VARCHAR(255)  NULL,
  sub5            VARCHAR(255)  NULL,
  event_name      VARCHAR(128)  NULL,
  is_event        TINYINT(1)    NOT NULL DEFAULT 0,
  status          VARCHAR(16)   NOT NULL,
  revenue         DECIMAL(18,6) NOT NULL DEFAULT 0,
  payout          DECIMAL(18,6) NOT NULL DEFAULT 0,
  sale_amount     DECIMAL(18,6) NULL,
  currency        CHAR(3)       NOT NULL,
  ip              VARCHAR(64)   NULL,
  user_agent_hash CHAR(64)      NULL,
  country_code    CHAR(2)       NULL,
  raw             JSON          NULL,
  -- Fetch time of the first version seen / of the fetch that last changed the row; row_hash is an
  -- MD5 of the row's content. A re-read with the same content changes nothing; an older fetch
  -- delivered after a newer one is ignored (see shared/db/upsert.ts).
  first_seen_at   DATETIME(3)   NOT NULL,
  updated_at      DATETIME(3)   NOT NULL,
  row_hash        CHAR(32)      NULL,
  PRIMARY KEY (conversion_id),
  KEY conversions_converted_at (converted_at),
  KEY conversions_order_id (order_id),
  KEY conversions_transaction_id (transaction_id),
  KEY conversions_click_id (click_id),
  KEY conversions_offer_affiliate (offer_id, affiliate_id, converted_at),
  KEY conversions_ip (ip, converted_at),
  CONSTRAINT conversions_status CHECK (status IN ('approved', 'pending', 'rejected', 'invalid'))
);

CREATE TABLE IF NOT EXISTS {{db}}.clicks (
  click_id        VARCHAR(128)  NOT NULL,
  clicked_at      DATETIME(3)   NOT NULL,
  affiliate_id    VARCHAR(64)   NOT NULL,
  offer_id        VARCHAR(64)   NOT NULL,
  advertiser_id   VARCHAR(64)   NULL,
  sub1            VARCHAR(255)  NULL,
  sub2            VARCHAR(255)  NULL,
  sub3            VARCHAR(255)  NULL,
  sub4            VARCHAR(255)  NULL,
  sub5            VARCHAR(255)  NULL,
  ip              VARCHAR(64)   NULL,
  user_agent_hash CHAR(64)      NULL,
  country_code    CHAR(2)       NULL,
  is_unique       TINYINT(1)    NOT NULL DEFAULT 1,
  -- No `raw` copy: clicks are ~100x conversions (docs/design.md §4).
  PRIMARY KEY (click_id),
  KEY clicks_clicked_at (clicked_at),
  KEY clicks_offer_affiliate (offer_id, affiliate_id, clicked_at)
);

-- Hourly rollups the rules read instead of raw clicks; recomputed (not incremented) for every
-- (hour, affiliate, offer) a load touches, so replays leave them unchanged.
CREATE TABLE IF NOT EXISTS {{db}}.hourly_rollups (
  hour            DATETIME      NOT NULL,
  affiliate_id    VARCHAR(64)   NOT NULL,
  offer_id        VARCHAR(64)   NOT NULL,
  clicks          INT           NOT NULL DEFAULT 0,
  unique_clicks   INT           NOT NULL DEFAULT 0,
  -- Base conversions (not post-conversion events) that are not rejected/invalid.
  conversions     INT           NOT NULL DEFAULT 0,
  -- Post-conversion events that are not rejected/invalid.
  events          INT           NOT NULL DEFAULT 0,
  revenue         DECIMAL(18,6) NOT NULL DEFAULT 0,
  payout          DECIMAL(18,6) NOT NULL DEFAULT 0,
  PRIMARY KEY (hour, affiliate_id, offer_id),
  KEY hourly_rollups_offer (offer_id, hour),
  KEY hourly_rollups_affiliate (affiliate_id, hour)
);

CREATE TABLE IF NOT EXISTS {{db}}.affiliates (
  id          VARCHAR(64)   NOT NULL,
  name        VARCHAR(255)  NOT NULL,
  status      VARCHAR(16)   NOT NULL,
  email       VARCHAR(255)  NULL,
  raw         JSON          NULL,
  updated_at  DATETIME(3)   NOT NULL,
  row_hash    CHAR(32)      NULL,
  PRIMARY KEY (id),
  CONSTRAINT affiliates_status CHECK (status IN ('active', 'inactive', 'pending'))
);

CREATE TABLE IF NOT EXISTS {{db}}.offers (
  id          VARCHAR(64)   NOT NULL,
  name        VARCHAR(255)  NOT NULL,
  status      VARCHAR(16)   NOT NULL,
  email       VARCHAR(255)  NULL,
  raw         JSON          NULL,
  updated_at  DATETIME(3)   NOT NULL,
  row_hash    CHAR(32)      NULL,
  PRIMARY KEY (id),
  CONSTRAINT offers_status CHECK (status IN ('active', 'inactive', 'pending'))
);

CREATE TABLE IF NOT EXISTS {{db}}.advertisers (
  id          VARCHAR(64)   NOT NULL,
  name        VARCHAR(255)  NOT NULL,
  status      VARCHAR(16)   NOT NULL,
  email       VARCHAR(255)  NULL,
  raw         JSON          NULL,
  updated_at  DATETIME(3)   NOT NULL,
  row_hash    CHAR(32)      NULL,
  PRIMARY KEY (id),
  CONSTRAINT advertisers_status CHECK (status IN ('active', 'inactive', 'pending'))
);
