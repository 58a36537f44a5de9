-- The log's nodes, a tile at a time (docs/log-format.md, "Storage"). Row (level, idx) holds
-- every complete node of tree levels 8·level to 8·level + 7 below C2SP tile level/idx: first
-- the tile's own `width` hashes, then each level above them, 32 bytes a node. An inclusion
-- proof reads one row per eight tree levels, where it read one row per level from log_nodes.
-- A plain rowid table: rows of up to 16 KB do not belong in the keys of a WITHOUT ROWID tree.
CREATE TABLE log_tiles (
    level  INTEGER NOT NULL,
    idx    INTEGER NOT NULL,
    width  INTEGER NOT NULL,
    hashes BLOB    NOT NULL,
    PRIMARY KEY (level, idx)
);
INSERT INTO log_tiles (level, idx, width, hashes)
SELECT level / 8, idx >> (8 - level % 8), sum(level % 8 = 0),
       unhex(group_concat(hex(hash), '' ORDER BY level, idx))
FROM log_nodes
GROUP BY level / 8, idx >> (8 - level % 8);
DROP TABLE log_nodes;
