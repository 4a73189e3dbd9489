//! Avatars over HTTP with real PostgreSQL: uploads as raw images and multipart, every accepted
//! format made into the configured avatar with nothing of the original file left, hostile
//! uploads refused with clear 4xx answers (wrong media type, garbage, truncations, SVG,
//! polyglots, oversized bodies, a decompression bomb) while the server keeps serving, public
//! cached serving with `ETag`/304, deletion, disabling and erasure, the per-account limit, and
//! the directory store.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Ctx, admin_key, admin_send, error_code, read, s, spawn_without_verification};
use image::ImageFormat;
use portcullis_images::fixtures::{bomb, chunk, contains, encoded, picture, with_chunks, with_exif};
use portcullis_testkit::TestApp;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

fn png(width: u32, height: u32) -> Vec<u8> {
    encoded(&picture(width, height), ImageFormat::Png)
}

/// An app without email verification, configured by `configure` beyond that.
async fn spawn_configured(configure: impl FnOnce(&mut portcullis_server::config::Config)) -> Ctx {
    let app = TestApp::builder()
        .database_from_env()
        .configure(|c| {
            c.registration.require_email_verification = false;
            configure(c);
        })
        .spawn()
        .await
        .unwrap();
    Ctx::new(app, false)
}

/// A signed-up user's access token.
async fn user(ctx: &Ctx, email: &str) -> String {
    s(&ctx.register(email, None).await, "access_token").to_owned()
}

async fn put_raw(ctx: &Ctx, token: Option<&str>, content_type: &str, body: Vec<u8>) -> Response {
    let mut req = ctx
        .http
        .put(ctx.app.url("/v1/account/avatar"))
        .header(CONTENT_TYPE, content_type)
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

const BOUNDARY: &str = "----portcullis-test-boundary";

/// A multipart/form-data body of `(name, declared type, file name, bytes)` parts.
fn multipart(parts: &[(&str, &str, &str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, content_type, filename, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
                 Content-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn put_multipart(ctx: &Ctx, token: &str, body: Vec<u8>) -> Response {
    put_raw(
        ctx,
        Some(token),
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        body,
    )
    .await
}

/// Uploads `bytes` as a raw PNG-typed body and returns the answer.
async fn upload(ctx: &Ctx, token: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    read(put_raw(ctx, Some(token), "image/png", bytes).await).await
}

async fn delete_avatar(ctx: &Ctx, token: &str) -> StatusCode {
    let req = ctx.http.delete(ctx.app.url("/v1/account/avatar")).bearer_auth(token);
    req.send().await.unwrap().status()
}

async fn account(ctx: &Ctx, token: &str) -> Value {
    let (status, body) = read(ctx.get("/v1/account", Some(token)).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

/// A path on the app for an absolute URL it handed out.
fn path_of(ctx: &Ctx, url: &str) -> String {
    url.strip_prefix(&ctx.app.url(""))
        .unwrap_or_else(|| panic!("{url} is not on the app"))
        .to_owned()
}

#[tokio::test]
async fn a_photo_is_uploaded_shown_fetched_with_its_etag_and_deleted() {
    let ctx = spawn_without_verification().await;
    let token = user(&ctx, "ada@example.com").await;
    let me = account(&ctx, &token).await;
    assert_eq!(me["avatar_url"], Value::Null);
    let id = s(&me, "id").to_owned();

    let (status, body) = upload(&ctx, &token, png(640, 480)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = s(&body["data"], "avatar_url").to_owned();
    let prefix = ctx.app.url(&format!("/v1/users/{id}/avatar?v="));
    assert!(url.starts_with(&prefix), "an absolute, versioned URL: {url}");
    assert_eq!(
        account(&ctx, &token).await["avatar_url"],
        json!(url),
        "GET /v1/account shows it"
    );

    // Public: no token.
    let res = ctx.get(&path_of(&ctx, &url), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let headers = res.headers().clone();
    assert_eq!(headers[CONTENT_TYPE], "image/jpeg");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers[CACHE_CONTROL],
        "public, max-age=31536000, s-maxage=3600, immutable"
    );
    let etag = headers[ETAG].to_str().unwrap().to_owned();
    let version = url.rsplit("v=").next().unwrap();
    let (tag, _) = version.split_once('-').unwrap();
    assert_eq!(etag, format!("\"{tag}\""), "a strong ETag from the content hash");
    let bytes = res.bytes().await.unwrap();
    let decoded = image::load_from_memory(&bytes).unwrap();
    assert_eq!(image::guess_format(&bytes).unwrap(), ImageFormat::Jpeg);
    assert_eq!((decoded.width(), decoded.height()), (256, 256));

    // The unversioned URL is revalidated rather than cached for a year.
    let plain = format!("/v1/users/{id}/avatar");
    let res = ctx.get(&plain, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CACHE_CONTROL], "public, no-cache");
    for sent in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
        "*".into(),
    ] {
        let res = ctx
            .http
            .get(ctx.app.url(&plain))
            .header(IF_NONE_MATCH, &sent)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "If-None-Match: {sent}");
        assert_eq!(res.headers()[ETAG], etag.as_str());
        assert!(res.bytes().await.unwrap().is_empty());
    }
    let res = ctx
        .http
        .get(ctx.app.url(&plain))
        .header(IF_NONE_MATCH, "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "an old ETag gets the picture");
    let res = ctx.http.head(ctx.app.url(&plain)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "HEAD works too");
    assert_eq!(res.headers()[ETAG], etag.as_str());

    // A new picture: a new version; the old URL is no longer the current one.
    let (_, body) = upload(&ctx, &token, png(100, 300)).await;
    let newer = s(&body["data"], "avatar_url").to_owned();
    assert_ne!(newer, url);
    let res = ctx.get(&path_of(&ctx, &url), None).await;
    assert_eq!(res.status(), StatusCode::OK, "the current picture, at the old URL");
    assert_eq!(
        res.headers()[CACHE_CONTROL],
        "public, no-cache",
        "but not cached for a year"
    );

    assert_eq!(delete_avatar(&ctx, &token).await, StatusCode::NO_CONTENT);
    let (status, body) = read(ctx.get(&plain, None).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(error_code(&body), "not_found");
    assert_eq!(account(&ctx, &token).await["avatar_url"], Value::Null);
    let n = ctx.count("SELECT count(*) AS n FROM blobs", &[]).await;
    assert_eq!(n, 0, "no bytes left behind");
}

#[tokio::test]
async fn every_accepted_format_becomes_a_clean_avatar() {
    let ctx = spawn_without_verification().await;
    let token = user(&ctx, "ada@example.com").await;
    let source = picture(300, 200);
    let doctored_png = with_chunks(
        &encoded(&source, ImageFormat::Png),
        &[
            chunk(b"tEXt", b"Comment\0SECRET-COMMENT"),
            chunk(b"eXIf", b"MM\0*SECRET-GPS-48.8584N"),
        ],
    );
    let doctored_jpeg = with_exif(&encoded(&source, ImageFormat::Jpeg), b"SECRET-GPS-48.8584N");
    for (what, bytes) in [
        ("png with text and exif", doctored_png),
        ("jpeg with exif", doctored_jpeg),
        ("webp", encoded(&source, ImageFormat::WebP)),
        ("gif", encoded(&source, ImageFormat::Gif)),
    ] {
        // The declared image type does not matter: the format is read from the bytes.
        let (status, body) = read(put_raw(&ctx, Some(&token), "image/gif", bytes).await).await;
        assert_eq!(status, StatusCode::OK, "{what}: {body}");
        let url = s(&body["data"], "avatar_url").to_owned();
        let stored = ctx.get(&path_of(&ctx, &url), None).await.bytes().await.unwrap();
        assert_eq!(image::guess_format(&stored).unwrap(), ImageFormat::Jpeg, "{what}");
        let decoded = image::load_from_memory(&stored).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (256, 256), "{what}");
        assert!(!contains(&stored, b"SECRET"), "{what}: metadata survived");
        assert!(!contains(&stored, b"Exif"), "{what}: an EXIF segment survived");
    }
}

#[tokio::test]
async fn multipart_takes_the_avatar_part_whatever_it_claims_to_be() {
    let ctx = spawn_without_verification().await;
    let token = user(&ctx, "ada@example.com").await;
    let picture = png(64, 64);
    let body = multipart(&[
        ("note", "text/plain", "note.txt", b"hello"),
        ("avatar", "text/plain", "evil.svg", &picture),
    ]);
    let (status, body) = read(put_multipart(&ctx, &token, body).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(s(&body["data"], "avatar_url").contains("/avatar?v="));

    let without = multipart(&[("picture", "image/png", "a.png", &picture)]);
    let (status, body) = read(put_multipart(&ctx, &token, without).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "avatar");

    let broken = b"--not-the-boundary\r\nnonsense".to_vec();
    let (status, body) = read(put_multipart(&ctx, &token, broken).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = read(put_raw(&ctx, Some(&token), "multipart/form-data", picture.clone()).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no boundary: {body}");
    // Any multipart type with a boundary, quoted or not.
    let mixed = multipart(&[("avatar", "application/octet-stream", "a", &picture)]);
    let res = put_raw(
        &ctx,
        Some(&token),
        &format!("multipart/mixed; charset=utf-8; boundary=\"{BOUNDARY}\""),
        mixed,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);

    // An SVG in the avatar part is sniffed, not trusted.
    let svg = multipart(&[(
        "avatar",
        "image/png",
        "a.png",
        br#"<svg xmlns="http://www.w3.org/2000/svg"/>"#,
    )]);
    let (status, body) = read(put_multipart(&ctx, &token, svg).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "invalid_image");
}

#[tokio::test]
async fn what_is_not_an_upload_or_not_an_image_gets_a_clear_4xx() {
    let ctx = spawn_without_verification().await;
    let token = user(&ctx, "ada@example.com").await;
    for content_type in ["application/json", "text/plain", "application/octet-stream", ""] {
        let (status, body) = read(put_raw(&ctx, Some(&token), content_type, png(8, 8)).await).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type:?}: {body}");
        assert_eq!(error_code(&body), "unsupported_media_type");
    }
    let whole = png(200, 200);
    let mut polyglot_gif = b"GIF89a\x01\x00\x01\x00/*".to_vec();
    polyglot_gif.extend_from_slice(b"*/=1;alert(document.domain);//");
    let junk: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("garbage", b"this is not a picture at all, only words".to_vec()),
        ("zeros", vec![0u8; 4096]),
        ("truncated png", whole[..whole.len() / 2].to_vec()),
        ("png signature only", whole[..8].to_vec()),
        (
            "svg",
            br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#.to_vec(),
        ),
        ("gif/script polyglot", polyglot_gif),
        ("bmp", [b"BM".as_slice(), &[0u8; 64]].concat()),
    ];
    for (what, bytes) in junk {
        let (status, body) = upload(&ctx, &token, bytes).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
        assert_eq!(error_code(&body), "invalid_image", "{what}");
    }
    // A valid picture with a page appended is a picture: the page does not survive.
    let mut appended = png(50, 50);
    appended.extend_from_slice(b"<html><script>alert(document.cookie)</script></html>");
    let (status, body) = upload(&ctx, &token, appended).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored = ctx
        .get(&path_of(&ctx, s(&body["data"], "avatar_url")), None)
        .await
        .bytes()
        .await
        .unwrap();
    assert!(!contains(&stored, b"<script"));
    assert_eq!(account(&ctx, &token).await["avatar_url"], body["data"]["avatar_url"]);
}

#[tokio::test]
async fn random_and_mutated_uploads_get_an_answer_never_a_5xx() {
    let ctx = spawn_without_verification().await;
    let token = user(&ctx, "ada@example.com").await;
    // xorshift: reproducible without another dependency.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds: Vec<Vec<u8>> = [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP, ImageFormat::Gif]
        .into_iter()
        .map(|f| encoded(&picture(40, 30), f))
        .collect();
    for round in 0..60usize {
        let bytes = if round % 3 == 0 {
            (0..next() % 600).map(|_| next() as u8).collect()
        } else {
            let mut bytes = seeds[round % seeds.len()].clone();
            for _ in 0..1 + next() % 6 {
                let at = (next() as usize) % bytes.len();
                bytes[at] = next() as u8;
            }
            if next() % 3 == 0 {
                bytes.truncate((next() as usize) % bytes.len());
            }
            bytes
        };
        let (status, body) = upload(&ctx, &token, bytes).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::UNPROCESSABLE_ENTITY,
            "round {round}: {status} {body}"
        );
    }
}

#[tokio::test]
async fn oversized_uploads_are_413_declared_or_streamed() {
    let ctx = spawn_without_verification().await;
    let token = user(&ctx, "ada@example.com").await;
    let limit = 5 * 1024 * 1024;
    let (status, body) = upload(&ctx, &token, vec![0u8; limit + 1]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(error_code(&body), "payload_too_large");
    // Without a length: counted as it arrives.
    let chunks = (0..6).map(|_| Ok::<_, std::io::Error>(vec![0u8; 1024 * 1024]));
    let res = ctx
        .http
        .put(ctx.app.url("/v1/account/avatar"))
        .bearer_auth(&token)
        .header(CONTENT_TYPE, "image/jpeg")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await;
    match res {
        Ok(res) => assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE),
        // The server may answer and close before the client has sent everything.
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    let multi = multipart(&[("avatar", "image/png", "big.png", &vec![0u8; limit + 1])]);
    let (status, _) = read(put_multipart(&ctx, &token, multi).await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(account(&ctx, &token).await["avatar_url"], Value::Null);
}

#[tokio::test]
async fn decompression_bombs_are_refused_and_the_server_keeps_serving() {
    let ctx = spawn_without_verification().await;
    let token = user(&ctx, "ada@example.com").await;
    let bomb = bomb(40_000, 40_000);
    assert!(bomb.len() < 100, "a tiny file");
    let started = std::time::Instant::now();
    let (status, body) = upload(&ctx, &token, bomb.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "invalid_image");
    eprintln!("a 40 000 × 40 000 bomb was refused in {:?}", started.elapsed());
    // Many at once: each is refused, none takes the server down.
    let answers = futures::future::join_all((0..16).map(|_| upload(&ctx, &token, bomb.clone()))).await;
    for (status, body) in answers {
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::SERVICE_UNAVAILABLE,
            "{status}: {body}"
        );
    }
    let (status, body) = upload(&ctx, &token, png(32, 32)).await;
    assert_eq!(status, StatusCode::OK, "a real picture still goes through: {body}");
    assert_eq!(ctx.get("/health/live", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn uploading_needs_a_token_and_changes_only_the_callers_avatar() {
    let ctx = spawn_without_verification().await;
    let (status, body) = read(put_raw(&ctx, None, "image/png", png(16, 16)).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let res = ctx.http.delete(ctx.app.url("/v1/account/avatar")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let ada = user(&ctx, "ada@example.com").await;
    let bob = user(&ctx, "bob@example.com").await;
    let (_, body) = upload(&ctx, &ada, png(16, 16)).await;
    let adas = s(&body["data"], "avatar_url").to_owned();
    let (_, body) = upload(&ctx, &bob, png(48, 16)).await;
    assert_ne!(s(&body["data"], "avatar_url"), adas);
    assert_eq!(delete_avatar(&ctx, &bob).await, StatusCode::NO_CONTENT);
    assert_eq!(
        account(&ctx, &ada).await["avatar_url"],
        json!(adas),
        "ada's is untouched"
    );
    assert_eq!(ctx.get(&path_of(&ctx, &adas), None).await.status(), StatusCode::OK);
    // Other methods on the public picture are not a way in.
    let id = s(&account(&ctx, &ada).await, "id").to_owned();
    let res = ctx
        .http
        .put(ctx.app.url(&format!("/v1/users/{id}/avatar")))
        .bearer_auth(&bob)
        .header(CONTENT_TYPE, "image/png")
        .body(png(8, 8))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    for missing in [
        "/v1/users/not-a-uuid/avatar",
        "/v1/users/0190f0a0-0000-7000-8000-000000000000/avatar",
    ] {
        let (status, body) = read(ctx.get(missing, None).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}: {body}");
    }
}

#[tokio::test]
async fn disabling_hides_the_avatar_and_erasing_removes_it() {
    let ctx = spawn_without_verification().await;
    let key = admin_key(&ctx, "support", None, false).await;
    let token = user(&ctx, "ada@example.com").await;
    let id = s(&account(&ctx, &token).await, "id").to_owned();
    let (_, body) = upload(&ctx, &token, png(20, 20)).await;
    let url = s(&body["data"], "avatar_url").to_owned();

    let admin_path = format!("/v1/admin/tenants/default/users/{id}");
    let (status, body) = admin_send(&ctx, Method::POST, &key, &format!("{admin_path}/disable"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["avatar_url"], json!(url), "operators still see it");
    assert_eq!(
        ctx.get(&path_of(&ctx, &url), None).await.status(),
        StatusCode::NOT_FOUND
    );
    let (status, _) = admin_send(&ctx, Method::POST, &key, &format!("{admin_path}/enable"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctx.get(&path_of(&ctx, &url), None).await.status(), StatusCode::OK);

    let (status, body) = admin_send(&ctx, Method::DELETE, &key, &admin_path, json!({})).await;
    assert!(status.is_success(), "{status}: {body}");
    assert_eq!(
        ctx.get(&path_of(&ctx, &url), None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(ctx.count("SELECT count(*) AS n FROM blobs", &[]).await, 0);
}

#[tokio::test]
async fn uploads_are_limited_per_account() {
    let ctx = spawn_configured(|c| {
        c.limits.avatar_upload_per_account = portcullis_server::config::LimitConfig {
            count: 2,
            period_secs: 3600,
        };
    })
    .await;
    let token = user(&ctx, "ada@example.com").await;
    assert_eq!(upload(&ctx, &token, png(8, 8)).await.0, StatusCode::OK);
    assert_eq!(
        upload(&ctx, &token, b"junk".to_vec()).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let res = put_raw(&ctx, Some(&token), "image/png", png(8, 8)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let other = user(&ctx, "bob@example.com").await;
    assert_eq!(
        upload(&ctx, &other, png(8, 8)).await.0,
        StatusCode::OK,
        "a budget per account"
    );
}

#[tokio::test]
async fn avatar_urls_use_the_public_url_and_a_directory_can_hold_the_bytes() {
    let dir = std::env::temp_dir().join(format!("portcullis-avatars-{}", uuid::Uuid::now_v7()));
    let dir_for_config = dir.clone();
    let ctx = spawn_configured(move |c| {
        c.server.public_url = Some("https://auth.example.com/base/".into());
        c.avatars.store = portcullis_server::config::AvatarStoreKind::Directory;
        c.avatars.directory = Some(dir_for_config);
        c.avatars.format = portcullis_server::config::AvatarFormatConfig::Png;
        c.avatars.size = 64;
    })
    .await;
    let token = user(&ctx, "ada@example.com").await;
    let id = s(&account(&ctx, &token).await, "id").to_owned();
    let (status, body) = upload(&ctx, &token, png(300, 100)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = s(&body["data"], "avatar_url").to_owned();
    let expected = format!("https://auth.example.com/base/v1/users/{id}/avatar?v=");
    assert!(url.starts_with(&expected), "{url}");
    let version = url.rsplit("v=").next().unwrap().to_owned();

    let file = dir.join("avatars").join(&id).join(&version);
    assert!(file.is_file(), "{} holds the bytes", file.display());
    assert_eq!(
        ctx.count("SELECT count(*) AS n FROM blobs", &[]).await,
        0,
        "none in the database"
    );
    let res = ctx.get(&format!("/v1/users/{id}/avatar?v={version}"), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CONTENT_TYPE], "image/png");
    let decoded = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 64));

    assert_eq!(delete_avatar(&ctx, &token).await, StatusCode::NO_CONTENT);
    assert!(!file.exists(), "the file goes with it");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn slow_uploads_time_out_and_bodies_in_flight_are_bounded() {
    let ctx = spawn_configured(|c| {
        c.avatars.max_concurrent_uploads = 1;
        c.avatars.upload_timeout_secs = 1;
    })
    .await;
    let ada = user(&ctx, "ada@example.com").await;
    let bob = user(&ctx, "bob@example.com").await;
    // A body that trickles: a byte, then nothing for longer than the timeout.
    let trickle = futures::stream::unfold(0u8, |n| async move {
        if n > 0 {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        }
        (n < 2).then_some((Ok::<_, std::io::Error>(vec![0x89u8]), n + 1))
    });
    let slow = ctx
        .http
        .put(ctx.app.url("/v1/account/avatar"))
        .bearer_auth(&ada)
        .header(CONTENT_TYPE, "image/png")
        .body(reqwest::Body::wrap_stream(trickle))
        .send();
    let other = async {
        // While the slow body holds the only place, another upload is refused before its body
        // is read.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        read(put_raw(&ctx, Some(&bob), "image/png", png(8, 8)).await).await
    };
    let (slow, (status, body)) = tokio::join!(slow, other);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_code(&body), "server_busy");
    let (status, body) = read(slow.unwrap()).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{body}");
    assert_eq!(error_code(&body), "request_timeout");
    let (status, body) = upload(&ctx, &bob, png(8, 8)).await;
    assert_eq!(status, StatusCode::OK, "the place is free again: {body}");
}
