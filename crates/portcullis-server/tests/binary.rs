//! The real `portcullis` binary, as an operator runs it: two nodes starting at once on an empty
//! database, a full register/login/refresh/logout run whose logs must not contain a secret,
//! and a clean exit on SIGTERM.

#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
use portcullis_postgres::scratch::ScratchDatabase;
use serde_json::{Value, json};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Node {
    child: Child,
    base: String,
    log: std::path::PathBuf,
    mail_dir: std::path::PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.mail_dir);
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Node {
    fn start(database_url: &str) -> Self {
        Self::start_with(database_url, &[])
    }

    fn start_with(database_url: &str, extra_env: &[(&str, String)]) -> Self {
        let port = free_port();
        // A file, not a pipe: nobody drains a pipe while the node runs, and a full one blocks it.
        let log = std::env::temp_dir().join(format!("portcullis-node-{port}-{}.log", std::process::id()));
        let out = std::fs::File::create(&log).unwrap();
        let mail_dir = std::env::temp_dir().join(format!("portcullis-node-mail-{port}"));
        let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("PORTCULLIS_SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("PORTCULLIS_SERVER__WORKERS", "1")
            // Keys are generated and kept in the database, as on a developer's machine.
            .env("PORTCULLIS_SERVER__PROFILE", "development")
            .env("PORTCULLIS_MAIL__DIR", &mail_dir)
            .env("PORTCULLIS_PASSWORDS__ARGON2_M_COST_KIB", "1024")
            .env("PORTCULLIS_PASSWORDS__ARGON2_T_COST", "1")
            // No drain on SIGTERM unless a test asks for one.
            .env("PORTCULLIS_SERVER__SHUTDOWN_DRAIN_SECS", "0")
            // These flows mail one address several times a minute; the other limits stay on.
            .env("PORTCULLIS_LIMITS__MAILS_PER_RECIPIENT_PER_MINUTE", "0")
            // Everything, so the secret grep below sees every line the service can write.
            .env("RUST_LOG", "trace")
            .envs(extra_env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap();
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            mail_dir,
        }
    }

    async fn wait_ready(&self, http: &reqwest::Client) {
        for _ in 0..200 {
            if let Ok(res) = http.get(format!("{}/health/ready", self.base)).send().await
                && res.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("node at {} never became ready", self.base);
    }

    async fn login(&self, http: &reqwest::Client, login: &str, password: &str) -> (u16, Value) {
        let body = json!({ "login": login, "password": password });
        post(http, &self.base, "/v1/auth/login", body, None).await
    }

    async fn refresh(&self, http: &reqwest::Client, refresh_token: &str) -> (u16, Value) {
        let body = json!({ "refresh_token": refresh_token });
        post(http, &self.base, "/v1/auth/refresh", body, None).await
    }

    /// The status of `GET /v1/account` with `access`.
    async fn account_status(&self, http: &reqwest::Client, access: &str) -> u16 {
        let request = http.get(format!("{}/v1/account", self.base)).bearer_auth(access);
        request.send().await.unwrap().status().as_u16()
    }

    /// Sends SIGTERM, waits for the exit, returns (success, everything it logged).
    fn terminate(&mut self) -> (bool, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let logs = std::fs::read_to_string(&self.log).unwrap();
        (exit.success(), logs)
    }
}

async fn post(http: &reqwest::Client, base: &str, path: &str, body: Value, bearer: Option<&str>) -> (u16, Value) {
    let mut req = http.post(format!("{base}{path}")).json(&body);
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_database_and_logs_carry_no_secret() {
    let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let db = ScratchDatabase::create_empty(&admin).await.unwrap();
    let http = reqwest::Client::new();

    // Both nodes migrate the empty database and mint keys at the same moment.
    let mut a = Node::start(db.url());
    let mut b = Node::start(db.url());
    a.wait_ready(&http).await;
    b.wait_ready(&http).await;

    let jwks = |node: &Node| {
        let request = http.get(format!("{}/.well-known/jwks.json", node.base)).send();
        async { request.await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(jwks(&a).await, jwks(&b).await, "every node signs with the same key");

    let password = "Sup3r-Secret-Passw0rd!";
    let (status, reg) = post(
        &http,
        &a.base,
        "/v1/auth/register",
        json!({ "email": "ada@example.com", "password": password, "username": "ada" }),
        None,
    )
    .await;
    assert_eq!(status, 202, "{reg}");
    // Either node's worker may deliver the verification mail; the code completes the signup on
    // the other node.
    let verification = wait_for_mail(&[&a, &b], "Verify your email").await;
    let (verify_token, verify_code) = (verification.token().unwrap(), verification.code().unwrap());
    let (status, reg) = post(
        &http,
        &b.base,
        "/v1/auth/verify-email",
        json!({ "email": "ada@example.com", "code": verify_code }),
        None,
    )
    .await;
    assert_eq!(status, 200, "{reg}");
    let access = reg["data"]["access_token"].as_str().unwrap().to_owned();
    let refresh = reg["data"]["refresh_token"].as_str().unwrap().to_owned();

    // A token minted by one node works on the other, and a refresh rotates across nodes.
    assert_eq!(b.account_status(&http, &access).await, 200);
    let (status, rotated) = b.refresh(&http, &refresh).await;
    assert_eq!(status, 200, "{rotated}");
    let refresh2 = rotated["data"]["refresh_token"].as_str().unwrap().to_owned();
    let (status, _) = a.refresh(&http, &refresh).await;
    assert_eq!(status, 200, "grace window holds across nodes");

    let (status, bad) = a.login(&http, "ada", "wrong-Passw0rd-guess").await;
    assert_eq!(status, 401, "{bad}");
    // No trusted proxy is configured, so a forwarding header is a claim by the client and must
    // not become the address the request log records.
    let spoofed = http
        .post(format!("{}/v1/auth/login", a.base))
        .header("x-forwarded-for", "198.51.100.77")
        .header("forwarded", "for=198.51.100.78")
        .json(&json!({ "login": "ada", "password": "wrong-Passw0rd-guess" }))
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status().as_u16(), 401);
    let (status, login) = b.login(&http, "ada", password).await;
    assert_eq!(status, 200, "{login}");
    let access2 = login["data"]["access_token"].as_str().unwrap().to_owned();
    let (status, _) = post(
        &http,
        &a.base,
        "/v1/auth/logout",
        json!({ "scope": "global" }),
        Some(&access2),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        b.account_status(&http, &access).await,
        401,
        "global logout on one node is seen by the other at once"
    );

    // A password reset across nodes.
    let (status, _) = post(
        &http,
        &a.base,
        "/v1/auth/password/forgot",
        json!({ "email": "ada@example.com" }),
        None,
    )
    .await;
    assert_eq!(status, 202);
    let reset = wait_for_mail(&[&a, &b], "Reset your").await;
    let (reset_token, reset_code) = (reset.token().unwrap(), reset.code().unwrap());
    let new_password = "An0ther-Secret-Passphrase";
    let (status, body) = post(
        &http,
        &b.base,
        "/v1/auth/password/reset",
        json!({ "token": reset_token, "new_password": new_password }),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = a.login(&http, "ada", new_password).await;
    assert_eq!(status, 200);

    let (ok_a, logs_a) = a.terminate();
    let (ok_b, logs_b) = b.terminate();
    assert!(ok_a && ok_b, "SIGTERM ends both nodes cleanly\n{logs_a}\n{logs_b}");
    let logs = format!("{logs_a}\n{logs_b}");
    assert!(
        logs.contains("NO SIGNING KEY CONFIGURED"),
        "the generated-key warning is loud"
    );
    assert!(logs.contains("request_id"), "request ids are logged");
    // One access line per request, successful ones too, with status and latency.
    let access_lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("latency_ms") && l.contains("http.route=/v1/auth/login"))
        .collect();
    assert!(access_lines.iter().any(|l| l.contains("status=200")), "{logs}");
    assert!(access_lines.iter().any(|l| l.contains("status=401")), "{logs}");
    assert!(
        logs.contains("http.client_ip=127.0.0.1"),
        "the request log records the socket peer"
    );
    assert!(
        !logs.contains("198.51.100.77") && !logs.contains("198.51.100.78"),
        "a forwarding header from an untrusted peer reached the log"
    );
    assert!(logs.contains("NO MFA ENCRYPTION KEY CONFIGURED"));
    for secret in [
        password,
        "wrong-Passw0rd-guess",
        new_password,
        &access,
        &access2,
        &refresh,
        &refresh2,
        &verify_token,
        &reset_token,
    ] {
        assert!(
            !logs.contains(secret),
            "a secret leaked into the logs: {}…",
            &secret[..8]
        );
    }
    // Nor what the database keeps secret: the password hash, the generated signing seed and the
    // refresh key (driver-level statement logging would print them as query parameters).
    let mut conn = diesel_async::AsyncPgConnection::establish(db.url()).await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Secret {
        #[diesel(sql_type = diesel::sql_types::Bytea)]
        value: Vec<u8>,
    }
    let mut stored: Vec<Vec<u8>> = diesel::sql_query(
        "SELECT secret AS value FROM server_secrets WHERE name NOT LIKE 'fingerprint:%' \
         UNION ALL SELECT convert_to(password_hash, 'UTF8') FROM accounts",
    )
    .load::<Secret>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|s| s.value)
    .collect();
    assert_eq!(
        stored.len(),
        4,
        "signing seed, refresh key, MFA encryption key, one password hash"
    );
    for value in stored.drain(..) {
        let as_text = String::from_utf8_lossy(&value).into_owned();
        let as_debug_list = format!("{:?}", &value[..8]).trim_end_matches(']').to_owned();
        let as_hex: String = value[..8].iter().map(|b| format!("{b:02x}")).collect();
        for form in [as_text.as_str(), as_debug_list.as_str(), as_hex.as_str()] {
            assert!(
                form.len() < 8 || !logs.contains(form),
                "a stored secret leaked into the logs"
            );
        }
    }
    // Six digits could occur by chance in a long log, so codes are looked for where a careless
    // line would put them.
    for code in [&verify_code, &reset_code] {
        for form in [format!("code={code}"), format!("code: {code}"), format!("\"{code}\"")] {
            assert!(!logs.contains(&form), "a one-time code leaked into the logs");
        }
    }
    // Not even a fragment of a token: the signature part is the secret-bearing piece.
    let signature = access.rsplit('.').next().unwrap();
    assert!(!logs.contains(signature));
    assert!(!logs.to_ascii_lowercase().contains("authorization: bearer"));
}

/// Waits for an `.eml` whose subject starts with `subject` in any node's mail directory.
async fn wait_for_mail(nodes: &[&Node], subject: &str) -> portcullis_testkit::ReceivedMail {
    for _ in 0..200 {
        for node in nodes {
            for entry in std::fs::read_dir(&node.mail_dir).into_iter().flatten().flatten() {
                let data = std::fs::read_to_string(entry.path()).unwrap_or_default();
                let mail = portcullis_testkit::ReceivedMail {
                    from: String::new(),
                    to: Vec::new(),
                    data,
                };
                if mail.subject().starts_with(subject) {
                    return mail;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no mail with subject {subject:?} arrived");
}

#[derive(diesel::QueryableByName)]
struct OutboxRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempts: i32,
}

async fn outbox_row(url: &str, id: uuid::Uuid) -> OutboxRow {
    let mut conn = diesel_async::AsyncPgConnection::establish(url).await.unwrap();
    diesel::sql_query(format!("SELECT status, attempts FROM mail_outbox WHERE id = '{id}'"))
        .get_result(&mut conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_committed_before_a_crash_is_delivered_by_the_next_process() {
    use portcullis_domain::OutboxStore;
    use portcullis_testkit::smtp::SmtpSink;

    let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let db = ScratchDatabase::create(&admin).await.unwrap();
    let store = portcullis_postgres::PgStore::connect(&portcullis_postgres::PgSettings::new(db.url())).unwrap();
    let mail = reset_mail("ada@example.com");
    store.enqueue(&mail, chrono::Utc::now()).await.unwrap();

    let smtp_port = SmtpSink::unused_port().unwrap();
    let env = [
        ("PORTCULLIS_MAIL__SMTP_HOST", "127.0.0.1".to_owned()),
        ("PORTCULLIS_MAIL__SMTP_PORT", smtp_port.to_string()),
        ("PORTCULLIS_MAIL__SMTP_SECURITY", "none".to_owned()),
        ("PORTCULLIS_MAIL__RETRY_FIRST_SECS", "1".to_owned()),
        ("PORTCULLIS_MAIL__POLL_INTERVAL_MS", "100".to_owned()),
    ];
    // The first process finds the SMTP server down, schedules a retry, and is killed (SIGKILL).
    let http = reqwest::Client::new();
    let mut first = Node::start_with(db.url(), &env);
    first.wait_ready(&http).await;
    for _ in 0..100 {
        if outbox_row(db.url(), mail.id).await.attempts >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        outbox_row(db.url(), mail.id).await.attempts >= 1,
        "the first process tried"
    );
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    // The SMTP server comes back; a new process delivers the mail, once.
    let sink = SmtpSink::start_on_port(smtp_port).unwrap();
    let second = Node::start_with(db.url(), &env);
    second.wait_ready(&http).await;
    let got = sink.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1, "delivered after the restart");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.received().len(), 1, "and only once");
    assert_eq!(outbox_row(db.url(), mail.id).await.status, "sent");
    assert_eq!(
        got[0].message_id(),
        Some(format!("<{}@localhost.localdomain>", mail.id).as_str())
    );
    // The delivering node logged at trace level; the mail's one-time code must not be there.
    let mut second = second;
    let (_, logs) = second.terminate();
    assert!(logs.contains("mail delivered"), "the delivery is logged");
    // Six digits can turn up by chance (an id, a latency), so the body's own words are looked for.
    assert!(
        !logs.contains("code is 123456") && !logs.contains("Your code is"),
        "a mail body leaked into the logs"
    );
}

/// Two server processes on one database and one Redis (`REDIS_URL`): a per-client limit is
/// one budget across both, not one per node, and a mail either node could send goes out once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_limits_through_redis_and_send_each_mail_once() {
    use portcullis_testkit::smtp::SmtpSink;

    let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let redis = std::env::var("REDIS_URL").expect("REDIS_URL must point at a Redis server (scripts/test.sh sets it)");
    let db = ScratchDatabase::create_empty(&admin).await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let env = [
        ("PORTCULLIS_LIMITS__STORE", "redis".to_owned()),
        ("PORTCULLIS_LIMITS__REDIS_URL", redis),
        (
            "PORTCULLIS_LIMITS__REDIS_PREFIX",
            format!("test:{}", uuid::Uuid::now_v7().simple()),
        ),
        ("PORTCULLIS_LIMITS__LOGIN_PER_IP", "4/15m".to_owned()),
        ("PORTCULLIS_MAIL__SMTP_HOST", "127.0.0.1".to_owned()),
        ("PORTCULLIS_MAIL__SMTP_PORT", sink.port().to_string()),
        ("PORTCULLIS_MAIL__SMTP_SECURITY", "none".to_owned()),
        ("PORTCULLIS_MAIL__POLL_INTERVAL_MS", "100".to_owned()),
    ];
    let http = reqwest::Client::new();
    let a = Node::start_with(db.url(), &env);
    a.wait_ready(&http).await;
    let b = Node::start_with(db.url(), &env);
    b.wait_ready(&http).await;

    // One registration; both nodes poll the outbox, one of them sends its mail.
    let body = json!({ "email": "ada@example.com", "password": "correct horse battery staple" });
    let (status, _) = post(&http, &a.base, "/v1/auth/register", body, None).await;
    assert_eq!(status, 202);
    let got = sink.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.received().len(), 1, "sent once, not once per node");

    // Four logins from this client in all, whichever node gets them (each under its own
    // name, so the per-name back-off stays out of it).
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for i in 0..7 {
        let node = if i % 2 == 0 { &a } else { &b };
        let res = http
            .post(format!("{}/v1/auth/login", node.base))
            .json(&json!({ "login": format!("nobody{i}@example.com"), "password": "wrong password" }))
            .send()
            .await
            .unwrap();
        if res.status() == 429 {
            retry_after = res.headers().get("retry-after").cloned();
        }
        statuses.push(res.status().as_u16());
    }
    assert_eq!(
        statuses,
        [401, 401, 401, 401, 429, 429, 429],
        "one budget across both nodes"
    );
    assert!(retry_after.is_some(), "a refusal says when to come back");
}

/// SIGTERM on a node that holds outbox claims and is stuck sending: readiness turns false while
/// the node still serves (a load balancer takes it out first), and the claims it had not started
/// are given back as it stops, so another node sends them at once instead of after their lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_readiness_first_and_gives_back_outbox_leases() {
    use portcullis_domain::OutboxStore;
    use portcullis_testkit::smtp::SmtpSink;

    let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let db = ScratchDatabase::create(&admin).await.unwrap();
    let store = portcullis_postgres::PgStore::connect(&portcullis_postgres::PgSettings::new(db.url())).unwrap();
    for i in 0..5 {
        let mail = reset_mail(&format!("user{i}@example.com"));
        store.enqueue(&mail, chrono::Utc::now()).await.unwrap();
    }
    // An SMTP server that accepts and never answers: node A's first send hangs.
    let black_hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let black_hole_port = black_hole.local_addr().unwrap().port();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = black_hole.accept().await {
            keep.lock().unwrap().push(conn);
        }
    });
    let mail_env = |port: u16| {
        vec![
            ("PORTCULLIS_MAIL__SMTP_HOST", "127.0.0.1".to_owned()),
            ("PORTCULLIS_MAIL__SMTP_PORT", port.to_string()),
            ("PORTCULLIS_MAIL__SMTP_SECURITY", "none".to_owned()),
            ("PORTCULLIS_MAIL__SMTP_TIMEOUT_SECS", "10".to_owned()),
            ("PORTCULLIS_MAIL__LEASE_SECS", "600".to_owned()),
            ("PORTCULLIS_MAIL__BATCH_SIZE", "10".to_owned()),
            ("PORTCULLIS_MAIL__POLL_INTERVAL_MS", "100".to_owned()),
            ("PORTCULLIS_SERVER__SHUTDOWN_DRAIN_SECS", "2".to_owned()),
            ("PORTCULLIS_SERVER__SHUTDOWN_TIMEOUT_SECS", "2".to_owned()),
        ]
    };
    let http = reqwest::Client::new();
    let mut a = Node::start_with(db.url(), &mail_env(black_hole_port));
    a.wait_ready(&http).await;
    // A claims the whole batch (600 s leases) and hangs on the first mail.
    let mut leased = 0;
    for _ in 0..100 {
        leased = leased_count(db.url()).await;
        if leased == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(leased, 5, "node A holds every mail");

    let sink = SmtpSink::start().unwrap();
    let b = Node::start_with(db.url(), &mail_env(sink.port()));
    b.wait_ready(&http).await;
    assert!(sink.received().is_empty(), "B cannot take what A holds");

    let status = Command::new("kill")
        .args(["-TERM", &a.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ready = http.get(format!("{}/health/ready", a.base)).send().await.unwrap();
    assert_eq!(ready.status(), 503, "not ready once SIGTERM arrived");
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["error"]["code"], "service_unavailable");
    let live = http.get(format!("{}/health/live", a.base)).send().await.unwrap();
    assert_eq!(live.status(), 200, "still serving during the drain");

    // A stops; the four mails it had not started are B's at once, far inside their lease.
    let got = sink.wait_for(4, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 4, "given back and sent by B");
    let exit = a.child.wait().unwrap();
    assert!(exit.success(), "a clean exit");
    let logs = std::fs::read_to_string(&a.log).unwrap();
    assert!(logs.contains("outbox leases given back"), "{logs}");
    let mut to: Vec<String> = got.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 4, "each once");
    drop(held);
}

async fn leased_count(url: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = diesel_async::AsyncPgConnection::establish(url).await.unwrap();
    diesel::sql_query("SELECT count(*) AS n FROM mail_outbox WHERE leased_until > now()")
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n
}

/// A password-reset mail to `to`, as a flow would enqueue it.
fn reset_mail(to: &str) -> portcullis_domain::OutgoingMail {
    portcullis_domain::OutgoingMail {
        id: uuid::Uuid::now_v7(),
        tenant_id: portcullis_domain::TenantId::DEFAULT,
        to: to.to_owned(),
        from: None,
        kind: portcullis_domain::MailKind::PasswordReset,
        subject: "Reset your password".into(),
        text: "Your code is 123456.".into(),
        html: "<p>Your code is 123456.</p>".into(),
    }
}
