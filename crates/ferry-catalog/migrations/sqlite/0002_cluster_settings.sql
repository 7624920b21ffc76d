-- Ferry catalog, SQLite: persistent cluster settings (`PUT /_cluster/settings`), one row
-- per flat key. `scope` is `persistent` (transient settings never reach the catalog);
-- `setting_value` is the JSON of the value (a string or a list of strings).

CREATE TABLE cluster_settings (
    scope         TEXT NOT NULL CHECK (scope IN ('persistent')),
    setting_key   TEXT NOT NULL,
    setting_value TEXT NOT NULL,
    PRIMARY KEY (scope, setting_key)
);
