//! The server's keys at start-up: read from the configuration (or generated and kept in the
//! database, where the profile allows it), and each checked against the fingerprint the
//! database keeps of the key it was last used with, so a forgotten or wrong key is a start-up
//! error naming its setting instead of 401s and 500s later.

use anyhow::{Context as _, bail};
use base64::Engine as _;
use portcullis_domain::{JwtKeys, MfaKeyring, SecretStore, SecureRandom, ServerKey};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::config::Config;

const SIGNING_SEED_SECRET: &str = "jwt_ed25519_seed_v1";
const REFRESH_KEY_SECRET: &str = "refresh_hmac_key_v1";

/// Where the fingerprint of each key in use is kept (`server_secrets`; a fingerprint is a
/// one-way digest, not the key).
const SIGNING_FINGERPRINT: &str = "fingerprint:signing_key";
const REFRESH_FINGERPRINT: &str = "fingerprint:refresh_key";
/// The `kid` a node last published as `tokens.next_signing_key_file`: the only key the stored
/// signing fingerprint may move on to.
const SIGNING_PUBLISHED: &str = "fingerprint:signing_key_published";

/// The keys the configuration names, parsed and checked; `None` where storage must supply one.
/// `check-config` runs this too, so a bad key fails there rather than at `serve`.
#[derive(Debug)]
pub struct ConfiguredKeys {
    /// The signing key set, when a private key is configured.
    pub signing: Option<JwtKeys>,
    /// Public keys accepted and published besides the signing key: the next key (before it
    /// signs) and earlier ones (until their tokens expire).
    pub also_accepted: Vec<[u8; 32]>,
    /// The `kid` of `tokens.next_signing_key_file`, when one is configured.
    pub next_kid: Option<String>,
    /// The refresh-successor key, when configured.
    pub refresh: Option<ServerKey>,
    /// The key encrypting TOTP secrets, when configured.
    pub mfa: Option<Zeroizing<[u8; 32]>>,
    /// The next MFA key of a rotation (opens, does not seal).
    pub mfa_next: Option<Zeroizing<[u8; 32]>>,
    /// Earlier MFA keys (open what they sealed until it is sealed again).
    pub mfa_previous: Vec<Zeroizing<[u8; 32]>>,
}

/// Every key the server runs with.
#[derive(Debug)]
pub struct Keys {
    /// Signs access tokens; verifies them with the keys accepted besides.
    pub signing: JwtKeys,
    /// Derives refresh-token successors and one-time secret hashes.
    pub refresh: ServerKey,
    /// Encrypt TOTP secrets: the current key, and during a rotation the next or previous ones.
    pub mfa: MfaKeyring,
}

fn read_file(setting: &str, path: &std::path::Path) -> anyhow::Result<Zeroizing<String>> {
    // The error names the setting and the path, never the content.
    std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .with_context(|| format!("{setting}: cannot read {}", path.display()))
}

fn public_key_of(setting: &str, pem: &str) -> anyhow::Result<[u8; 32]> {
    JwtKeys::public_key_from_pem(pem).with_context(|| setting.to_owned())
}

/// Reads and parses every configured key.
pub fn configured_keys(config: &Config) -> anyhow::Result<ConfiguredKeys> {
    let t = &config.tokens;
    let pem = match (&t.signing_key_pem, &t.signing_key_file) {
        (Some(pem), _) => Some(Zeroizing::new(pem.expose_secret().to_owned())),
        (None, Some(path)) => Some(read_file("tokens.signing_key_file", path)?),
        (None, None) => None,
    };
    let mut also_accepted = Vec::new();
    let mut next_kid = None;
    if let Some(path) = &t.next_signing_key_file {
        let pem = read_file("tokens.next_signing_key_file", path)?;
        let public = public_key_of("tokens.next_signing_key_file", &pem)?;
        next_kid = Some(JwtKeys::kid_of(&public));
        also_accepted.push(public);
    }
    for pem in &t.previous_public_keys_pem {
        also_accepted.push(public_key_of("tokens.previous_public_keys_pem", pem)?);
    }
    for path in &t.previous_public_key_files {
        let pem = read_file("tokens.previous_public_key_files", path)?;
        also_accepted.push(public_key_of("tokens.previous_public_key_files", &pem)?);
    }
    let signing = pem
        .map(|pem| JwtKeys::from_pem(&pem, &also_accepted))
        .transpose()
        .context("tokens.signing_key_pem / tokens.signing_key_file")?;
    let refresh = t
        .refresh_key
        .as_ref()
        .map(|configured| -> anyhow::Result<ServerKey> {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(configured.expose_secret().trim())
                // The decoder's error names a character of the key and its offset: not logged.
                .map_err(|_| anyhow::anyhow!("tokens.refresh_key must be standard base64"))?;
            ServerKey::new(bytes).context("tokens.refresh_key")
        })
        .transpose()?;
    let m = &config.mfa;
    let mfa = m
        .encryption_key
        .as_ref()
        .map(|key| mfa_key("mfa.encryption_key", key.expose_secret()))
        .transpose()?;
    let mfa_next = m
        .next_encryption_key
        .as_ref()
        .map(|key| mfa_key("mfa.next_encryption_key", key.expose_secret()))
        .transpose()?;
    let mut mfa_previous = Vec::new();
    for key in &m.previous_encryption_keys {
        mfa_previous.push(mfa_key("mfa.previous_encryption_keys", key.expose_secret())?);
    }
    for path in &m.previous_encryption_key_files {
        let text = read_file("mfa.previous_encryption_key_files", path)?;
        mfa_previous.push(mfa_key("mfa.previous_encryption_key_files", &text)?);
    }
    Ok(ConfiguredKeys {
        signing,
        also_accepted,
        next_kid,
        refresh,
        mfa,
        mfa_next,
        mfa_previous,
    })
}

/// A 32-byte MFA key from its base64 text; errors name the setting, never the text.
fn mfa_key(setting: &str, text: &str) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    let bytes = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| anyhow::anyhow!("{setting} must be standard base64"))?,
    );
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("{setting} must be 32 bytes"))?;
    Ok(Zeroizing::new(key))
}

/// Refuses keys that would be generated when the configuration requires configured ones
/// (`server.require_configured_keys`, on in the production profile).
pub fn refuse_missing(config: &Config, configured: &ConfiguredKeys) -> anyhow::Result<()> {
    let mut missing = Vec::new();
    if configured.signing.is_none() {
        missing.push("tokens.signing_key_file");
    }
    if configured.mfa.is_none() {
        missing.push("mfa.encryption_key");
    }
    if config.server.requires_configured_keys() && !missing.is_empty() {
        bail!(
            "refusing to start without {}: a generated key would be kept in the database beside what it protects, \
             and a key forgotten on a restart would sign users out or break their second factor. Set it \
             (docs/OPERATIONS.md, \"Keys\"), or server.profile = \"development\" on a machine that is not a deployment",
            missing.join(" and "),
        );
    }
    Ok(())
}

/// The keys to run with: the configured ones, else (where the profile allows) ones generated
/// once and kept in the database; each checked against its stored fingerprint.
pub async fn load(config: &Config, store: &dyn SecretStore, rng: &dyn SecureRandom) -> anyhow::Result<Keys> {
    let configured = configured_keys(config)?;
    refuse_missing(config, &configured)?;
    let signing = match configured.signing {
        Some(keys) => keys,
        None => generated_signing_keys(&configured.also_accepted, store, rng).await?,
    };
    let refresh = match configured.refresh {
        Some(key) => key,
        None => ServerKey::new(generated(store, rng, REFRESH_KEY_SECRET).await?.to_vec())?,
    };
    let mfa = match configured.mfa {
        Some(key) => key,
        None => {
            tracing::warn!(
                "NO MFA ENCRYPTION KEY CONFIGURED: TOTP secrets are encrypted with a key generated on first start and \
                 stored in the same database. Configure mfa.encryption_key (32 bytes, base64) for production."
            );
            generated(store, rng, crate::mfa_keys::MFA_KEY_SECRET).await?
        }
    };

    let legacy = legacy_fingerprint(store, REFRESH_KEY_SECRET, |k| {
        ServerKey::new(k.to_vec())
            .ok()
            .map(|k| k.fingerprint("tokens.refresh_key"))
    })
    .await?;
    let refresh_fp = refresh.fingerprint("tokens.refresh_key");
    check_symmetric(store, REFRESH_FINGERPRINT, "tokens.refresh_key", &refresh_fp, legacy).await?;
    let legacy = legacy_fingerprint(store, crate::mfa_keys::MFA_KEY_SECRET, |k| {
        k.try_into().ok().map(crate::mfa_keys::fingerprint)
    })
    .await?;
    let mfa = MfaKeyring {
        key: mfa,
        next_key: configured.mfa_next,
        previous_keys: configured.mfa_previous,
    };
    crate::mfa_keys::check_at_start(store, &mfa, legacy).await?;
    check_signing(store, &signing, configured.next_kid.as_deref()).await?;
    Ok(Keys { signing, refresh, mfa })
}

/// The MFA keys for `portcullis mfa-keys`, checked against the database's records without
/// writing anything (no key generated, no record moved).
pub async fn mfa_keys_for_operator(config: &Config, store: &dyn SecretStore) -> anyhow::Result<MfaKeyring> {
    let configured = configured_keys(config)?;
    crate::mfa_keys::checked_for_operator(store, configured.mfa, configured.mfa_next, configured.mfa_previous).await
}

/// The signing key against the stored `kid`: it passes when it is that key or one this node
/// accepts besides (a rotation in progress). The stored `kid` moves on only to a key that a
/// node published first as `tokens.next_signing_key_file`, so one misconfigured node cannot
/// move it and lock the correctly configured ones out of their next restart.
async fn check_signing(store: &dyn SecretStore, signing: &JwtKeys, next_kid: Option<&str>) -> anyhow::Result<()> {
    let kid = signing.active_kid().to_owned();
    if let Some(next) = next_kid {
        store.put_secret(SIGNING_PUBLISHED, next.as_bytes()).await?;
    }
    // A database from before fingerprints, signing with its generated key: that key's kid.
    let legacy = legacy_fingerprint(store, SIGNING_SEED_SECRET, |seed| {
        let seed: [u8; 32] = seed.try_into().ok()?;
        JwtKeys::from_ed25519_seed(&seed, &[])
            .ok()
            .map(|k| k.active_kid().to_owned())
    })
    .await?;
    let stored = stored_fingerprint(store, SIGNING_FINGERPRINT, legacy.as_deref().unwrap_or(&kid)).await?;
    if stored == kid {
        return Ok(());
    }
    if signing.jwk(&stored).is_none() {
        bail!(
            "tokens.signing_key_file: this key (kid {kid}) is not the one this database's tokens are signed with \
             (kid {stored}), nor one this node accepts besides: every signed-in user would get 401. Restore the \
             key, or rotate as docs/OPERATIONS.md \"Rotating the signing key\" says (publish the new key as \
             tokens.next_signing_key_file first, then sign with it listing the old one in \
             tokens.previous_public_key_files)"
        );
    }
    if next_kid == Some(stored.as_str()) {
        // This node is still on the publishing step; others already sign with its next key.
        return Ok(());
    }
    let published = store.secret(SIGNING_PUBLISHED).await?;
    if published.as_deref() == Some(kid.as_bytes()) {
        store.put_secret(SIGNING_FINGERPRINT, kid.as_bytes()).await?;
        tracing::info!(kid = %kid, previous = %stored, "signing key rotated: this key now signs");
    } else {
        tracing::warn!(
            kid = %kid,
            signs_elsewhere = %stored,
            "this node signs with a key that was never published as tokens.next_signing_key_file: nodes without it \
             answer 401 to its tokens; publish it on every node first"
        );
    }
    Ok(())
}

/// The fingerprint of the key a database from before fingerprints was used with, when it kept
/// a generated one under `generated` (`digest` makes the fingerprint from its bytes).
async fn legacy_fingerprint(
    store: &dyn SecretStore,
    generated: &str,
    digest: impl Fn(&[u8]) -> Option<String>,
) -> anyhow::Result<Option<String>> {
    Ok(store.secret(generated).await?.as_deref().and_then(digest))
}

/// The stored fingerprint under `name`; when there is none yet, `first` is stored and returned
/// (every node starting at once agrees on one).
async fn stored_fingerprint(store: &dyn SecretStore, name: &str, first: &str) -> anyhow::Result<String> {
    let stored = store.get_or_create_secret(name, first.as_bytes()).await?;
    String::from_utf8(stored).with_context(|| format!("the stored {name} is not text"))
}

/// A symmetric key against its stored fingerprint. A database from before fingerprints is
/// held to the generated key it keeps (`legacy`), if any: that is the key its data was made
/// with.
async fn check_symmetric(
    store: &dyn SecretStore,
    name: &str,
    setting: &str,
    current: &str,
    legacy: Option<String>,
) -> anyhow::Result<()> {
    let stored = stored_fingerprint(store, name, legacy.as_deref().unwrap_or(current)).await?;
    if stored != current {
        bail!(
            "{setting}: this key (fingerprint {current}) is not the one this database was used with (fingerprint \
             {stored}). Restore the key; if the database was used with a generated one, configure that key: \
             SELECT encode(secret, 'base64') FROM server_secrets WHERE name = '{REFRESH_KEY_SECRET}' \
             (docs/OPERATIONS.md, \"Keys\"). Starting with another would invalidate every refresh token and every \
             mailed link and code"
        );
    }
    Ok(())
}

/// A 32-byte secret generated once and kept in the database under `name`.
async fn generated(store: &dyn SecretStore, rng: &dyn SecureRandom, name: &str) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    let mut candidate = Zeroizing::new([0u8; 32]);
    rng.fill(&mut candidate[..]);
    let stored = Zeroizing::new(store.get_or_create_secret(name, &candidate[..]).await?);
    let key: [u8; 32] = stored
        .as_slice()
        .try_into()
        .with_context(|| format!("the stored {name} is not 32 bytes"))?;
    Ok(Zeroizing::new(key))
}

async fn generated_signing_keys(
    also_accepted: &[[u8; 32]],
    store: &dyn SecretStore,
    rng: &dyn SecureRandom,
) -> anyhow::Result<JwtKeys> {
    let seed = generated(store, rng, SIGNING_SEED_SECRET).await?;
    tracing::warn!(
        "NO SIGNING KEY CONFIGURED: signing access tokens with a key generated on first start and stored in the \
         database, so all nodes agree. Anyone who can read the database can forge tokens. Configure \
         tokens.signing_key_file (Ed25519 PKCS#8 PEM) for production."
    );
    Ok(JwtKeys::from_ed25519_seed(&seed, also_accepted)?)
}

#[cfg(test)]
mod tests {
    use figment::Figment;
    use figment::providers::Serialized;

    use super::*;

    /// The Ed25519 private key of RFC 8410, section 10.3.
    const RFC8410_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";

    fn config(extra: &[(&str, &str)]) -> Config {
        let mut figment = Figment::new().merge(Serialized::default("database.url", "postgres://x@localhost/db"));
        for (k, v) in extra {
            figment = figment.merge(Serialized::default(k, v));
        }
        Config::from_figment(&figment).unwrap()
    }

    #[test]
    fn configured_keys_are_parsed_and_bad_ones_refused() {
        let none = configured_keys(&config(&[])).unwrap();
        assert!(none.signing.is_none() && none.refresh.is_none());

        let refresh = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let some = configured_keys(&config(&[
            ("tokens.signing_key_pem", RFC8410_KEY),
            ("tokens.refresh_key", refresh),
        ]))
        .unwrap();
        let keys = some.signing.unwrap();
        // RFC 8410's public key for this private key.
        assert_eq!(
            keys.jwks()["keys"][0]["x"],
            "Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE"
        );
        assert!(some.refresh.is_some());

        for bad in [
            vec![("tokens.signing_key_pem", "not a key")],
            vec![("tokens.refresh_key", "c2hvcnQ=")],
            vec![("tokens.refresh_key", "not base64!")],
            vec![("tokens.previous_public_keys_pem", "x")],
            vec![("tokens.signing_key_file", "/nonexistent/key.pem")],
        ] {
            let result = std::panic::catch_unwind(|| config(&bad)).map(|c| configured_keys(&c).is_err());
            assert!(result.unwrap_or(true), "{bad:?} should be refused");
        }
        // The rotation's keys are parsed as strictly, and named without their value.
        let short = "c2hvcnQ=";
        for key in ["mfa.previous_encryption_keys", "mfa.next_encryption_key"] {
            let figment = Figment::new()
                .merge(Serialized::default("database.url", "postgres://x@localhost/db"))
                .merge(if key.ends_with('s') {
                    Serialized::default(key, figment::value::Value::from(vec![short]))
                } else {
                    Serialized::default(key, figment::value::Value::from(short))
                });
            let error = configured_keys(&Config::from_figment(&figment).unwrap()).unwrap_err();
            let error = format!("{error:#}");
            assert!(error.contains(key) && !error.contains(short), "{error}");
        }
    }
}
