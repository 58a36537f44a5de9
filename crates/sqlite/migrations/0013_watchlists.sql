-- Watchlists: each subscriber's sets of subject codes, with a webhook's delivery state, and
-- the changes of answers recorded for watched subjects as their assessments are stored. Not
-- events: the log is public, and a subscriber's portfolio is not.
CREATE TABLE IF NOT EXISTS watchlists (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    label TEXT NOT NULL,
    measures TEXT NOT NULL,
    created INTEGER NOT NULL,
    seen INTEGER NOT NULL DEFAULT 0,
    url TEXT,
    secret TEXT,
    delivered INTEGER NOT NULL DEFAULT 0,
    pending INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER,
    first_failure INTEGER,
    failing_since INTEGER,
    last_error TEXT,
    last_success INTEGER
);
CREATE INDEX IF NOT EXISTS watchlists_owner ON watchlists (owner, id);
CREATE TABLE IF NOT EXISTS watch_members (
    watchlist TEXT NOT NULL REFERENCES watchlists (id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    since INTEGER NOT NULL,
    PRIMARY KEY (watchlist, code)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS watch_members_code ON watch_members (code);
CREATE TABLE IF NOT EXISTS answer_changes (
    position INTEGER PRIMARY KEY,
    code TEXT NOT NULL,
    log_size INTEGER NOT NULL,
    as_of INTEGER NOT NULL,
    cause TEXT NOT NULL,
    before TEXT,
    after TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answer_changes_code ON answer_changes (code, position);
