-- Due process. A record carries whether an objection to it is open and the date (YYYYMMDD) a
-- repair ended its effects. Cases list every objection and repair application, by the journal
-- index of the step that opened it and of the step that closed it, for deadline tracking.
ALTER TABLE records ADD COLUMN disputed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE records ADD COLUMN repaired INTEGER;

CREATE TABLE cases (
    record INTEGER NOT NULL,
    kind   TEXT    NOT NULL,
    opened INTEGER NOT NULL,
    closed INTEGER,
    PRIMARY KEY (opened)
);
CREATE INDEX cases_by_record ON cases(record, kind, closed);

-- Credentials for the API: authority keys, company credentials and operator keys. Only a slow
-- hash (Argon2id, PHC string) of each secret is kept. Credentials are access control, not
-- registry facts: they are not journalled, so no hash ever reaches the public log.
-- role is operator | authority | company; principal is the authority id or subject code (empty
-- for operators). Times are Unix microseconds.
CREATE TABLE credentials (
    key_id      TEXT    PRIMARY KEY,
    role        TEXT    NOT NULL,
    principal   TEXT    NOT NULL,
    secret_hash TEXT    NOT NULL,
    created     INTEGER NOT NULL,
    expires     INTEGER,
    revoked     INTEGER
);
CREATE INDEX credentials_by_principal ON credentials(role, principal);

-- List entries of the materialised assessments, by list and subject code, for paging through a
-- list. Rewritten with the subject's assessment. Dates are YYYYMMDD; until is exclusive.
CREATE TABLE list_entries (
    list  TEXT    NOT NULL,
    code  TEXT    NOT NULL,
    since INTEGER,
    until INTEGER,
    PRIMARY KEY (list, code)
) WITHOUT ROWID;
CREATE INDEX list_entries_by_code ON list_entries(code);

-- Name look-ups for search: exact and prefix matches use this index.
CREATE INDEX subjects_by_name ON subjects(name);
