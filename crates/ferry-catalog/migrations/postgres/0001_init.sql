-- Ferry catalog, PostgreSQL 13+: catalog metadata, cluster identity, index definitions.
-- Times are Unix epoch milliseconds; JSON documents are stored as text (the catalog
-- never queries inside them, and text keeps the key order ES clients expect). Index names
-- use the "C" collation so they compare and sort byte-wise, as on SQLite and MySQL.

CREATE TABLE catalog_meta (
    meta_key   VARCHAR(64) NOT NULL PRIMARY KEY,
    meta_value TEXT        NOT NULL
);

CREATE TABLE cluster (
    id         SMALLINT     NOT NULL PRIMARY KEY CHECK (id = 1),
    uuid       VARCHAR(36)  NOT NULL,
    name       VARCHAR(255) NOT NULL,
    created_at BIGINT       NOT NULL
);

CREATE TABLE indices (
    uuid             VARCHAR(36)  NOT NULL PRIMARY KEY,
    name             VARCHAR(255) COLLATE "C" NOT NULL,
    settings         TEXT         NOT NULL,
    mappings         TEXT         NOT NULL,
    state            VARCHAR(16)  NOT NULL CHECK (state IN ('open', 'closed')),
    settings_version BIGINT       NOT NULL,
    mapping_version  BIGINT       NOT NULL,
    created_at       BIGINT       NOT NULL,
    CONSTRAINT indices_name_key UNIQUE (name)
);
