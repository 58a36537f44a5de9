-- The journal: canonical event encodings, append-only. Everything else is derived from it.
CREATE TABLE journal (
    idx         INTEGER PRIMARY KEY,
    recorded_at TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    body        BLOB    NOT NULL
);

-- Projections: lookups by natural key. Full content lives in the journal body they point to.
-- Their `event` columns hold journal indices written in the same transaction as the journal row;
-- they carry no foreign key, because settling a deferred key on every journal insert would scan
-- the projections (quadratic imports).
CREATE TABLE authorities (
    id       INTEGER PRIMARY KEY,
    code     TEXT    NOT NULL UNIQUE,
    category TEXT    NOT NULL,
    event    INTEGER NOT NULL
);

CREATE TABLE subjects (
    id    INTEGER PRIMARY KEY,
    code  TEXT    NOT NULL UNIQUE,
    name  TEXT    NOT NULL,
    event INTEGER NOT NULL
);

CREATE TABLE records (
    id            INTEGER PRIMARY KEY,
    authority     INTEGER NOT NULL REFERENCES authorities(id),
    decision_no   TEXT    NOT NULL,
    subject       INTEGER NOT NULL REFERENCES subjects(id),
    kind          TEXT    NOT NULL,
    effective     TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    filed_event   INTEGER NOT NULL,
    current_event INTEGER NOT NULL,
    last_event    INTEGER NOT NULL,
    UNIQUE (authority, decision_no)
);
CREATE INDEX records_by_subject ON records(subject);

CREATE TABLE code_exceptions (
    code  TEXT    PRIMARY KEY,
    event INTEGER NOT NULL
);
