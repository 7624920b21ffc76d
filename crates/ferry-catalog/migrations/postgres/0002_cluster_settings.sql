-- Ferry catalog, PostgreSQL: persistent cluster settings (`PUT /_cluster/settings`), one
-- row per flat key. `scope` is `persistent` (transient settings never reach the catalog);
-- `setting_value` is the JSON of the value. Keys use the "C" collation so they sort
-- byte-wise, as on SQLite and MySQL.

CREATE TABLE cluster_settings (
    scope         VARCHAR(16)  NOT NULL CHECK (scope IN ('persistent')),
    setting_key   VARCHAR(255) COLLATE "C" NOT NULL,
    setting_value TEXT         NOT NULL,
    PRIMARY KEY (scope, setting_key)
);
