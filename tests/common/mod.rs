//! Helpers shared by the black-box HTTP tests: a spawned app and a thin client.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

use portcullis_testkit::TestApp;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery staple";

pub struct Ctx {
    pub app: TestApp,
    pub http: Client,
    /// Whether the app requires email verification (the default).
    pub verification: bool,
}

/// An app with production defaults: email verification required.
pub async fn spawn() -> Ctx {
    Ctx::new(
        TestApp::builder().database_from_env().spawn().await.expect("spawn app"),
        true,
    )
}

/// An app with `require_email_verification` off: register answers 201 with a token pair.
pub async fn spawn_without_verification() -> Ctx {
    let app = TestApp::builder()
        .database_from_env()
        .configure(|c| c.registration.require_email_verification = false)
        .spawn()
        .await
        .expect("spawn app");
    Ctx::new(app, false)
}

impl Ctx {
    pub fn new(app: TestApp, verification: bool) -> Self {
        Self {
            app,
            http: Client::builder()
                .user_agent("portcullis-tests")
                .build()
                .expect("client"),
            verification,
        }
    }

    /// How many mails `to` has received so far.
    /// Mail received by `to` once every mail asked for so far has been tried.
    pub async fn mail_count(&self, to: &str) -> usize {
        self.app.mail_settled().await.expect("mail settles");
        self.app
            .mail
            .received()
            .iter()
            .filter(|m| m.to.iter().any(|r| r.eq_ignore_ascii_case(to)))
            .count()
    }

    /// Waits for the next mail to `to` after the `seen` it had.
    pub async fn next_mail(&self, to: &str, seen: usize) -> portcullis_testkit::ReceivedMail {
        self.app.nth_mail_to(to, seen + 1).await.expect("mail")
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.http
            .post(self.app.url(path))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(self.app.url(path))
            .form(form)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_bearer(&self, path: &str, token: &str, body: Value) -> Response {
        self.http
            .post(self.app.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.http.get(self.app.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    /// Signs up and returns the first token pair's `data`: from register itself when
    /// verification is off, otherwise from `verify-email` with the link token that was mailed.
    pub async fn register(&self, email: &str, username: Option<&str>) -> Value {
        let mut body = json!({ "email": email, "password": PASSWORD });
        if let Some(u) = username {
            body["username"] = json!(u);
        }
        let seen = self.mail_count(email.trim()).await;
        let res = self.post("/v1/auth/register", body).await;
        let (status, body) = read(res).await;
        if !self.verification {
            assert_eq!(status, StatusCode::CREATED, "{body}");
            return body["data"].clone();
        }
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let mail = self.next_mail(email.trim(), seen).await;
        let token = mail.token().expect("a link token in the verification mail");
        let (status, body) = read(self.post("/v1/auth/verify-email", json!({ "token": token })).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["data"].clone()
    }

    pub async fn login(&self, login: &str, password: &str) -> (StatusCode, Value) {
        read(
            self.post("/v1/auth/login", json!({ "login": login, "password": password }))
                .await,
        )
        .await
    }

    pub async fn refresh(&self, token: &str) -> (StatusCode, Value) {
        read(self.post("/v1/auth/refresh", json!({ "refresh_token": token })).await).await
    }
}

impl Ctx {
    /// Makes a tenant `slug` (named after it, every setting global) with `portcullis tenant
    /// create`.
    pub async fn tenant(&self, slug: &str) {
        use portcullis_server::operator::{Operation, TenantCommand};
        self.operate(Operation::Tenant(TenantCommand::Create {
            slug: slug.into(),
            name: slug.into(),
            site_url_template: None,
            settings: None,
        }))
        .await;
    }

    /// The `n` a query of the app's database answers (`SELECT … AS n`), with `binds` as its
    /// text parameters `$1`, `$2`… (cast them in the query where they are not text).
    pub async fn count(&self, sql: &str, binds: &[&str]) -> i64 {
        use diesel_async::{AsyncConnection, RunQueryDsl};
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = diesel_async::AsyncPgConnection::establish(self.app.database_url())
            .await
            .unwrap();
        let mut query = diesel::sql_query(sql).into_boxed();
        for value in binds {
            query = query.bind::<diesel::sql_types::Text, _>(*value);
        }
        let row: Row = query.get_result(&mut conn).await.unwrap();
        row.n
    }

    /// Runs an operator command (`portcullis tenant|plan|node|admin-key …`) against the app's
    /// database and returns what it printed.
    pub async fn operate(&self, op: portcullis_server::operator::Operation) -> String {
        let store = self.app.storage();
        let mut out = Vec::new();
        portcullis_server::operator::execute(store.as_ref(), self.app.clock.as_ref(), op, &mut out)
            .await
            .unwrap();
        String::from_utf8(out).unwrap()
    }
}

pub async fn read(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// Asserts the error envelope and returns the error code.
pub fn error_code(body: &Value) -> &str {
    assert_eq!(body["success"], json!(false), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    body["error"]["code"].as_str().expect("error.code")
}

pub fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} missing in {v}"))
}

impl Ctx {
    pub async fn post_form_bearer(&self, path: &str, token: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(self.app.url(path))
            .bearer_auth(token)
            .form(form)
            .send()
            .await
            .expect("request")
    }
}

/// A key from `admin-key create`: the last line it prints.
pub async fn admin_key(ctx: &Ctx, name: &str, tenant: Option<&str>, introspect_only: bool) -> String {
    let out = ctx
        .operate(portcullis_server::operator::Operation::AdminKey(
            portcullis_server::operator::AdminKeyCommand::Create {
                name: name.into(),
                tenant: tenant.map(str::to_owned),
                introspect_only,
            },
        ))
        .await;
    out.lines().last().unwrap().to_owned()
}

/// Sends `body` as JSON with an admin key.
pub async fn admin_send(ctx: &Ctx, method: reqwest::Method, key: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let res = ctx
        .http
        .request(method, ctx.app.url(path))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    read(res).await
}
