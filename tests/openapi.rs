//! `GET /v1/openapi.json`: the document describes exactly the routes served, validates as
//! OpenAPI 3.1, lists every error code the code can answer, and a schema-based fuzzer
//! (schemathesis, in a throwaway Python virtualenv) finds no 5xx and no answer outside the
//! schema on a live server.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The fuzzer and the validator, pinned.
const PIP_PACKAGES: &[&str] = &["schemathesis==4.32.5", "openapi-spec-validator==0.7.2"];

fn document() -> Value {
    serde_json::from_str(portcullis_http::openapi::document()).unwrap()
}

#[test]
fn every_route_served_is_documented_and_every_documented_route_is_served() {
    let served: BTreeSet<(String, &str)> = portcullis_http::routes()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p))
        .collect();
    let documented: BTreeSet<(String, &str)> = portcullis_http::openapi::operations()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p))
        .collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in the OpenAPI document: {undocumented:?}"
    );
    assert!(unserved.is_empty(), "documented but not served: {unserved:?}");
    // And the JSON has each of them.
    let doc = document();
    for (method, path) in &served {
        let op = &doc["paths"][path][method.to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {path} missing from the JSON");
        assert!(
            op["responses"]["default"].is_object(),
            "{method} {path} has no error answer"
        );
    }
}

#[test]
fn the_document_is_openapi_3_1_with_every_reference_resolved_and_both_schemes() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["accessToken"]["scheme"], "bearer");
    assert_eq!(schemes["adminKey"]["scheme"], "bearer");
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 50, "bodies and answers refer to named schemas");
    for r in refs {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(doc["components"]["schemas"][name].is_object(), "dangling {r}");
    }
    // Bodies are JSON or forms.
    let login = &doc["paths"]["/v1/auth/login"]["post"]["requestBody"]["content"];
    assert!(login["application/json"].is_object() && login["application/x-www-form-urlencoded"].is_object());
    // Its fields, with the flattened second factor and captcha fields.
    let schemas = &doc["components"]["schemas"];
    let mut fields = Vec::new();
    for part in schemas["LoginRequest"]["allOf"].as_array().unwrap() {
        let part = match part["$ref"].as_str() {
            Some(r) => &schemas[r.rsplit('/').next().unwrap()],
            None => part,
        };
        fields.extend(part["properties"].as_object().unwrap().keys().cloned());
    }
    for field in ["login", "password", "totp_code", "captcha_token"] {
        assert!(fields.iter().any(|f| f == field), "LoginRequest.{field}: {fields:?}");
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.push(v.as_str().unwrap().to_owned());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Every code the HTTP layer writes as a literal (`ApiError::new(status, "code", …)`,
/// `bearer("code", …)`, `write_error(e, "code")`) is in the document's list.
#[test]
fn every_error_code_in_the_code_is_documented() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/portcullis-http/src");
    let mut text = String::new();
    read_sources(&src, &mut text);
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut found = BTreeSet::new();
    for opener in ["StatusCode::", "bearer(", "write_error(e, "] {
        for (at, _) in text.match_indices(opener) {
            let rest = &text[at + opener.len()..];
            // The first string literal within the call's first two arguments.
            let head: String = rest.chars().take(60).collect();
            if let Some(start) = head.find('"') {
                let lit = &head[start + 1..];
                if let Some(end) = lit.find('"') {
                    let code = &lit[..end];
                    let before = &head[..start];
                    let in_call = opener != "StatusCode::" || before.trim_end().ends_with(',') && !before.contains(')');
                    if in_call && !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                        found.insert(code.to_owned());
                    }
                }
            }
        }
    }
    assert!(found.len() > 30, "the scan finds the codes: {found:?}");
    let documented: BTreeSet<String> = portcullis_http::openapi::ERROR_CODES
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    let missing: Vec<_> = found.difference(&documented).collect();
    assert!(missing.is_empty(), "error codes missing from the document: {missing:?}");
}

fn read_sources(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// A Python virtualenv with the fuzzer, made once per target directory.
fn fuzzer_env() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"), PathBuf::from);
    let venv = target.join("fuzz-venv");
    let marker = venv.join(format!("installed-{}", PIP_PACKAGES.join("+").replace(['=', '+'], "_")));
    if marker.exists() {
        return venv;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let made = Command::new(&python).args(["-m", "venv"]).arg(&venv).status();
    assert!(
        made.is_ok_and(|s| s.success()),
        "`{python} -m venv` failed: install Python 3 with venv (Debian: apt-get install python3-venv)"
    );
    let pip = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(PIP_PACKAGES)
        .status()
        .unwrap();
    assert!(pip.success(), "pip install {PIP_PACKAGES:?} failed (needs PyPI)");
    std::fs::write(&marker, "").unwrap();
    venv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_fuzzer_finds_no_server_error_and_no_answer_outside_the_schema() {
    let venv = tokio::task::spawn_blocking(fuzzer_env).await.unwrap();
    let ctx = common::spawn_without_verification().await;
    let data = ctx.register("ada@example.com", Some("ada")).await;
    let token = data["access_token"].as_str().unwrap().to_owned();
    let schema_url = ctx.app.url("/v1/openapi.json");

    // The document as served validates as OpenAPI 3.1.
    let doc = ctx.http.get(&schema_url).send().await.unwrap().text().await.unwrap();
    let file = std::env::temp_dir().join(format!("portcullis-openapi-{}.json", std::process::id()));
    std::fs::write(&file, doc).unwrap();
    let validator = venv.join("bin/openapi-spec-validator");
    let checked = tokio::task::spawn_blocking(move || Command::new(validator).arg(&file).output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        checked.status.success(),
        "openapi-spec-validator: {}",
        tail(&format!(
            "{}{}",
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr)
        ))
    );

    // Runs that do not end the credentials they fuzz with: everything a user's token reaches
    // but the calls that end sessions; the operators' endpoints with an admin key; then each
    // session-ending call on its own, with a fresh token.
    let seconds: u64 = std::env::var("FUZZ_SECONDS").map_or(90, |s| s.parse().unwrap());
    let key = common::admin_key(&ctx, "fuzzer", None, false).await;
    let ending = [
        "/v1/auth/logout",
        "/v1/account/sessions/revoke",
        "/v1/account/sessions/\\{id\\}",
        "/v1/account/password",
        "/v1/account/mfa/totp/disable",
    ];
    let operators = "/v1/admin/|/v1/auth/introspect";
    let not_user = format!("^({operators}|{})", ending.map(|p| format!("{p}$")).join("|"));
    fuzz(
        &venv,
        &schema_url,
        &token,
        seconds / 2,
        &["--exclude-path-regex", &not_user],
    )
    .await;
    fuzz(
        &venv,
        &schema_url,
        &key,
        seconds / 4,
        &["--include-path-regex", &format!("^({operators})")],
    )
    .await;
    for path in ending {
        let (status, login) = ctx.login("ada@example.com", common::PASSWORD).await;
        assert_eq!(status, 200, "{login}");
        let token = login["data"]["access_token"].as_str().unwrap().to_owned();
        let only = format!("^{path}$");
        fuzz(
            &venv,
            &schema_url,
            &token,
            (seconds / 4 / 5).max(3),
            &["--include-path-regex", &only],
        )
        .await;
    }
}

/// One schemathesis run of `seconds` against the live server, with `bearer` on every request.
async fn fuzz(venv: &Path, schema_url: &str, bearer: &str, seconds: u64, filters: &[&str]) {
    let seed = std::env::var("FUZZ_SEED").unwrap_or_else(|_| "20261206".into());
    let report = std::env::temp_dir().join(format!("portcullis-fuzz-{}-{seconds}", std::process::id()));
    // Its cache and reports go to a directory of its own, not the checkout.
    std::fs::create_dir_all(&report).unwrap();
    let mut command = Command::new(venv.join("bin/schemathesis"));
    command
        .current_dir(&report)
        .args(["run", schema_url])
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance",
        ])
        .args([
            "--max-time",
            &seconds.max(1).to_string(),
            "--seed",
            &seed,
            "--workers",
            "2",
        ])
        .args(["--header", &format!("Authorization: Bearer {bearer}")])
        .args(["--request-timeout", "10", "--suppress-health-check", "all"])
        .args(filters)
        .arg("--report-dir")
        .arg(&report)
        .env("NO_COLOR", "1");
    let run = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    // The summary, for the log.
    eprintln!("{}", tail(&out));
    assert!(
        run.status.success(),
        "schemathesis found problems:\n{}",
        tail(&format!("{out}\n{}", String::from_utf8_lossy(&run.stderr)))
    );
    let _ = std::fs::remove_dir_all(report);
}

/// The last 6000 characters of a tool's output (where its summary is).
fn tail(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    chars[chars.len().saturating_sub(6000)..].iter().collect()
}
