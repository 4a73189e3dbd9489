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
}

pub async fn spawn() -> Ctx {
    Ctx::new(TestApp::spawn().await.expect("spawn app"))
}

impl Ctx {
    pub fn new(app: TestApp) -> Self {
        Self {
            app,
            http: Client::builder()
                .user_agent("portcullis-tests")
                .build()
                .expect("client"),
        }
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

    /// Registers and returns the token pair's `data`.
    pub async fn register(&self, email: &str, username: Option<&str>) -> Value {
        let mut body = json!({ "email": email, "password": PASSWORD });
        if let Some(u) = username {
            body["username"] = json!(u);
        }
        let res = self.post("/v1/auth/register", body).await;
        let (status, body) = read(res).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
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
