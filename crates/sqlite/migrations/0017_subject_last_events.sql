-- Each subject's latest event (0009) moves to a table of its own, two integers a row. Every
-- append sets it for each subject its events concern, so a commit that files records about
-- thousands of subjects dirtied nearly every page of `subjects` (code, name, dates: about 80
-- bytes a row, 1,019 pages at 100,000 subjects), and wrote each to the write-ahead log and
-- then into the file: a third of an import's bytes. Here a row is about ten bytes, and the
-- same commit dirties about 150 pages. The meaning is unchanged: an assessment whose log_size
-- is not beyond it is stale.
CREATE TABLE subject_last_events (
    subject    INTEGER PRIMARY KEY,
    last_event INTEGER NOT NULL
);
INSERT INTO subject_last_events (subject, last_event) SELECT id, last_event FROM subjects;
ALTER TABLE subjects DROP COLUMN last_event;
