-- Ferry catalog, MySQL 5.7+/8.0 and MariaDB 10.6+: catalog metadata, cluster identity,
-- index definitions. Times are Unix epoch milliseconds; JSON documents are stored as
-- LONGTEXT (MariaDB's JSON is an alias of it anyway). Names compare byte-exact (utf8mb4_bin).

CREATE TABLE catalog_meta (
    meta_key   VARCHAR(64) NOT NULL PRIMARY KEY,
    meta_value TEXT        NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE cluster (
    id         SMALLINT     NOT NULL PRIMARY KEY CHECK (id = 1),
    uuid       VARCHAR(36)  NOT NULL,
    name       VARCHAR(255) NOT NULL,
    created_at BIGINT       NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE indices (
    uuid             VARCHAR(36)  NOT NULL PRIMARY KEY,
    name             VARCHAR(255) NOT NULL,
    settings         LONGTEXT     NOT NULL,
    mappings         LONGTEXT     NOT NULL,
    state            VARCHAR(16)  NOT NULL CHECK (state IN ('open', 'closed')),
    settings_version BIGINT       NOT NULL,
    mapping_version  BIGINT       NOT NULL,
    created_at       BIGINT       NOT NULL,
    CONSTRAINT indices_name_key UNIQUE (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
