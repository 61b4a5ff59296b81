-- Covering indexes for the rules engine (bench/RESULTS.md, "Rules"), additive to 001. One index
-- per ALTER statement: MySQL 8 has no ADD INDEX IF NOT EXISTS, so the migrator treats "index
-- already there" (or, for the DROP, "already gone") on such a statement as done, and the file can be
-- re-run whole (shared/db/migrate.ts).
--
-- conversions_order_status: platform-duplicate groups approved base conversions by order_id, and
-- cross-platform-duplicate joins two platforms on order_id, reading only this index (InnoDB
-- secondary indexes carry the primary key). Without it both read every full row, and at 16M clicks
-- the rows (~500 bytes each) no longer fit a 128 MB buffer pool.
ALTER TABLE {{db}}.conversions ADD INDEX conversions_order_status (order_id, status, is_event, converted_at);

-- conversions_cutover: legacy-traffic-after-cutover counts conversions whose CLICK was at or after
-- the cutover; a range on clicked_at reads only post-cutover traffic, and the other columns make it
-- covering, so the rule never reads a full row.
ALTER TABLE {{db}}.conversions ADD INDEX conversions_cutover (clicked_at, converted_at, status, is_event, affiliate_id, offer_id, payout);

-- conversions_order_status starts with order_id, so it serves plain order_id lookups too; the old
-- single-column index goes, so a load maintains one more index than before, not two.
ALTER TABLE {{db}}.conversions DROP INDEX conversions_order_id;
