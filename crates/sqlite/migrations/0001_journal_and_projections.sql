-- The journal: canonical event encodings, append-only. Everything else is derived from it.
-- recorded_at is Unix time in microseconds (UTC), copied from the encoded event for queries.
CREATE TABLE journal (
    idx         INTEGER PRIMARY KEY,
    recorded_at INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    body        BLOB    NOT NULL
);

-- The transparency log over the journal (docs/log-format.md): the hashes of the complete
-- subtrees of the RFC 6962 tree whose leaf i commits to journal entry i. Level 0 holds leaf
-- hashes; (level, idx) covers leaves [idx << level, (idx + 1) << level). Written in the same
-- transaction as the journal rows, so there is never an event without its leaf or the reverse.
CREATE TABLE log_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB    NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

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

-- Records in filing order (the row id only grows, so inserts append). The natural key
-- (authority, decision_no) is found through key_hash, a 64-bit FNV-1a hash of the authority code,
-- a NUL byte and the decision number, read as a signed integer: a compact index that random
-- keys dirty far fewer pages of. Look-ups compare the key columns too, so collisions are harmless.
-- effective is the date as the integer YYYYMMDD.
CREATE TABLE records (
    id            INTEGER PRIMARY KEY,
    key_hash      INTEGER NOT NULL,
    authority     INTEGER NOT NULL,
    decision_no   TEXT    NOT NULL,
    subject       INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    effective     INTEGER NOT NULL,
    status        TEXT    NOT NULL,
    filed_event   INTEGER NOT NULL,
    current_event INTEGER NOT NULL,
    last_event    INTEGER NOT NULL
);
CREATE INDEX records_by_key ON records(key_hash);
-- Every journal entry about each record (filing, corrections, withdrawal), for its state as of
-- an earlier point of the log.
CREATE TABLE record_history (
    record INTEGER NOT NULL,
    event  INTEGER NOT NULL,
    PRIMARY KEY (record, event)
) WITHOUT ROWID;
CREATE INDEX records_by_subject ON records(subject);

CREATE TABLE code_exceptions (
    code  TEXT    PRIMARY KEY,
    event INTEGER NOT NULL
);

-- Rulebooks adopted, by journal index; the text is in the journal entry.
CREATE TABLE rulebooks (
    event     INTEGER PRIMARY KEY,
    rulebook  TEXT    NOT NULL,
    version   TEXT    NOT NULL,
    effective INTEGER NOT NULL,
    UNIQUE (rulebook, version)
);

-- Materialised assessments: derived from the journal and the rulebooks, kept current by
-- re-rating subjects an import touches and by a sweep of those whose next change has come.
-- Dates are integers YYYYMMDD; decisions is JSON {measure: "allow" | "flag" | "deny"}.
CREATE TABLE assessments (
    subject     INTEGER PRIMARY KEY,
    as_of       INTEGER NOT NULL,
    grade       TEXT,
    score       INTEGER,
    decisions   TEXT    NOT NULL,
    next_change INTEGER,
    rulebook    TEXT    NOT NULL,
    version     TEXT    NOT NULL
);
CREATE INDEX assessments_by_next_change ON assessments(next_change);
