-- The journal index of the latest event about each subject: its registration, or a filing,
-- correction, withdrawal, due-process step or redaction of one of its records. It is written in
-- the transaction of that event, and an assessment whose log_size is not beyond it is stale: the
-- writer stopped between appending and rating. Reads then compute the answer, and the next
-- rating sweep (at every start) rates the subject again.
-- Filled here from the records each subject has now; a record that a correction moved away is
-- not counted for its old subject, whose assessment is then taken as current, as before.
ALTER TABLE subjects ADD COLUMN IF NOT EXISTS last_event BIGINT NOT NULL DEFAULT 0;
UPDATE subjects s SET last_event = greatest(s.event, r.last)
  FROM (SELECT subject, max(last_event) AS last FROM records GROUP BY subject) r
 WHERE r.subject = s.id;
UPDATE subjects SET last_event = event WHERE last_event < event;
