//! `db.yml` and `FERRY_DB` parse into the same validated configuration, and the password
//! never shows in the configuration's output or in any configuration or connection error.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;

use anyhow::{Result, ensure};
use ferry_catalog::{Catalog, CatalogError, DbConfig, Dialect};

const PASSWORD: &str = "Tr0ub4dor&3=correct+horse";
/// `PASSWORD` percent-encoded for `FERRY_DB`.
const PASSWORD_ENCODED: &str = "Tr0ub4dor%263%3Dcorrect+horse";

fn error_text(e: &CatalogError) -> String {
    format!("{e} | {e:?} | {e:#}")
}

#[test]
fn yaml_and_ferry_db_give_the_same_config() -> Result<()> {
    let yaml = DbConfig::from_yaml_str(&format!(
        "dialect: mysql\nhost: db1.example\nport: 3307\nusername: ferry\npassword: '{PASSWORD}'\n\
         database: ferry\nssl: true\nmax_connections: 5\n"
    ))?;
    let env = DbConfig::from_ferry_db(&format!(
        "dialect=mysql&host=db1.example&port=3307&username=ferry&password={PASSWORD_ENCODED}\
         &database=ferry&ssl=true&max_connections=5"
    ))?;
    ensure!(yaml == env, "{yaml:?} != {env:?}");
    ensure!(env.dialect() == Dialect::Mysql);
    ensure!(env.host() == Some("db1.example") && env.port() == Some(3307));
    ensure!(env.username() == Some("ferry") && env.database() == Some("ferry"));
    ensure!(env.ssl() && env.has_password() && env.max_connections() == 5);
    Ok(())
}

#[test]
fn default_ports_per_dialect() -> Result<()> {
    let my = DbConfig::from_ferry_db("dialect=mysql&host=h&username=u&database=d")?;
    ensure!(my.port() == Some(3306) && !my.ssl() && !my.has_password());
    let pg = DbConfig::from_ferry_db("dialect=postgres&host=h&username=u&database=d")?;
    ensure!(pg.port() == Some(5432));
    Ok(())
}

#[test]
fn url_decoding_of_values() -> Result<()> {
    let cfg = DbConfig::from_ferry_db(
        "dialect=postgres&host=db%2D1&username=fe%20rry&database=f%C3%A9rry&password=a%25b",
    )?;
    ensure!(cfg.host() == Some("db-1"));
    ensure!(cfg.username() == Some("fe rry"));
    ensure!(cfg.database() == Some("férry"));
    let sqlite = DbConfig::from_ferry_db("dialect=sqlite&path=%2Fvar%2Flib%2Fferry%2Fcatalog.db")?;
    ensure!(sqlite == DbConfig::sqlite(PathBuf::from("/var/lib/ferry/catalog.db")));
    Ok(())
}

#[test]
fn unknown_keys_are_refused_in_both_forms() {
    let e = DbConfig::from_ferry_db("dialect=mysql&host=h&username=u&database=d&sslmode=on")
        .expect_err("unknown key");
    assert!(matches!(e, CatalogError::Config(_)));
    assert!(e.to_string().contains("`sslmode`"), "{e}");
    let e =
        DbConfig::from_yaml_str("dialect: mysql\nhost: h\nusername: u\ndatabase: d\nsslmode: on\n")
            .expect_err("unknown key");
    assert!(e.to_string().contains("sslmode"), "{e}");
}

#[test]
fn missing_host_names_the_key_in_both_forms() {
    for e in [
        DbConfig::from_ferry_db("dialect=mysql&username=u&database=d").expect_err("no host"),
        DbConfig::from_yaml_str("dialect: mysql\nusername: u\ndatabase: d\n").expect_err("no host"),
    ] {
        assert!(e.to_string().contains("`host`"), "{e}");
    }
}

#[test]
fn yaml_file_is_read_and_errors_name_it() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("db.yml");
    std::fs::write(&path, "dialect: sqlite\npath: /tmp/ferry.db\n")?;
    ensure!(DbConfig::from_yaml_file(&path)? == DbConfig::sqlite("/tmp/ferry.db".into()));
    std::fs::write(&path, "dialect: sqlite\n")?;
    let e = DbConfig::from_yaml_file(&path).expect_err("no path");
    ensure!(
        e.to_string().contains("db.yml") && e.to_string().contains("`path`"),
        "{e}"
    );
    let e = DbConfig::from_yaml_file(&dir.path().join("absent.yml")).expect_err("no file");
    ensure!(e.to_string().contains("absent.yml"), "{e}");
    Ok(())
}

#[test]
fn config_output_never_shows_the_password() -> Result<()> {
    let cfg = DbConfig::from_ferry_db(&format!(
        "dialect=postgres&host=db&username=u&password={PASSWORD_ENCODED}&database=d"
    ))?;
    let shown = format!("{cfg} | {cfg:?} | {cfg:#?}");
    ensure!(!shown.contains(PASSWORD), "{shown}");
    ensure!(!shown.contains("Tr0ub4dor"), "{shown}");
    Ok(())
}

#[test]
fn config_errors_never_show_the_password() {
    let attempts = [
        DbConfig::from_ferry_db(&format!("dialect=mysql&password={PASSWORD_ENCODED}&port=x")),
        DbConfig::from_ferry_db(&format!(
            "dialect=mysql&password={PASSWORD_ENCODED}&bogus=1"
        )),
        DbConfig::from_ferry_db(&format!("dialect=mysql&password={PASSWORD_ENCODED}")),
        DbConfig::from_ferry_db(&format!(
            "dialect=sqlite&path=/x&password={PASSWORD_ENCODED}"
        )),
        DbConfig::from_ferry_db(&format!(
            "dialect=mysql&port={PASSWORD_ENCODED}&password={PASSWORD_ENCODED}"
        )),
        DbConfig::from_yaml_str(&format!("dialect: mysql\npassword: '{PASSWORD}'\n")),
        DbConfig::from_yaml_str(&format!(
            "dialect: mysql\npassword: '{PASSWORD}'\nport: '{PASSWORD}'\n"
        )),
        DbConfig::from_yaml_str(&format!(
            "dialect: mysql\npassword: '{PASSWORD}'\nbogus: 1\n"
        )),
    ];
    // An unquoted numeric password is taken as written, and hidden like any other.
    let cfg = DbConfig::from_yaml_str(
        "dialect: mysql\nhost: h\nusername: u\ndatabase: d\npassword: 0086420975\n",
    )
    .expect("a numeric password is a password");
    assert!(cfg.has_password());
    assert!(!format!("{cfg} {cfg:?}").contains("86420975"), "{cfg:?}");
    for attempt in attempts {
        let e = attempt.expect_err("every attempt is invalid");
        let text = error_text(&e);
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(!text.contains("Tr0ub4dor"), "{text}");
    }
}

/// A port where nothing listens: bind one, note it, close it.
fn closed_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

#[tokio::test]
async fn connection_errors_never_show_the_password() -> Result<()> {
    common::install_tls_provider();
    let port = closed_port()?;
    let mut configs = vec![
        // Nothing listens: connection refused.
        format!(
            "dialect=mysql&host=127.0.0.1&port={port}&username=ferry&password={PASSWORD_ENCODED}&database=ferry"
        ),
        format!(
            "dialect=postgres&host=127.0.0.1&port={port}&username=ferry&password={PASSWORD_ENCODED}&database=ferry&ssl=true"
        ),
    ];
    let mysql_up = std::net::TcpStream::connect(("127.0.0.1", common::mysql_port())).is_ok();
    let pg_up = std::net::TcpStream::connect(("127.0.0.1", common::postgres_port())).is_ok();
    if mysql_up {
        // A real server refusing the password (root has none).
        configs.push(format!(
            "dialect=mysql&host=127.0.0.1&port={}&username=root&password={PASSWORD_ENCODED}&database=mysql",
            common::mysql_port()
        ));
        configs.push(format!(
            "dialect=mysql&host=127.0.0.1&port={}&username=no_such_user_x&password={PASSWORD_ENCODED}&database=mysql",
            common::mysql_port()
        ));
        // TLS with certificate verification against a local server cannot succeed.
        configs.push(format!(
            "dialect=mysql&host=127.0.0.1&port={}&username=root&password={PASSWORD_ENCODED}&database=mysql&ssl=true",
            common::mysql_port()
        ));
    } else {
        common::skip("MariaDB part of connection_errors_never_show_the_password (unreachable)");
    }
    if pg_up {
        // A role and a database that do not exist; TLS the local server cannot verify.
        configs.push(format!(
            "dialect=postgres&host=127.0.0.1&port={}&username=no_such_role_x&password={PASSWORD_ENCODED}&database=postgres",
            common::postgres_port()
        ));
        configs.push(format!(
            "dialect=postgres&host=127.0.0.1&port={}&username=postgres&password={PASSWORD_ENCODED}&database=no_such_db_x",
            common::postgres_port()
        ));
        configs.push(format!(
            "dialect=postgres&host=127.0.0.1&port={}&username=postgres&password={PASSWORD_ENCODED}&database=postgres&ssl=true",
            common::postgres_port()
        ));
    } else {
        common::skip("PostgreSQL part of connection_errors_never_show_the_password (unreachable)");
    }
    if common::in_ci() {
        ensure!(
            mysql_up && pg_up,
            "CI=true and a database server is unreachable"
        );
    }
    for text in configs {
        let config = DbConfig::from_ferry_db(&text)?;
        let e = Catalog::connect(&config)
            .await
            .expect_err("every connection is refused");
        let shown = error_text(&e);
        ensure!(matches!(e, CatalogError::Connect { .. }), "{shown}");
        ensure!(!shown.contains(PASSWORD), "{shown}");
        ensure!(!shown.contains("Tr0ub4dor"), "{shown}");
        eprintln!("refused as expected: {e}");
    }

    // SQLite in a directory that does not exist.
    let dir = tempfile::tempdir()?;
    let config = DbConfig::sqlite(dir.path().join("missing").join("catalog.db"));
    let e = Catalog::connect(&config).await.expect_err("no directory");
    ensure!(matches!(e, CatalogError::Connect { .. }), "{e}");
    ensure!(e.to_string().contains("does not exist"), "{e}");
    Ok(())
}
