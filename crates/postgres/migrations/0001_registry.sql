-- The PostgreSQL layout of a registry: the same journal, log and projections as the SQLite
-- store (crates/sqlite/migrations), in PostgreSQL types. Dates are integers YYYYMMDD; instants
-- are Unix microseconds. Event columns hold journal indices written in the same transaction.
CREATE TABLE journal (
    idx         BIGINT  PRIMARY KEY,
    recorded_at BIGINT  NOT NULL,
    type        TEXT    NOT NULL,
    body        BYTEA   NOT NULL
);

CREATE TABLE log_nodes (
    level SMALLINT NOT NULL,
    idx   BIGINT   NOT NULL,
    hash  BYTEA    NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE authorities (
    id       BIGSERIAL PRIMARY KEY,
    code     TEXT COLLATE "C" NOT NULL UNIQUE,
    category TEXT      NOT NULL,
    event    BIGINT    NOT NULL
);

-- Codes and names compare byte by byte (COLLATE "C"), as in SQLite, so pages and cursors
-- are in the same order on every backend whatever the database's locale.
CREATE TABLE subjects (
    id    BIGSERIAL PRIMARY KEY,
    code  TEXT COLLATE "C" NOT NULL UNIQUE,
    name  TEXT COLLATE "C" NOT NULL,
    event BIGINT    NOT NULL
);
CREATE INDEX subjects_by_name ON subjects (name);

CREATE TABLE records (
    id            BIGSERIAL PRIMARY KEY,
    authority     BIGINT    NOT NULL,
    decision_no   TEXT      NOT NULL,
    subject       BIGINT    NOT NULL,
    kind          TEXT      NOT NULL,
    effective     INTEGER   NOT NULL,
    status        TEXT      NOT NULL,
    filed_event   BIGINT    NOT NULL,
    current_event BIGINT    NOT NULL,
    last_event    BIGINT    NOT NULL,
    disputed      BOOLEAN   NOT NULL DEFAULT FALSE,
    repaired      INTEGER,
    UNIQUE (authority, decision_no)
);
CREATE INDEX records_by_subject ON records (subject, filed_event);

CREATE TABLE record_history (
    record BIGINT NOT NULL,
    event  BIGINT NOT NULL,
    PRIMARY KEY (record, event)
);

CREATE TABLE cases (
    record BIGINT NOT NULL,
    kind   TEXT   NOT NULL,
    opened BIGINT PRIMARY KEY,
    closed BIGINT
);
CREATE INDEX cases_by_record ON cases (record, kind, closed);

CREATE TABLE code_exceptions (
    code  TEXT COLLATE "C" PRIMARY KEY,
    event BIGINT NOT NULL
);

CREATE TABLE rulebooks (
    event     BIGINT  PRIMARY KEY,
    rulebook  TEXT    NOT NULL,
    version   TEXT    NOT NULL,
    effective INTEGER NOT NULL,
    UNIQUE (rulebook, version)
);

CREATE TABLE assessments (
    subject     BIGINT  PRIMARY KEY,
    as_of       INTEGER NOT NULL,
    grade       TEXT,
    score       INTEGER,
    decisions   TEXT    NOT NULL,
    next_change INTEGER,
    rulebook    TEXT    NOT NULL,
    version     TEXT    NOT NULL
);
CREATE INDEX assessments_by_next_change ON assessments (next_change);

CREATE TABLE list_entries (
    list  TEXT            NOT NULL,
    code  TEXT COLLATE "C" NOT NULL,
    since INTEGER,
    until INTEGER,
    PRIMARY KEY (list, code)
);
CREATE INDEX list_entries_by_code ON list_entries (code);

CREATE TABLE credentials (
    key_id      TEXT   PRIMARY KEY,
    role        TEXT   NOT NULL,
    principal   TEXT   NOT NULL,
    secret_hash TEXT   NOT NULL,
    created     BIGINT NOT NULL,
    expires     BIGINT,
    revoked     BIGINT
);
CREATE INDEX credentials_by_principal ON credentials (role, principal);
