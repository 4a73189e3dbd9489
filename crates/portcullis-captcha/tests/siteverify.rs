//! The adapter against the testkit's local siteverify stub (one route per provider), which
//! records every form it receives and answers by token (see `portcullis_testkit::siteverify`).

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portcullis_captcha::{
    BuildError, CaptchaSettings, HCaptchaSettings, HttpCaptcha, ReCaptchaSettings, TurnstileSettings,
};
use portcullis_domain::captcha::{CaptchaError, CaptchaProvider, CaptchaVerifier};
use portcullis_testkit::siteverify::SiteverifyStub as Stub;
use secrecy::SecretString;

const HCAPTCHA_SECRET: &str = "0xhcaptcha-secret-do-not-leak";
const RECAPTCHA_SECRET: &str = "recaptcha-secret-do-not-leak";
const TURNSTILE_SECRET: &str = "turnstile-secret-do-not-leak";
const SITE_KEY: &str = "10000000-ffff-ffff-ffff-000000000001";
const CLIENT_V4: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
const CLIENT_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x42));
const TIMEOUT: Duration = Duration::from_millis(500);

/// The adapter's settings against the stub.
trait StubSettings {
    fn settings(&self) -> CaptchaSettings;
    fn verifier(&self) -> HttpCaptcha;
    fn v3(&self, min_score: f64, expected_action: Option<&str>) -> HttpCaptcha;
}

impl StubSettings for Stub {
    fn settings(&self) -> CaptchaSettings {
        CaptchaSettings {
            timeout: TIMEOUT,
            hcaptcha: Some(HCaptchaSettings {
                secret: SecretString::from(HCAPTCHA_SECRET),
                verify_url: self.url("hcaptcha"),
                site_key: Some(SITE_KEY.into()),
            }),
            recaptcha: Some(ReCaptchaSettings {
                secret: SecretString::from(RECAPTCHA_SECRET),
                verify_url: self.url("recaptcha"),
                min_score: None,
                expected_action: None,
            }),
            turnstile: Some(TurnstileSettings {
                secret: SecretString::from(TURNSTILE_SECRET),
                verify_url: self.url("turnstile"),
            }),
        }
    }

    fn verifier(&self) -> HttpCaptcha {
        HttpCaptcha::new(self.settings()).unwrap()
    }

    /// reCAPTCHA as a v3 key.
    fn v3(&self, min_score: f64, expected_action: Option<&str>) -> HttpCaptcha {
        let mut settings = self.settings();
        let recaptcha = settings.recaptcha.as_mut().unwrap();
        recaptcha.min_score = Some(min_score);
        recaptcha.expected_action = expected_action.map(str::to_owned);
        HttpCaptcha::new(settings).unwrap()
    }
}

fn assert_invalid(result: Result<(), CaptchaError>, wanted: &[&str]) -> String {
    match result {
        Err(CaptchaError::Invalid(reason)) => {
            for w in wanted {
                assert!(reason.contains(w), "{reason:?} lacks {w:?}");
            }
            assert_no_secret(&reason);
            reason
        }
        other => panic!("wanted Invalid, got {other:?}"),
    }
}

fn assert_unavailable(result: Result<(), CaptchaError>, wanted: &str) -> String {
    match result {
        Err(CaptchaError::Unavailable(reason)) => {
            assert!(reason.contains(wanted), "{reason:?} lacks {wanted:?}");
            assert_no_secret(&reason);
            reason
        }
        other => panic!("wanted Unavailable, got {other:?}"),
    }
}

fn assert_no_secret(text: &str) {
    for secret in [HCAPTCHA_SECRET, RECAPTCHA_SECRET, TURNSTILE_SECRET] {
        assert!(!text.contains(secret), "{text:?} leaks a secret");
    }
}

#[tokio::test]
async fn every_provider_passes_a_good_token() {
    let stub = Stub::start().unwrap();
    let verifier = stub.verifier();
    assert_eq!(
        verifier.providers(),
        vec![
            CaptchaProvider::HCaptcha,
            CaptchaProvider::ReCaptcha,
            CaptchaProvider::Turnstile
        ]
    );
    for provider in CaptchaProvider::ALL {
        verifier.verify(provider, "pass", Some(CLIENT_V4)).await.unwrap();
    }
    let paths: Vec<String> = stub.received().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/hcaptcha/siteverify", "/recaptcha/siteverify", "/turnstile/siteverify"]
    );
}

#[tokio::test]
async fn the_stub_receives_the_documented_form_fields() {
    let stub = Stub::start().unwrap();
    let verifier = stub.verifier();
    verifier
        .verify(CaptchaProvider::HCaptcha, "pass", Some(CLIENT_V4))
        .await
        .unwrap();
    verifier
        .verify(CaptchaProvider::ReCaptcha, "pass", Some(CLIENT_V6))
        .await
        .unwrap();
    verifier.verify(CaptchaProvider::Turnstile, "pass", None).await.unwrap();

    let got = stub.received();
    assert_eq!(got.len(), 3);
    for r in &got {
        assert_eq!(r.content_type, "application/x-www-form-urlencoded", "{r:?}");
        assert_eq!(r.field("response"), Some("pass"));
    }

    let h = &got[0];
    assert_eq!(h.names(), ["remoteip", "response", "secret", "sitekey"]);
    assert_eq!(h.field("secret"), Some(HCAPTCHA_SECRET));
    assert_eq!(h.field("remoteip"), Some("203.0.113.7"));
    assert_eq!(h.field("sitekey"), Some(SITE_KEY));

    let r = &got[1];
    assert_eq!(r.names(), ["remoteip", "response", "secret"]);
    assert_eq!(r.field("secret"), Some(RECAPTCHA_SECRET));
    assert_eq!(r.field("remoteip"), Some("2001:db8::42"));

    // No address known: no `remoteip` at all (not an empty one).
    let t = &got[2];
    assert_eq!(t.names(), ["response", "secret"]);
    assert_eq!(t.field("secret"), Some(TURNSTILE_SECRET));
}

#[tokio::test]
async fn hcaptcha_without_a_site_key_sends_no_sitekey() {
    let stub = Stub::start().unwrap();
    let mut settings = stub.settings();
    settings.hcaptcha.as_mut().unwrap().site_key = Some("  ".into());
    let verifier = HttpCaptcha::new(settings).unwrap();
    verifier
        .verify(CaptchaProvider::HCaptcha, "pass", Some(CLIENT_V4))
        .await
        .unwrap();
    assert_eq!(stub.received()[0].names(), ["remoteip", "response", "secret"]);
}

#[tokio::test]
async fn a_refused_token_is_invalid_with_the_error_codes() {
    let stub = Stub::start().unwrap();
    let verifier = stub.verifier();
    let h = assert_invalid(
        verifier
            .verify(CaptchaProvider::HCaptcha, "fail", Some(CLIENT_V4))
            .await,
        &["hcaptcha", "invalid-input-response, sitekey-secret-mismatch"],
    );
    let r = assert_invalid(
        verifier.verify(CaptchaProvider::ReCaptcha, "fail", None).await,
        &["recaptcha", "invalid-input-response, timeout-or-duplicate"],
    );
    let t = assert_invalid(
        verifier.verify(CaptchaProvider::Turnstile, "fail", None).await,
        &["turnstile", "invalid-input-response"],
    );
    for reason in [h, r, t] {
        assert!(!reason.contains("fail"), "{reason:?} repeats the token");
    }
    assert_eq!(stub.received().len(), 3);
}

#[tokio::test]
async fn a_wrong_secret_is_unavailable_not_the_users_fault() {
    let stub = Stub::start().unwrap();
    let verifier = stub.verifier();
    for provider in CaptchaProvider::ALL {
        assert_unavailable(
            verifier.verify(provider, "badsecret", Some(CLIENT_V4)).await,
            "invalid-input-secret",
        );
    }
}

#[tokio::test]
async fn recaptcha_v3_checks_the_score() {
    let stub = Stub::start().unwrap();
    let v3 = stub.v3(0.5, None);
    v3.verify(CaptchaProvider::ReCaptcha, "pass", Some(CLIENT_V4))
        .await
        .unwrap();
    assert_invalid(
        v3.verify(CaptchaProvider::ReCaptcha, "low", Some(CLIENT_V4)).await,
        &["score 0.1", "minimum 0.5"],
    );
    // A v2 answer has no score: with a minimum configured that is a refusal, not a pass.
    assert_invalid(
        v3.verify(CaptchaProvider::ReCaptcha, "v2", Some(CLIENT_V4)).await,
        &["without a score"],
    );
    // The score is compared inclusively.
    let exact = stub.v3(0.9, None);
    exact.verify(CaptchaProvider::ReCaptcha, "pass", None).await.unwrap();
}

#[tokio::test]
async fn recaptcha_v2_ignores_scores() {
    let stub = Stub::start().unwrap();
    let v2 = stub.verifier();
    v2.verify(CaptchaProvider::ReCaptcha, "v2", None).await.unwrap();
    v2.verify(CaptchaProvider::ReCaptcha, "low", None).await.unwrap();
}

#[tokio::test]
async fn recaptcha_v3_checks_the_action() {
    let stub = Stub::start().unwrap();
    stub.v3(0.5, Some("login"))
        .verify(CaptchaProvider::ReCaptcha, "pass", None)
        .await
        .unwrap();
    assert_invalid(
        stub.v3(0.5, Some("signup"))
            .verify(CaptchaProvider::ReCaptcha, "pass", None)
            .await,
        &["\"login\"", "\"signup\""],
    );
    // An answer without an action cannot match an expected one.
    assert_invalid(
        stub.v3(0.5, Some("login"))
            .verify(CaptchaProvider::ReCaptcha, "noaction", None)
            .await,
        &["without an action"],
    );
}

#[tokio::test]
async fn a_slow_provider_is_unavailable_after_the_timeout() {
    let stub = Stub::start().unwrap();
    let verifier = stub.verifier();
    for provider in CaptchaProvider::ALL {
        let started = Instant::now();
        let result = verifier.verify(provider, "slow", Some(CLIENT_V4)).await;
        let took = started.elapsed();
        assert_unavailable(result, provider.name());
        assert!(took >= TIMEOUT - Duration::from_millis(50), "gave up after {took:?}");
        assert!(took < TIMEOUT + Duration::from_millis(1500), "took {took:?}");
    }
    assert_eq!(stub.received().len(), 3);
}

#[tokio::test]
async fn an_error_status_is_unavailable_even_with_a_passing_body() {
    let stub = Stub::start().unwrap();
    let verifier = stub.verifier();
    for provider in CaptchaProvider::ALL {
        assert_unavailable(verifier.verify(provider, "down", None).await, "HTTP 500");
    }
}

#[tokio::test]
async fn an_answer_that_is_not_json_is_unavailable() {
    let stub = Stub::start().unwrap();
    let verifier = stub.verifier();
    for provider in CaptchaProvider::ALL {
        assert_unavailable(
            verifier.verify(provider, "garbage", None).await,
            "not a siteverify answer",
        );
    }
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let stub = Stub::start().unwrap();
    let verifier = stub.verifier();
    assert_unavailable(
        verifier.verify(CaptchaProvider::ReCaptcha, "redirect", None).await,
        "HTTP 307",
    );
    // Only the first request reached the stub: the secret was not sent on to /elsewhere.
    assert_eq!(stub.received().len(), 1);
}

#[tokio::test]
async fn a_closed_port_is_unavailable() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/siteverify");
    let verifier = HttpCaptcha::new(CaptchaSettings {
        timeout: TIMEOUT,
        hcaptcha: Some(HCaptchaSettings {
            verify_url: url.clone(),
            ..HCaptchaSettings::new(SecretString::from(HCAPTCHA_SECRET))
        }),
        recaptcha: Some(ReCaptchaSettings {
            verify_url: url.clone(),
            ..ReCaptchaSettings::new(SecretString::from(RECAPTCHA_SECRET))
        }),
        turnstile: Some(TurnstileSettings {
            verify_url: url,
            ..TurnstileSettings::new(SecretString::from(TURNSTILE_SECRET))
        }),
    })
    .unwrap();
    for provider in CaptchaProvider::ALL {
        let started = Instant::now();
        assert_unavailable(verifier.verify(provider, "pass", None).await, "cannot connect");
        assert!(started.elapsed() < TIMEOUT + Duration::from_secs(1));
    }
}

#[tokio::test]
async fn a_provider_that_is_not_configured_is_invalid_without_a_request() {
    let stub = Stub::start().unwrap();
    let mut settings = stub.settings();
    settings.hcaptcha = None;
    settings.turnstile = None;
    let verifier = HttpCaptcha::new(settings).unwrap();
    assert_eq!(verifier.providers(), vec![CaptchaProvider::ReCaptcha]);
    assert_invalid(
        verifier.verify(CaptchaProvider::HCaptcha, "pass", None).await,
        &["hcaptcha is not enabled"],
    );
    assert_invalid(
        verifier.verify(CaptchaProvider::Turnstile, "pass", None).await,
        &["turnstile is not enabled"],
    );
    assert!(stub.received().is_empty());

    let none = HttpCaptcha::new(CaptchaSettings {
        timeout: TIMEOUT,
        hcaptcha: None,
        recaptcha: None,
        turnstile: None,
    })
    .unwrap();
    assert!(none.providers().is_empty());
    assert_invalid(
        none.verify(CaptchaProvider::ReCaptcha, "pass", None).await,
        &["recaptcha is not enabled"],
    );
}

#[tokio::test]
async fn an_empty_token_is_invalid_without_a_request() {
    let stub = Stub::start().unwrap();
    let verifier = stub.verifier();
    assert_invalid(
        verifier.verify(CaptchaProvider::Turnstile, "", None).await,
        &["no turnstile token"],
    );
    assert!(stub.received().is_empty());
}

#[tokio::test]
async fn checks_reuse_the_connection() {
    // One client for every check, shared by clones: ten checks in a row against the same host
    // (two providers' paths on one stub) go over one kept-alive TCP connection.
    let stub = Stub::start().unwrap();
    let verifier = stub.verifier();
    let clone = verifier.clone();
    for _ in 0..5 {
        verifier.verify(CaptchaProvider::Turnstile, "pass", None).await.unwrap();
        clone.verify(CaptchaProvider::HCaptcha, "pass", None).await.unwrap();
    }
    assert_eq!(stub.received().len(), 10);
    assert_eq!(stub.connections(), 1);
}

/// A `MakeWriter` that keeps everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

#[tokio::test]
async fn logs_name_the_provider_and_outcome_but_never_the_token_or_secret() {
    const TOKEN: &str = "pass";
    let stub = Stub::start().unwrap();
    let verifier = stub.verifier();
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    verifier
        .verify(CaptchaProvider::HCaptcha, TOKEN, Some(CLIENT_V4))
        .await
        .unwrap();
    let _ = verifier.verify(CaptchaProvider::ReCaptcha, "fail", None).await;
    let _ = verifier.verify(CaptchaProvider::Turnstile, "down", None).await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let ours: Vec<&str> = text.lines().filter(|l| l.contains("portcullis_captcha")).collect();
    assert_eq!(ours.len(), 3, "{text}");
    assert!(ours[0].contains("INFO") && ours[0].contains("provider=\"hcaptcha\"") && ours[0].contains("passed"));
    assert!(ours[1].contains("INFO") && ours[1].contains("provider=\"recaptcha\"") && ours[1].contains("refused"));
    assert!(ours[2].contains("WARN") && ours[2].contains("provider=\"turnstile\"") && ours[2].contains("unavailable"));
    assert_no_secret(&text);
    assert!(!text.contains(&format!("response={TOKEN}")), "{text}");
    // Tokens are long opaque strings in practice; check with one that cannot appear by chance.
    let long_token = "tok-3f9c1b7e-never-log-me";
    let _ = verifier.verify(CaptchaProvider::Turnstile, long_token, None).await;
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(!text.contains(long_token), "{text}");
}

#[test]
fn settings_and_verifier_debug_redact_the_secrets() {
    let settings = CaptchaSettings {
        timeout: TIMEOUT,
        hcaptcha: Some(HCaptchaSettings::new(SecretString::from(HCAPTCHA_SECRET))),
        recaptcha: Some(ReCaptchaSettings::new(SecretString::from(RECAPTCHA_SECRET))),
        turnstile: Some(TurnstileSettings::new(SecretString::from(TURNSTILE_SECRET))),
    };
    let text = format!("{settings:?}");
    assert_no_secret(&text);
    assert!(text.contains("https://api.hcaptcha.com/siteverify"), "{text}");
    let verifier = HttpCaptcha::new(settings).unwrap();
    let text = format!("{verifier:?}");
    assert_no_secret(&text);
    assert!(text.contains("HCaptcha") && text.contains("Turnstile"), "{text}");
}

#[test]
fn the_defaults_are_the_providers_endpoints() {
    let secret = || SecretString::from("s");
    assert_eq!(
        HCaptchaSettings::new(secret()).verify_url,
        "https://api.hcaptcha.com/siteverify"
    );
    assert_eq!(
        ReCaptchaSettings::new(secret()).verify_url,
        "https://www.google.com/recaptcha/api/siteverify"
    );
    assert_eq!(
        TurnstileSettings::new(secret()).verify_url,
        "https://challenges.cloudflare.com/turnstile/v0/siteverify"
    );
    let r = ReCaptchaSettings::new(secret());
    assert!(r.min_score.is_none() && r.expected_action.is_none());
    assert!(HCaptchaSettings::new(secret()).site_key.is_none());
}

#[test]
fn bad_settings_are_refused_at_start_up() {
    let base = || CaptchaSettings {
        timeout: TIMEOUT,
        hcaptcha: None,
        recaptcha: Some(ReCaptchaSettings::new(SecretString::from(RECAPTCHA_SECRET))),
        turnstile: None,
    };

    let mut s = base();
    s.timeout = Duration::ZERO;
    assert!(matches!(HttpCaptcha::new(s), Err(BuildError::ZeroTimeout)));

    let mut s = base();
    s.turnstile = Some(TurnstileSettings::new(SecretString::from(" ")));
    assert!(matches!(
        HttpCaptcha::new(s),
        Err(BuildError::EmptySecret { provider: "turnstile" })
    ));

    for url in ["not a url", "ftp://example.test/siteverify", "file:///etc/passwd"] {
        let mut s = base();
        s.recaptcha.as_mut().unwrap().verify_url = url.into();
        let err = HttpCaptcha::new(s).unwrap_err();
        assert!(
            matches!(
                err,
                BuildError::BadUrl {
                    provider: "recaptcha",
                    ..
                }
            ),
            "{url}: {err:?}"
        );
    }

    for score in [-0.1, 1.5, f64::NAN] {
        let mut s = base();
        s.recaptcha.as_mut().unwrap().min_score = Some(score);
        assert!(
            matches!(HttpCaptcha::new(s), Err(BuildError::BadMinScore(_))),
            "{score}"
        );
    }
    let mut s = base();
    s.recaptcha.as_mut().unwrap().min_score = Some(0.0);
    HttpCaptcha::new(s).unwrap();
}
