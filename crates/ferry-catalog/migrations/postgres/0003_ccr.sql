-- Ferry catalog, PostgreSQL: cross-cluster replication metadata that must survive a
-- restart, one row per record. `kind` is `follow` (name: the follower index) or
-- `auto_follow` (name: the pattern); `record_value` is the JSON of the record; `updated_at`
-- is Unix epoch milliseconds of the last write. Names use the "C" collation so they
-- compare and sort byte-wise, as on SQLite and MySQL.

CREATE TABLE ccr_records (
    kind         VARCHAR(32)  NOT NULL CHECK (kind IN ('follow', 'auto_follow')),
    name         VARCHAR(255) COLLATE "C" NOT NULL,
    record_value TEXT         NOT NULL,
    updated_at   BIGINT       NOT NULL,
    PRIMARY KEY (kind, name)
);
