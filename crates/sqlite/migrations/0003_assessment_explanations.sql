-- The whole assessment with its explanation (JSON), valid until next_change, so answers on
-- dates before then are read instead of recomputed. Rows rated before this migration carry ''
-- and are answered by computing, as if not stored, until they are rated again.
ALTER TABLE assessments ADD COLUMN explanation TEXT NOT NULL DEFAULT '';
