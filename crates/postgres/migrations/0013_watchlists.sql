-- Watchlists: each subscriber's sets of subject codes, with a webhook's delivery state, and
-- the changes of answers recorded for watched subjects as their assessments are stored. Not
-- events: the log is public, and a subscriber's portfolio is not.
CREATE TABLE IF NOT EXISTS watchlists (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    label TEXT NOT NULL,
    measures TEXT NOT NULL,
    created BIGINT NOT NULL,
    seen BIGINT NOT NULL DEFAULT 0,
    url TEXT,
    secret TEXT,
    delivered BIGINT NOT NULL DEFAULT 0,
    pending BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt BIGINT,
    first_failure BIGINT,
    failing_since BIGINT,
    last_error TEXT,
    last_success BIGINT
);
CREATE INDEX IF NOT EXISTS watchlists_owner ON watchlists (owner, id);
CREATE TABLE IF NOT EXISTS watch_members (
    watchlist TEXT NOT NULL REFERENCES watchlists (id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    since BIGINT NOT NULL,
    PRIMARY KEY (watchlist, code)
);
CREATE INDEX IF NOT EXISTS watch_members_code ON watch_members (code);
-- Positions are taken under a transaction-scoped advisory lock, so they follow commit order.
CREATE TABLE IF NOT EXISTS answer_changes (
    position BIGINT PRIMARY KEY,
    code TEXT NOT NULL,
    log_size BIGINT NOT NULL,
    as_of INTEGER NOT NULL,
    cause TEXT NOT NULL,
    before TEXT,
    after TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answer_changes_code ON answer_changes (code, position);
