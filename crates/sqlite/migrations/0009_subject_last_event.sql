-- The journal index of the latest event about each subject: its registration, or a filing,
-- correction, withdrawal, due-process step or redaction of one of its records. It is written in
-- the transaction of that event, and an assessment whose log_size is not beyond it is stale: the
-- writer stopped between appending and rating. Reads then compute the answer, and the next
-- rating sweep (at every start) rates the subject again.
-- Filled here from the records each subject has now; a record that a correction moved away is
-- not counted for its old subject, whose assessment is then taken as current, as before.
ALTER TABLE subjects ADD COLUMN last_event INTEGER NOT NULL DEFAULT 0;
UPDATE subjects SET last_event = max(event, coalesce(
    (SELECT max(r.last_event) FROM records r WHERE r.subject = subjects.id), 0));
