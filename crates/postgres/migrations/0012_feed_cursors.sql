-- Feeds that publish the log elsewhere (NATS JetStream): the next log index each is to publish,
-- kept once the bus acknowledged everything before it.
CREATE TABLE IF NOT EXISTS feed_cursors (
    name TEXT PRIMARY KEY,
    next BIGINT NOT NULL
);
