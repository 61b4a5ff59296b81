-- Covering indexes for the rules engine (bench/RESULTS.md, "Rules"). Additive to 001; one ALTER
-- statement per table, so a failed run leaves the table as it was and the file can be re-run (the
-- migrator records a file once all its statements succeeded; MySQL 8 has no ADD INDEX IF NOT EXISTS).
--
-- conversions_order_status: platform-duplicate groups approved base conversions by order_id, and
-- cross-platform-duplicate joins two platforms on order_id, reading only this index (InnoDB
-- secondary indexes carry the primary key). Without it both read every full row, and at 16M clicks
-- the rows (~500 bytes each) no longer fit a 128 MB buffer pool. It starts with order_id, so it
-- replaces conversions_order_id for plain order_id lookups; that index is dropped to keep the
-- number of indexes a load has to maintain the same.
--
-- conversions_cutover: legacy-traffic-after-cutover counts conversions whose CLICK was at or after
-- the cutover; a range on clicked_at reads only post-cutover traffic, and the other columns make it
-- covering, so the rule never reads a full row.
ALTER TABLE {{db}}.conversions
  DROP INDEX conversions_order_id,
  ADD INDEX conversions_order_status (order_id, status, is_event, converted_at),
  ADD INDEX conversions_cutover (clicked_at, converted_at, status, is_event, affiliate_id, offer_id, payout);
