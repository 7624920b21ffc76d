//! The catalog connection settings (spec/cluster.md §2): `db.yml` and the `FERRY_DB`
//! string both parse into one raw form, which is validated into an immutable [`DbConfig`].
//!
//! The password is kept private: `Debug` and `Display` print `***` in its place, and no
//! accessor hands it out beyond this crate. Deliberately not here: reading environment
//! variables (the caller passes the `FERRY_DB` value in), opening connections, TLS
//! certificate settings beyond `ssl: true`.

use std::fmt;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use crate::error::{CatalogError, redact};
use crate::ferry_db;

/// Connections a pool opens at most when `max_connections` is not given, for SQLite.
const DEFAULT_SQLITE_CONNECTIONS: u32 = 4;
/// Connections a pool opens at most when `max_connections` is not given, for servers.
const DEFAULT_SERVER_CONNECTIONS: u32 = 10;

/// The SQL dialect of the catalog database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// An embedded SQLite file (single node).
    Sqlite,
    /// MySQL 5.7/8.0 or MariaDB 10.6+.
    #[serde(alias = "mariadb")]
    Mysql,
    /// PostgreSQL 13+.
    #[serde(alias = "postgresql")]
    Postgres,
}

impl Dialect {
    /// The name used in `db.yml` and `FERRY_DB`.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Mysql => "mysql",
            Dialect::Postgres => "postgres",
        }
    }

    /// The server port used when `port` is not given (none for SQLite).
    pub fn default_port(self) -> Option<u16> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Mysql => Some(3306),
            Dialect::Postgres => Some(5432),
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Dialect {
    type Err = CatalogError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Dialect::Sqlite),
            "mysql" | "mariadb" => Ok(Dialect::Mysql),
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            other => Err(CatalogError::Config(format!(
                "unknown dialect `{other}` (expected sqlite, mysql or postgres)"
            ))),
        }
    }
}

/// The keys of `db.yml` / `FERRY_DB` as given, before validation.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDbConfig {
    pub(crate) dialect: Option<Dialect>,
    pub(crate) host: Option<String>,
    pub(crate) port: Option<u16>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) database: Option<String>,
    pub(crate) ssl: Option<bool>,
    pub(crate) path: Option<PathBuf>,
    pub(crate) max_connections: Option<u32>,
}

/// A validated catalog connection configuration. Built only through its constructors,
/// so every instance is complete for its dialect.
#[derive(Clone, PartialEq, Eq)]
pub struct DbConfig {
    dialect: Dialect,
    host: Option<String>,
    port: Option<u16>,
    username: Option<String>,
    password: Option<String>,
    database: Option<String>,
    ssl: bool,
    path: Option<PathBuf>,
    max_connections: Option<u32>,
}

impl DbConfig {
    /// An embedded SQLite catalog in the file `path` (created on first connect).
    pub fn sqlite(path: PathBuf) -> DbConfig {
        DbConfig {
            dialect: Dialect::Sqlite,
            host: None,
            port: None,
            username: None,
            password: None,
            database: None,
            ssl: false,
            path: Some(path),
            max_connections: None,
        }
    }

    /// Parses and validates the text of a `db.yml` file. Unknown keys are refused.
    pub fn from_yaml_str(yaml: &str) -> Result<DbConfig, CatalogError> {
        match serde_yaml::from_str::<RawDbConfig>(yaml) {
            Ok(raw) => raw.validate(),
            Err(e) => Err(CatalogError::Config(redact(
                format!("db.yml: {e}"),
                yaml_password(yaml).as_deref(),
            ))),
        }
    }

    /// Reads, parses and validates a `db.yml` file.
    pub fn from_yaml_file(path: &Path) -> Result<DbConfig, CatalogError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CatalogError::Config(format!("cannot read {}: {e}", path.display())))?;
        DbConfig::from_yaml_str(&text).map_err(|e| match e {
            CatalogError::Config(msg) => CatalogError::Config(format!("{}: {msg}", path.display())),
            other => other,
        })
    }

    /// Parses and validates a `FERRY_DB` string:
    /// `dialect=mysql&host=db1&port=3306&username=ferry&password=...&database=ferry&ssl=true`.
    /// Values are percent-decoded (`%26` for `&`; `+` stays `+`); unknown keys are refused.
    pub fn from_ferry_db(value: &str) -> Result<DbConfig, CatalogError> {
        ferry_db::parse(value)?.validate()
    }

    /// The same configuration with another pool size.
    pub fn with_max_connections(mut self, max: NonZeroU32) -> DbConfig {
        self.max_connections = Some(max.get());
        self
    }

    /// The SQL dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The server host (MySQL, PostgreSQL).
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The server port, defaulted per dialect (MySQL, PostgreSQL).
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The user name (MySQL, PostgreSQL).
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// Whether a password is configured (the password itself never leaves this crate).
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// The database name (MySQL, PostgreSQL).
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// Whether the connection must use TLS with a verified server certificate.
    pub fn ssl(&self) -> bool {
        self.ssl
    }

    /// The SQLite file.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The most connections the catalog pool opens.
    pub fn max_connections(&self) -> u32 {
        self.max_connections.unwrap_or(match self.dialect {
            Dialect::Sqlite => DEFAULT_SQLITE_CONNECTIONS,
            Dialect::Mysql | Dialect::Postgres => DEFAULT_SERVER_CONNECTIONS,
        })
    }

    /// The password, for building connect options inside this crate only.
    pub(crate) fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }
}

impl RawDbConfig {
    /// Checks that every key the dialect needs is there and no key it cannot use is.
    pub(crate) fn validate(self) -> Result<DbConfig, CatalogError> {
        let dialect = self.dialect.ok_or_else(|| {
            CatalogError::Config("missing key `dialect` (sqlite, mysql or postgres)".to_owned())
        })?;
        if self.max_connections == Some(0) {
            return Err(CatalogError::Config(
                "key `max_connections` must be at least 1".to_owned(),
            ));
        }
        match dialect {
            Dialect::Sqlite => self.validate_sqlite(),
            Dialect::Mysql | Dialect::Postgres => self.validate_server(dialect),
        }
    }

    fn validate_sqlite(self) -> Result<DbConfig, CatalogError> {
        let not_for_sqlite = [
            ("host", self.host.is_some()),
            ("port", self.port.is_some()),
            ("username", self.username.is_some()),
            ("password", self.password.is_some()),
            ("database", self.database.is_some()),
            ("ssl", self.ssl == Some(true)),
        ];
        if let Some((key, _)) = not_for_sqlite.iter().find(|(_, set)| *set) {
            return Err(CatalogError::Config(format!(
                "key `{key}` does not apply to dialect sqlite"
            )));
        }
        let path = match self.path {
            Some(path) if !path.as_os_str().is_empty() => path,
            _ => {
                return Err(CatalogError::Config(
                    "missing key `path` for dialect sqlite".to_owned(),
                ));
            }
        };
        Ok(DbConfig {
            max_connections: self.max_connections,
            ..DbConfig::sqlite(path)
        })
    }

    fn validate_server(self, dialect: Dialect) -> Result<DbConfig, CatalogError> {
        if self.path.is_some() {
            return Err(CatalogError::Config(format!(
                "key `path` does not apply to dialect {dialect} (it names a sqlite file)"
            )));
        }
        let required = |key: &str, value: Option<String>| match value {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(CatalogError::Config(format!(
                "missing key `{key}` for dialect {dialect}"
            ))),
        };
        let host = required("host", self.host)?;
        let username = required("username", self.username)?;
        let database = required("database", self.database)?;
        let port = match self.port {
            Some(0) => {
                return Err(CatalogError::Config(
                    "key `port` must be from 1 to 65535".to_owned(),
                ));
            }
            Some(port) => port,
            None => dialect
                .default_port()
                .expect("server dialects have a default port"),
        };
        Ok(DbConfig {
            dialect,
            host: Some(host),
            port: Some(port),
            username: Some(username),
            password: self.password.filter(|p| !p.is_empty()),
            database: Some(database),
            ssl: self.ssl.unwrap_or(false),
            path: None,
            max_connections: self.max_connections,
        })
    }
}

/// The `password` value of a YAML mapping, if the text is one; used only to redact it
/// from parse errors of the same text.
fn yaml_password(yaml: &str) -> Option<String> {
    let value: serde_yaml::Value = serde_yaml::from_str(yaml).ok()?;
    match value.get("password")? {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbConfig")
            .field("dialect", &self.dialect)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("database", &self.database)
            .field("ssl", &self.ssl)
            .field("path", &self.path)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// `sqlite:<path>` or `mysql://user@host:port/database` (plus `?ssl=true`); never the
/// password.
impl fmt::Display for DbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.dialect {
            Dialect::Sqlite => {
                let path = self.path.as_deref().unwrap_or(Path::new(""));
                write!(f, "sqlite:{}", path.display())
            }
            Dialect::Mysql | Dialect::Postgres => {
                write!(
                    f,
                    "{}://{}@{}:{}/{}",
                    self.dialect,
                    self.username.as_deref().unwrap_or(""),
                    self.host.as_deref().unwrap_or(""),
                    self.port.unwrap_or(0),
                    self.database.as_deref().unwrap_or(""),
                )?;
                if self.ssl {
                    f.write_str("?ssl=true")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(result: Result<DbConfig, CatalogError>) -> String {
        match result {
            Ok(cfg) => panic!("expected an error, got {cfg:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn yaml_server_config_gets_default_ports() {
        let my = DbConfig::from_yaml_str(
            "dialect: mysql\nhost: db1\nusername: ferry\ndatabase: ferry\n",
        )
        .expect("valid");
        assert_eq!(my.port(), Some(3306));
        assert!(!my.ssl());
        assert_eq!(my.max_connections(), DEFAULT_SERVER_CONNECTIONS);
        let pg = DbConfig::from_yaml_str(
            "dialect: postgres\nhost: db1\nusername: ferry\ndatabase: ferry\nssl: true\n",
        )
        .expect("valid");
        assert_eq!(pg.port(), Some(5432));
        assert!(pg.ssl());
    }

    #[test]
    fn missing_keys_are_named() {
        let msg = err(DbConfig::from_yaml_str(
            "dialect: mysql\nusername: u\ndatabase: d\n",
        ));
        assert!(msg.contains("`host`"), "{msg}");
        let msg = err(DbConfig::from_yaml_str(
            "dialect: postgres\nhost: h\ndatabase: d\n",
        ));
        assert!(msg.contains("`username`"), "{msg}");
        let msg = err(DbConfig::from_yaml_str(
            "dialect: postgres\nhost: h\nusername: u\n",
        ));
        assert!(msg.contains("`database`"), "{msg}");
        let msg = err(DbConfig::from_yaml_str("dialect: sqlite\n"));
        assert!(msg.contains("`path`"), "{msg}");
        let msg = err(DbConfig::from_yaml_str("host: h\n"));
        assert!(msg.contains("`dialect`"), "{msg}");
    }

    #[test]
    fn keys_of_another_dialect_are_refused() {
        let msg = err(DbConfig::from_yaml_str(
            "dialect: sqlite\npath: /x\nhost: h\n",
        ));
        assert!(msg.contains("`host`"), "{msg}");
        let msg = err(DbConfig::from_yaml_str(
            "dialect: mysql\nhost: h\nusername: u\ndatabase: d\npath: /x\n",
        ));
        assert!(msg.contains("`path`"), "{msg}");
    }

    #[test]
    fn zero_port_and_pool_are_refused() {
        let msg = err(DbConfig::from_yaml_str(
            "dialect: mysql\nhost: h\nusername: u\ndatabase: d\nport: 0\n",
        ));
        assert!(msg.contains("`port`"), "{msg}");
        let msg = err(DbConfig::from_yaml_str(
            "dialect: sqlite\npath: /x\nmax_connections: 0\n",
        ));
        assert!(msg.contains("`max_connections`"), "{msg}");
    }

    #[test]
    fn unknown_yaml_key_is_refused() {
        let msg = err(DbConfig::from_yaml_str(
            "dialect: sqlite\npath: /x\nverify: no\n",
        ));
        assert!(msg.contains("verify"), "{msg}");
    }

    #[test]
    fn dialect_aliases_parse() {
        assert_eq!("MariaDB".parse::<Dialect>().expect("alias"), Dialect::Mysql);
        assert_eq!(
            "postgresql".parse::<Dialect>().expect("alias"),
            Dialect::Postgres
        );
        assert!("oracle".parse::<Dialect>().is_err());
    }

    #[test]
    fn display_and_debug_hide_the_password() {
        let cfg = DbConfig::from_yaml_str(
            "dialect: mysql\nhost: db1\nusername: ferry\npassword: Sw0rdf1sh!\ndatabase: f\nssl: true\n",
        )
        .expect("valid");
        assert!(cfg.has_password());
        assert_eq!(cfg.to_string(), "mysql://ferry@db1:3306/f?ssl=true");
        let debug = format!("{cfg:?} {cfg:#?}");
        assert!(!debug.contains("Sw0rdf1sh!"), "{debug}");
        assert!(debug.contains("***"), "{debug}");
    }

    #[test]
    fn unquoted_yaml_password_is_kept_as_written() {
        let cfg = DbConfig::from_yaml_str(
            "dialect: mysql\nhost: h\nusername: u\ndatabase: d\npassword: 0086420975\n",
        )
        .expect("valid");
        assert_eq!(cfg.password(), Some("0086420975"));
    }

    #[test]
    fn yaml_type_errors_do_not_echo_the_password() {
        // `port` holds the password by mistake: the parse error must not print it.
        let msg = err(DbConfig::from_yaml_str(
            "dialect: mysql\nhost: h\nusername: u\ndatabase: d\npassword: Sw0rdf1sh\nport: Sw0rdf1sh\n",
        ));
        assert!(!msg.contains("Sw0rdf1sh"), "{msg}");
    }
}
