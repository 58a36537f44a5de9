-- Redaction: once a record affects no assessment, the bodies of its journal entries can be
-- withdrawn from publication by a logged `record_redacted` event. A leaf commits to SHA-256 of
-- its entry's body (docs/log-format.md), kept here when the body is emptied, so every proof
-- stays valid.
CREATE TABLE withheld (
    idx    INTEGER PRIMARY KEY,  -- the journal entry whose body was withheld
    digest BLOB    NOT NULL      -- SHA-256 of its canonical encoding
);

-- A redacted record leaves the projections, but its natural key stays taken: filing the same
-- decision again (re-importing an old file) adds nothing.
CREATE TABLE redacted_records (
    key_hash    INTEGER NOT NULL,
    authority   INTEGER NOT NULL,
    decision_no TEXT    NOT NULL,
    event       INTEGER NOT NULL  -- the record_redacted entry
);
CREATE INDEX redacted_records_by_key ON redacted_records(key_hash);
