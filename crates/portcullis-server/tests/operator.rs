//! The operators' commands of the real `portcullis` binary (`tenant`, `plan`, `node`,
//! `admin-key`) against a throwaway database: what they print, what they refuse, and their
//! exit codes.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use portcullis_postgres::scratch::ScratchDatabase;

fn portcullis(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn refused(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "expected a refusal: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn tenants_plans_and_nodes_are_made_and_shown_from_the_command_line() {
    let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    // An empty database: the command migrates it first (migrate_on_start is on by default).
    let db = ScratchDatabase::create_empty(&admin).await.unwrap();
    let url = db.url();

    let created = stdout(&portcullis(
        url,
        &["tenant", "create", "--slug", "acme", "--name", "Acme Hosting"],
    ));
    assert!(created.starts_with("created tenant acme ("), "{created}");
    assert!(
        refused(&portcullis(
            url,
            &["tenant", "create", "--slug", "acme", "--name", "Again"]
        ))
        .contains("taken")
    );
    let bad = refused(&portcullis(
        url,
        &["tenant", "create", "--slug", "Bad Slug", "--name", " "],
    ));
    assert!(
        bad.contains("slug") && bad.contains("name"),
        "every problem at once: {bad}"
    );
    let bad = refused(&portcullis(
        url,
        &[
            "tenant",
            "create",
            "--slug",
            "x",
            "--name",
            "X",
            "--site-url-template",
            "https://{domain}",
        ],
    ));
    assert!(bad.contains("site_url_template"), "{bad}");

    stdout(&portcullis(
        url,
        &[
            "plan",
            "set",
            "--tenant",
            "acme",
            "--name",
            "starter",
            "--price",
            "€5/mo",
            "--description",
            "One site",
            "--feature",
            "1 site",
            "--feature",
            "SSL",
        ],
    ));
    stdout(&portcullis(
        url,
        &["plan", "set", "--tenant", "acme", "--name", "legacy", "--inactive"],
    ));
    assert!(
        refused(&portcullis(
            url,
            &["plan", "set", "--tenant", "nobody", "--name", "starter"]
        ))
        .contains("nobody")
    );
    stdout(&portcullis(
        url,
        &[
            "node",
            "add",
            "--tenant",
            "acme",
            "--name",
            "eu1",
            "--capacity",
            "50",
            "--domain",
            "EU1.Example.net",
        ],
    ));
    assert!(
        refused(&portcullis(
            url,
            &["node", "add", "--tenant", "acme", "--name", "eu1", "--capacity", "1"]
        ))
        .contains("already has a node")
    );
    assert!(
        refused(&portcullis(
            url,
            &["node", "add", "--tenant", "acme", "--name", "x", "--capacity", "-1"]
        ))
        .contains("capacity")
    );

    let list = stdout(&portcullis(url, &["tenant", "list"]));
    let slugs: Vec<&str> = list.lines().map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(slugs, ["acme", "default"]);
    let show = stdout(&portcullis(url, &["tenant", "show", "acme"]));
    assert!(show.contains("name:     Acme Hosting"), "{show}");
    assert!(show.contains("settings: {}"), "{show}");
    let set = [
        "tenant",
        "set",
        "acme",
        "--settings",
        r#"{"product_name":"Acme","new_ip_policy":"require"}"#,
    ];
    stdout(&portcullis(url, &set));
    let shown = stdout(&portcullis(url, &["tenant", "show", "acme"]));
    assert!(
        shown.contains(r#"settings: {"new_ip_policy":"require","product_name":"Acme"}"#),
        "{shown}"
    );
    let why = refused(&portcullis(url, &["tenant", "set", "acme", "--settings", "not json"]));
    assert!(why.contains("--settings must be a JSON object"), "{why}");
    let why = refused(&portcullis(
        url,
        &[
            "tenant",
            "set",
            "acme",
            "--settings",
            r#"{"mail_from":"nobody","colour":1}"#,
        ],
    ));
    assert!(why.contains("unknown field `colour`"), "{why}");
    let why = refused(&portcullis(
        url,
        &["tenant", "set", "acme", "--settings", r#"{"mail_from":"nobody"}"#],
    ));
    assert!(why.contains("mail_from: must hold a valid mail address"), "{why}");
    assert!(show.contains("plan starter\tactive\t€5/mo\t1 site, SSL"), "{show}");
    assert!(show.contains("plan legacy\tinactive"), "{show}");
    assert!(show.contains("enabled\t0/50 used\teu1.example.net"), "{show}");
    assert!(refused(&portcullis(url, &["tenant", "show", "nobody"])).contains("no tenant"));

    let created = stdout(&portcullis(
        url,
        &["admin-key", "create", "--name", "acme ops", "--tenant", "acme"],
    ));
    let key = created.lines().last().unwrap();
    assert!(
        key.starts_with("pca_") && key.len() > 40,
        "the key is the last line: {created}"
    );
    assert!(
        refused(&portcullis(
            url,
            &["admin-key", "create", "--name", "x", "--tenant", "nobody"]
        ))
        .contains("nobody")
    );
    let list = stdout(&portcullis(url, &["admin-key", "list"]));
    assert!(
        list.contains("acme ops\tacme\tfull\tlive") && !list.contains(key),
        "{list}"
    );
    let id = list.split('\t').next().unwrap();
    assert!(stdout(&portcullis(url, &["admin-key", "revoke", id])).contains("revoked"));
    assert!(refused(&portcullis(url, &["admin-key", "revoke", id])).contains("no live admin key"));
    db.drop_now().await.unwrap();
}

/// `migrate status` lists what an empty database lacks (exit 1), `serve` without
/// `migrate_on_start` refuses it with a line saying what to run, `migrate` applies, and
/// `status` then reports nothing pending; a wrong port names host, port and cause.
#[tokio::test]
async fn migrate_status_and_a_schema_behind_the_build() {
    let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let db = ScratchDatabase::create_empty(&admin).await.unwrap();
    let out = portcullis(db.url(), &["migrate", "status"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("pending  20261122000001") && text.contains("0 applied"),
        "{text}"
    );
    assert!(
        !text.contains("postgres://"),
        "the URL (and its password) is not printed: {text}"
    );

    let serve = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db.url())
        .env("PORTCULLIS_DATABASE__MIGRATE_ON_START", "false")
        .env("PORTCULLIS_SERVER__PROFILE", "development")
        .env("PORTCULLIS_SERVER__BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    let said = refused(&serve);
    assert!(
        said.contains("migration(s) pending") && said.contains("portcullis migrate"),
        "{said}"
    );

    stdout(&portcullis(db.url(), &["migrate"]));
    let text = stdout(&portcullis(db.url(), &["migrate", "status"]));
    assert!(text.contains(" 0 pending"), "{text}");

    let said = refused(&portcullis(
        "postgres://u:hunter2hunter2@127.0.0.1:1/auth",
        &["migrate"],
    ));
    assert!(
        said.contains("127.0.0.1:1/auth") && said.contains("connection refused"),
        "{said}"
    );
    assert!(!said.contains("hunter2hunter2"), "{said}");
}

/// `check-config` as an operator runs it: every bad value named in one run, a non-zero exit,
/// no secret in the output; a digit-only secret is a string like any other.
#[test]
fn check_config_lists_every_error_and_echoes_no_secret() {
    let run = |env: &[(&str, &str)]| {
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .arg("check-config")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PORTCULLIS_SERVER__PROFILE", "development")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let out = run(&[
        ("DATABASE_URL", "postgres//pw-in-url-9931@db"),
        ("PORTCULLIS_LOG__FILTER", "infoo"),
        ("PORTCULLIS_MAIL__FROM", "not an address"),
        ("PORTCULLIS_MAIL__RESET_PASSWORD_URL", "https://app.example.com/reset"),
        ("PORTCULLIS_SERVER__TRUSTED_PROXIES", "[\"proxy.internal\"]"),
        ("PORTCULLIS_MAIL__SMTP_USERNAME", "mailer"),
        ("PORTCULLIS_MAIL__SMTP_PASSWORD", "84736251"),
    ]);
    let said = refused(&out);
    for key in ["database.url", "log.filter", "mail.from", "server.trusted_proxies"] {
        assert!(said.contains(key), "{key} not named: {said}");
    }
    assert!(!said.contains("pw-in-url-9931") && !said.contains("84736251"), "{said}");

    let out = run(&[
        ("DATABASE_URL", "postgres://u@localhost/db"),
        ("PORTCULLIS_MAIL__SMTP_USERNAME", "mailer"),
        ("PORTCULLIS_MAIL__SMTP_PASSWORD", "84736251"),
        ("PORTCULLIS_CAPTCHA__TURNSTILE__SECRET", "0000"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
