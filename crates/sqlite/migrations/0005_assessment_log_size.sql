-- The log size an assessment reflects: it was computed from every event before it. A rating
-- computed from an older view of the log never replaces one computed from a newer view, so two
-- nodes rating the same subject at once cannot leave the older answer in place. Rows rated
-- before this migration carry 0.
ALTER TABLE assessments ADD COLUMN log_size INTEGER NOT NULL DEFAULT 0;
