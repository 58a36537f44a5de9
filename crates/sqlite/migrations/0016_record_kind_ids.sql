-- Record kinds by a small number instead of their names. Every record's entry in the covering
-- index that rating reads (0006) held its kind's name, about 20 of its 46 bytes; an import
-- inserts into that index at random, and each commit rewrites every page it touched, so the
-- index's width was written again and again. The names are kept once, in record_kinds.
CREATE TABLE record_kinds (
    id   INTEGER PRIMARY KEY,
    kind TEXT    NOT NULL UNIQUE
);
INSERT INTO record_kinds (kind) SELECT DISTINCT kind FROM records ORDER BY kind;
ALTER TABLE records ADD COLUMN kind_id INTEGER NOT NULL DEFAULT 0;
UPDATE records SET kind_id = (SELECT k.id FROM record_kinds k WHERE k.kind = records.kind);
DROP INDEX records_by_subject_rating;
ALTER TABLE records DROP COLUMN kind;
CREATE INDEX records_by_subject_rating
    ON records (subject, filed_event, kind_id, effective, status, repaired);
