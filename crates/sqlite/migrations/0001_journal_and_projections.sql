-- The journal: canonical event encodings, append-only. Everything else is derived from it.
-- recorded_at is Unix time in microseconds (UTC), copied from the encoded event for queries.
CREATE TABLE journal (
    idx         INTEGER PRIMARY KEY,
    recorded_at INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    body        BLOB    NOT NULL
);

-- Projections: lookups by natural key. Full content lives in the journal body they point to.
-- Their event columns hold journal indices written in the same transaction as the journal row.
-- They carry no foreign key to the journal: settling a deferred key on every journal insert
-- would scan the projections and make imports quadratic.
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

-- Keyed by the natural key itself (no rowid): one B-tree serves uniqueness and look-ups.
-- effective is the date as the integer YYYYMMDD.
CREATE TABLE records (
    authority     INTEGER NOT NULL REFERENCES authorities(id),
    decision_no   TEXT    NOT NULL,
    subject       INTEGER NOT NULL REFERENCES subjects(id),
    kind          TEXT    NOT NULL,
    effective     INTEGER NOT NULL,
    status        TEXT    NOT NULL,
    filed_event   INTEGER NOT NULL,
    current_event INTEGER NOT NULL,
    last_event    INTEGER NOT NULL,
    PRIMARY KEY (authority, decision_no)
) WITHOUT ROWID;
CREATE INDEX records_by_subject ON records(subject);

CREATE TABLE code_exceptions (
    code  TEXT    PRIMARY KEY,
    event INTEGER NOT NULL
);
