-- Ferry catalog, SQLite: cross-cluster replication metadata that must survive a restart,
-- one row per record. `kind` is `follow` (name: the follower index) or `auto_follow`
-- (name: the pattern); `record_value` is the JSON of the record; `updated_at` is Unix
-- epoch milliseconds of the last write. TEXT compares byte-wise (BINARY collation).

CREATE TABLE ccr_records (
    kind         TEXT   NOT NULL CHECK (kind IN ('follow', 'auto_follow')),
    name         TEXT   NOT NULL,
    record_value TEXT   NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (kind, name)
);
