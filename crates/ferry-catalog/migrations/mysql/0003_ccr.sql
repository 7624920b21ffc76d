-- Ferry catalog, MySQL/MariaDB: cross-cluster replication metadata that must survive a
-- restart, one row per record. `kind` is `follow` (name: the follower index) or
-- `auto_follow` (name: the pattern); `record_value` is the JSON of the record (LONGTEXT:
-- a record can list thousands of followed index UUIDs); `updated_at` is Unix epoch
-- milliseconds of the last write. Names compare byte-exact (utf8mb4_bin).

CREATE TABLE ccr_records (
    kind         VARCHAR(32)  NOT NULL CHECK (kind IN ('follow', 'auto_follow')),
    name         VARCHAR(255) NOT NULL,
    record_value LONGTEXT     NOT NULL,
    updated_at   BIGINT       NOT NULL,
    PRIMARY KEY (kind, name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
