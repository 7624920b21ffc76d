-- Ferry catalog, SQLite: catalog metadata, cluster identity, index definitions.
-- Times are Unix epoch milliseconds; JSON documents are stored as text.

CREATE TABLE catalog_meta (
    meta_key   TEXT NOT NULL PRIMARY KEY,
    meta_value TEXT NOT NULL
);

CREATE TABLE cluster (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    uuid       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);

CREATE TABLE indices (
    uuid             TEXT   NOT NULL PRIMARY KEY,
    name             TEXT   NOT NULL UNIQUE,
    settings         TEXT   NOT NULL,
    mappings         TEXT   NOT NULL,
    state            TEXT   NOT NULL CHECK (state IN ('open', 'closed')),
    settings_version BIGINT NOT NULL,
    mapping_version  BIGINT NOT NULL,
    created_at       BIGINT NOT NULL
);
