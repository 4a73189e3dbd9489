//! What to say when the database cannot be reached: where we tried (host, port, database — never
//! the credentials) and why, found by trying the TCP connection ourselves (the driver's own
//! message is often just "error connecting to server").

use std::time::Duration;

/// `host:port/database` of a `postgres://` URL, without user or password.
///
/// ```
/// use portcullis_postgres::describe_target;
/// assert_eq!(describe_target("postgres://u:secret@db.internal:5433/auth"), "db.internal:5433/auth");
/// assert_eq!(describe_target("postgres://u@localhost/auth"), "localhost:5432/auth");
/// assert_eq!(describe_target("not a url"), "(an unparseable database URL)");
/// ```
pub fn describe_target(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}:{}{}",
            u.host_str().unwrap_or("localhost"),
            u.port().unwrap_or(5432),
            u.path()
        ),
        Err(_) => "(an unparseable database URL)".to_owned(),
    }
}

/// Why a connection to `url` fails: the driver's word (it never holds the password), and what a
/// plain TCP attempt tells.
pub(crate) async fn diagnose(url: &str, driver: &diesel::ConnectionError) -> String {
    let target = describe_target(url);
    let Ok(u) = url::Url::parse(url) else {
        return "the database URL does not parse; it must look like postgres://user:password@host:5432/database"
            .to_owned();
    };
    let host = u.host_str().unwrap_or("localhost").to_owned();
    let port = u.port().unwrap_or(5432);
    let tried = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await;
    let cause = match tried {
        Err(_) => "no answer within 3 s (a firewall, or a wrong host)".to_owned(),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused: nothing listens there (is PostgreSQL running, and is the port right?)".to_owned()
        }
        Ok(Err(e)) => format!("{e}"),
        Ok(Ok(_)) => "the server accepts connections but refused the session (check user, password, database name and TLS settings)".to_owned(),
    };
    // Belt and braces: whatever the driver said, without the URL or its password.
    let mut driver = driver.to_string().replace(url, "<database url>");
    if let Some(password) = u.password().filter(|p| !p.is_empty()) {
        driver = driver.replace(password, "<redacted>");
    }
    format!("cannot connect to the database at {target}: {cause} (driver: {driver})")
}
