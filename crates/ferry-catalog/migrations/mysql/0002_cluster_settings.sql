-- Ferry catalog, MySQL/MariaDB: persistent cluster settings (`PUT /_cluster/settings`),
-- one row per flat key. `scope` is `persistent` (transient settings never reach the
-- catalog); `setting_value` is the JSON of the value. Column names avoid `KEY`, a
-- reserved word in MySQL.

CREATE TABLE cluster_settings (
    scope         VARCHAR(16)  NOT NULL CHECK (scope IN ('persistent')),
    setting_key   VARCHAR(255) NOT NULL,
    setting_value LONGTEXT     NOT NULL,
    PRIMARY KEY (scope, setting_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
