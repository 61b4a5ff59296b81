-- Quarantined records are purged after the click retention (privacy.clickRetentionDays): they hold
-- raw platform records, redacted like `raw`, and are kept only long enough to be looked at and
-- replayed. The purge deletes by age in batches, so it needs an index on the age.
ALTER TABLE {{core}}.quarantine ADD KEY quarantine_created (created_at);
