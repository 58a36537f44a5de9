-- The log's nodes, a tile at a time, as in the SQLite store (docs/log-format.md, "Storage").
-- Row (level, idx) holds every complete node of tree levels 8·level to 8·level + 7 below C2SP
-- tile level/idx: the tile's own `width` hashes, then each level above them, 32 bytes a node.
-- Hashes do not compress, so the column is kept out of line without trying.
CREATE TABLE log_tiles (
    level  SMALLINT NOT NULL,
    idx    BIGINT   NOT NULL,
    width  SMALLINT NOT NULL,
    hashes BYTEA    NOT NULL,
    PRIMARY KEY (level, idx)
);
ALTER TABLE log_tiles ALTER COLUMN hashes SET STORAGE EXTERNAL;
INSERT INTO log_tiles (level, idx, width, hashes)
SELECT level / 8, idx >> (8 - level % 8)::int, count(*) FILTER (WHERE level % 8 = 0),
       string_agg(hash, ''::bytea ORDER BY level, idx)
FROM log_nodes
GROUP BY level / 8, idx >> (8 - level % 8)::int;
DROP TABLE log_nodes;
