-- As a witness of other logs (C2SP tlog-witness): the checkpoint of each log it follows that it
-- last cosigned. A request is judged against this row and stored by a compare-and-set on it
-- (size and root), so two requests judged against the same state cannot both be cosigned.
CREATE TABLE IF NOT EXISTS witnessed (
    origin TEXT PRIMARY KEY,
    size   BIGINT NOT NULL,
    root   BYTEA NOT NULL,
    note   TEXT NOT NULL
);
