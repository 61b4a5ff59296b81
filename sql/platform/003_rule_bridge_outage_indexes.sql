-- Indexes for cross-platform-duplicate's CAKE s2 ↔ Everflow transaction-id bridge and for
-- tracking-outage (bench/notes.md, "Rules"). Additive to 001/002; one index per ALTER so the file can be
-- re-run whole (the migrator treats "index already there" on a one-index ALTER as done, shared/db/migrate.ts).
--
-- conversions_sub2: CAKE keeps Everflow's transaction id in s2 (sub2). With this index the bridge
-- pairs CAKE sub2 with Everflow's conversions_transaction_id on two indexes alone and then reads
-- only the paired rows; without it every CAKE row of the window (~500 bytes each) is read. It is
-- created on every platform's table (one schema for all); only CAKE's is read by the rule.
ALTER TABLE {{db}}.conversions ADD INDEX conversions_sub2 (sub2, converted_at);

-- hourly_rollups_outage: tracking-outage sums clicks and conversions per hour for each silent
-- offer (× affiliate) candidate over its 4-week baseline and its stretch. With this index those
-- reads are range scans of the index alone; through hourly_rollups_offer / _affiliate each rollup
-- row was fetched by primary key (1.9–3.1 s → 0.5–0.7 s at 16M clicks, bench/notes.md).
ALTER TABLE {{db}}.hourly_rollups ADD INDEX hourly_rollups_outage (offer_id, affiliate_id, hour, clicks, conversions);
