-- Covering indexes for the click rollup refresh (shared/db/upsert.ts refreshRollups) and the first /
-- last click look-up of the migration report (shared/migration/state.ts exactClickTimes). Both read
-- clicks by time (whole hours) or by offer × affiliate × time and need affiliate_id, offer_id and
-- is_unique; the old indexes lacked them, so every click read went back to the clustered index by
-- its random click_id: one random page read per click once the table outgrows the buffer pool
-- (bench/notes.md, "Ingestion"). Each new index starts with the old one's columns, so it serves
-- every query the old one did, and replaces it: a load still maintains two click indexes.
-- One index per ALTER so the file can be re-run whole (shared/db/migrate.ts).
ALTER TABLE {{db}}.clicks ADD INDEX clicks_time_rollup (clicked_at, affiliate_id, offer_id, is_unique);

ALTER TABLE {{db}}.clicks DROP INDEX clicks_clicked_at;

ALTER TABLE {{db}}.clicks ADD INDEX clicks_group_rollup (offer_id, affiliate_id, clicked_at, is_unique);

ALTER TABLE {{db}}.clicks DROP INDEX clicks_offer_affiliate;
