//! Password screening for Portcullis: refuses new passwords that are too common to be safe.
//!
//! - **The list** (always on): the 97 743 most common passwords of public breach corpora,
//!   compiled into the binary (`data/common-passwords.txt`, see `data/README.md` for its source
//!   and licence). A password is compared in NFKC form, lower-cased, so `Password1` and
//!   `PASSWORD1` are both refused. The list is searched in place, by binary search over its
//!   sorted lines: no start-up work, no heap, and a look-up costs about twenty short string
//!   comparisons.
//! - **Have I Been Pwned** (off unless configured): the Pwned Passwords range API with
//!   k-anonymity. Only the first five hex digits of the password's SHA-1 leave the process,
//!   responses are padded (`Add-Padding: true`), and a password seen at least `min_count`
//!   times is refused. The check fails open: when the service does not answer in time or
//!   answers something else, the password is accepted and a warning says why, so an outage
//!   there never stops sign-ups or resets.

use std::time::Duration;

use async_trait::async_trait;
use portcullis_domain::{Password, PasswordScreen};
use sha1::{Digest, Sha1};

/// The embedded list: NFKC, lower-cased, sorted by bytes, one per line.
static COMMON: &str = include_str!("../data/common-passwords.txt");

/// Largest range response read (a padded answer is about 40 KB).
const MAX_RANGE_BYTES: usize = 512 * 1024;

/// Whether `candidate` is exactly one of the lines of `sorted` (lines sorted by their bytes,
/// each ended by `\n`).
fn contains_line(sorted: &str, candidate: &str) -> bool {
    let (text, needle) = (sorted.as_bytes(), candidate.as_bytes());
    // Both ends are always the start of a line (or the end of the text).
    let (mut lo, mut hi) = (0, text.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let start = text[lo..mid]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(lo, |i| lo + i + 1);
        let end = text[start..hi]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(hi, |i| start + i);
        match text[start..end].cmp(needle) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => lo = end + 1,
            std::cmp::Ordering::Greater => hi = start,
        }
    }
    false
}

/// Characters that show as nothing (soft hyphen, zero-width spaces and joiners, word joiner,
/// byte-order mark): a common password with one slipped in is still that password.
fn invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{034F}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// The form a password is looked up in: NFKC (as it is hashed), lower-cased, without invisible
/// characters, and without leading or trailing white space.
fn list_key(password: &str) -> String {
    password
        .chars()
        .filter(|c| !invisible(*c))
        .collect::<String>()
        .trim()
        .to_lowercase()
}

/// Whether `password` is in the embedded list of common passwords.
///
/// ```
/// use portcullis_domain::PasswordPolicy;
/// use portcullis_password_screen::in_common_list;
/// let parse = |s: &str| PasswordPolicy::default().parse(s).unwrap();
/// assert!(in_common_list(&parse("Password1")));
/// assert!(in_common_list(&parse("ｐａｓｓｗｏｒｄ１"))); // full-width is the same password
/// assert!(in_common_list(&parse(" Pass\u{200B}word1 "))); // so is one padded or with invisibles
/// assert!(!in_common_list(&parse("correct horse battery staple")));
/// ```
pub fn in_common_list(password: &Password) -> bool {
    let Ok(text) = std::str::from_utf8(password.expose()) else {
        return false;
    };
    contains_line(COMMON, &list_key(text))
}

/// Settings of the Have I Been Pwned check.
#[derive(Debug, Clone)]
pub struct PwnedSettings {
    /// The range endpoint; the five-digit prefix is appended (default
    /// `https://api.pwnedpasswords.com/range/`).
    pub range_url: String,
    /// How long one check may take before the password is let through.
    pub timeout: Duration,
    /// Breaches a password must have been seen in to be refused (default 1).
    pub min_count: u64,
}

impl Default for PwnedSettings {
    fn default() -> Self {
        Self {
            range_url: "https://api.pwnedpasswords.com/range/".into(),
            timeout: Duration::from_secs(2),
            min_count: 1,
        }
    }
}

/// Why the screen could not be built.
#[derive(Debug, thiserror::Error)]
#[error("password screen: {0}")]
pub struct ScreenError(String);

/// The screen: the embedded list, and the breach service when configured.
#[derive(Debug)]
pub struct CommonPasswords {
    pwned: Option<Pwned>,
}

#[derive(Debug)]
struct Pwned {
    client: reqwest::Client,
    settings: PwnedSettings,
}

impl CommonPasswords {
    /// The embedded list alone.
    pub fn list_only() -> Self {
        Self { pwned: None }
    }

    /// The embedded list, then the breach service.
    pub fn with_pwned(settings: PwnedSettings) -> Result<Self, ScreenError> {
        if !(settings.range_url.starts_with("https://") || settings.range_url.starts_with("http://")) {
            return Err(ScreenError("the range URL must be an http(s) URL".into()));
        }
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ScreenError(e.to_string()))?;
        Ok(Self {
            pwned: Some(Pwned { client, settings }),
        })
    }
}

impl Pwned {
    /// How many breaches the password was seen in, or why that is unknown.
    async fn count(&self, password: &Password) -> Result<u64, String> {
        let digest = Sha1::digest(password.expose());
        let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
        let (prefix, suffix) = hex.split_at(5);
        let url = format!("{}{prefix}", self.settings.range_url);
        let mut res = self
            .client
            .get(&url)
            .header("Add-Padding", "true")
            .send()
            .await
            .map_err(|e| format!("request failed: {}", without_url(&e)))?;
        if !res.status().is_success() {
            return Err(format!("answered {}", res.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = res
            .chunk()
            .await
            .map_err(|e| format!("reading the answer: {}", without_url(&e)))?
        {
            if body.len() + chunk.len() > MAX_RANGE_BYTES {
                return Err("answer too large".into());
            }
            body.extend_from_slice(&chunk);
        }
        let body = String::from_utf8(body).map_err(|_| "answer is not text".to_owned())?;
        let mut seen = 0;
        for line in body.lines() {
            let Some((hash, count)) = line.trim().split_once(':') else {
                return Err("answer is not a range list".into());
            };
            if hash.eq_ignore_ascii_case(suffix) {
                seen = count.trim().parse().map_err(|_| "answer has a bad count".to_owned())?;
            }
        }
        Ok(seen)
    }
}

/// reqwest's errors name the URL; ours holds a hash prefix of the password, which has no place
/// in a log line.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "failed"
    };
    kind.to_owned()
}

#[async_trait]
impl PasswordScreen for CommonPasswords {
    async fn is_common(&self, password: &Password) -> bool {
        if in_common_list(password) {
            return true;
        }
        let Some(pwned) = &self.pwned else { return false };
        match pwned.count(password).await {
            Ok(seen) => {
                let breached = seen >= pwned.settings.min_count.max(1);
                tracing::debug!(breached, "breach check answered");
                breached
            }
            Err(why) => {
                tracing::warn!(reason = %why, "breach check unavailable; the password was let through");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_embedded_list_is_sorted_unique_and_normalised() {
        let lines: Vec<&str> = COMMON.lines().collect();
        assert!(lines.len() > 90_000, "{}", lines.len());
        assert!(COMMON.ends_with('\n'));
        assert!(
            lines.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()),
            "sorted, no duplicates"
        );
        assert!(lines.iter().all(|l| !l.is_empty() && *l == l.to_lowercase()));
        for l in &lines {
            assert!(contains_line(COMMON, l), "{l:?} is found");
        }
    }

    #[test]
    fn common_passwords_are_found_in_any_case_and_others_are_not() {
        let parse = |s: &str| portcullis_domain::PasswordPolicy::default().parse(s).unwrap();
        for common in [
            "password",
            "Password1",
            "QWERTYUIOP",
            "iloveyou1",
            "trustno1",
            "p@ssw0rd",
            "1q2w3e4r5t",
        ] {
            assert!(in_common_list(&parse(common)), "{common}");
        }
        for fine in [
            "correct horse battery staple",
            "a new long passphrase",
            "plain sailing horse",
            "zebra crossing at midnight",
        ] {
            assert!(!in_common_list(&parse(fine)), "{fine}");
        }
    }

    proptest! {
        #[test]
        fn the_search_agrees_with_a_set(words in proptest::collection::btree_set("[a-c]{0,4}", 0..40), probe in "[a-c]{0,5}") {
            let words: Vec<&String> = words.iter().filter(|w| !w.is_empty()).collect();
            let text: String = words.iter().map(|w| format!("{w}\n")).collect();
            prop_assert_eq!(contains_line(&text, &probe), words.iter().any(|w| **w == probe));
        }
    }
}
