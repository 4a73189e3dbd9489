//! Parse-don't-validate types for what users type: email addresses, passwords and usernames.
//! They are built once at the edge; past that, the domain never sees an unchecked string.

use std::fmt;
use std::str::FromStr;

use regex::Regex;
use zeroize::Zeroizing;

/// Why a value was refused. `code()` is the stable machine code shown in validation details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// Empty or missing.
    #[error("is required")]
    Required,
    /// Shorter than the policy allows.
    #[error("is too short")]
    TooShort,
    /// Longer than the policy allows.
    #[error("is too long")]
    TooLong,
    /// Not of the expected shape.
    #[error("is not valid")]
    Invalid,
}

impl FieldError {
    /// The stable snake_case code of this error.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::Invalid => "invalid",
        }
    }
}

/// The key under which email addresses and usernames are unique and looked up: the text in
/// Unicode NFKC, then case-folded (upper case, then lower case, which folds `ß` to `ss` and
/// `ς` to `σ` as full case folding does), then in NFKC again (so the result is stable under
/// both). Look-alikes that Unicode treats as compatibility or case variants of one another
/// become one key: the KELVIN SIGN and `K`, fullwidth `ａ` and `a`, `ß` and `ss`, the ligature
/// `ﬁ` and `fi`. For ASCII text it is plain lower case.
///
/// ```
/// use portcullis_domain::identity::identity_key;
/// assert_eq!(identity_key("\u{212A}elvin@Example.com"), "kelvin@example.com");
/// assert_eq!(identity_key("ａｄａ"), "ada");
/// assert_eq!(identity_key("Straße"), identity_key("STRASSE"));
/// assert_eq!(identity_key("Ada_L"), "ada_l");
/// ```
pub fn identity_key(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    let fold = |s: &str| -> String {
        s.nfkc()
            .collect::<String>()
            .to_uppercase()
            .to_lowercase()
            .nfkc()
            .collect()
    };
    // A few letters need a second round (the capital sharp s lowers to `ß`, which folds to
    // `ss`); stop at the fixed point, so a key is always its own key.
    let mut key = fold(text);
    for _ in 0..3 {
        let again = fold(&key);
        if again == key {
            break;
        }
        key = again;
    }
    key
}

/// An email address: trimmed, at most 254 characters, syntactically valid, with a plain
/// (dot-atom) local part: quoted local parts and backslash escapes are refused, because they
/// give one mailbox many spellings (`"ada"@example.com` is `ada@example.com`). Uniqueness
/// ignores case and Unicode look-alikes: compare and look up by [`Email::normalized`], the
/// [`identity_key`] of the local part and the ASCII (IDNA) form of the domain, so
/// `ada@bücher.example` and `ada@xn--bcher-kva.example` are one address.
///
/// ```
/// use portcullis_domain::Email;
/// let e = Email::parse("  Ada@Example.COM ").unwrap();
/// assert_eq!(e.as_str(), "Ada@Example.COM");
/// assert_eq!(e.normalized(), "ada@example.com");
/// assert!(Email::parse("not-an-email").is_err());
/// assert!(Email::parse("\"ada\"@example.com").is_err());
/// assert_eq!(Email::parse("ada@BÜCHER.example").unwrap().normalized(), "ada@xn--bcher-kva.example");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email {
    display: String,
    normalized: String,
}

impl Email {
    /// Maximum length (RFC 5321 path limit).
    pub const MAX_LEN: usize = 254;

    /// Parses user input.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(FieldError::Required);
        }
        if trimmed.chars().count() > Self::MAX_LEN {
            return Err(FieldError::TooLong);
        }
        let options = email_address::Options::default()
            .without_display_text()
            .without_domain_literal();
        // One spelling per mailbox, and nothing storage or mail headers cannot carry.
        if trimmed.contains(['"', '\\']) || trimmed.chars().any(char::is_control) {
            return Err(FieldError::Invalid);
        }
        let parsed =
            email_address::EmailAddress::parse_with_options(trimmed, options).map_err(|_| FieldError::Invalid)?;
        // A bare host such as `user@localhost` is valid RFC 5322 but never a deliverable signup address.
        let domain = idna::domain_to_ascii(parsed.domain()).map_err(|_| FieldError::Invalid)?;
        if !domain.contains('.') || domain.ends_with('.') {
            return Err(FieldError::Invalid);
        }
        Ok(Self::from_stored(trimmed.to_owned()))
    }

    /// Rebuilds an address read back from storage (it was parsed when it was written).
    pub fn from_stored(display: String) -> Self {
        let normalized = match display.rsplit_once('@') {
            Some((local, domain)) => {
                let domain = idna::domain_to_ascii(domain).unwrap_or_else(|_| identity_key(domain));
                format!("{}@{domain}", identity_key(local))
            }
            None => identity_key(&display),
        };
        Self { display, normalized }
    }

    /// As the user typed it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The key for uniqueness and look-ups ([`identity_key`]).
    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Email").field(&self.display).finish()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

/// Length rules for passwords (NIST SP 800-63B: length, not composition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length in characters (default 8).
    pub min_chars: usize,
    /// Maximum length in characters (default 128). Longer input is refused before any hashing.
    pub max_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: 8,
            max_chars: 128,
        }
    }
}

impl PasswordPolicy {
    /// Parses a candidate password. Counts Unicode scalar values; never trims or truncates.
    ///
    /// ```
    /// use portcullis_domain::{FieldError, PasswordPolicy};
    /// let policy = PasswordPolicy::default();
    /// assert!(policy.parse("correct horse").is_ok());
    /// assert_eq!(policy.parse("short").unwrap_err(), FieldError::TooShort);
    /// assert_eq!(policy.parse(&"x".repeat(129)).unwrap_err(), FieldError::TooLong);
    /// ```
    pub fn parse(&self, input: &str) -> Result<Password, FieldError> {
        // Bound the work before counting characters: a 4-byte-per-char string of max_chars chars is
        // the longest acceptable input, anything larger is refused from its byte length alone.
        if input.len() > self.max_chars.saturating_mul(4) {
            return Err(FieldError::TooLong);
        }
        let chars = input.chars().count();
        if chars == 0 {
            return Err(FieldError::Required);
        }
        if chars > self.max_chars {
            return Err(FieldError::TooLong);
        }
        if chars < self.min_chars {
            return Err(FieldError::TooShort);
        }
        Ok(Password::new(input))
    }

    /// Parses a password that is only going to be *checked* (login, re-authentication): the
    /// minimum is not applied, since an older, shorter policy may have set it, but the maximum is,
    /// so an over-long input never reaches the hasher.
    pub fn parse_for_check(&self, input: &str) -> Result<Password, FieldError> {
        Self { min_chars: 1, ..*self }.parse(input)
    }
}

/// A password within policy. Its memory is wiped on drop and it never prints.
///
/// What is hashed is its Unicode NFKC form, so the same password typed on keyboards or input
/// methods that produce different code points for one character (a full-width digit, a
/// precomposed or a combining accent) is the same password.
pub struct Password {
    normalized: Zeroizing<String>,
    /// The input as typed, kept only when it differs from `normalized`.
    as_typed: Option<Zeroizing<String>>,
}

impl Password {
    fn new(input: &str) -> Self {
        use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};
        if is_nfkc_quick(input.chars()) == IsNormalized::Yes {
            return Self {
                normalized: Zeroizing::new(input.to_owned()),
                as_typed: None,
            };
        }
        let normalized = Zeroizing::new(input.nfkc().collect::<String>());
        let as_typed = (*normalized != input).then(|| Zeroizing::new(input.to_owned()));
        Self { normalized, as_typed }
    }

    /// The secret bytes (NFKC), for the hasher only.
    ///
    /// ```
    /// use portcullis_domain::PasswordPolicy;
    /// let full_width = PasswordPolicy::default().parse("ｐａｓｓｗｏｒｄ１２３").unwrap();
    /// assert_eq!(full_width.expose(), b"password123");
    /// assert!(full_width.as_typed().is_some());
    /// assert!(PasswordPolicy::default().parse("password123").unwrap().as_typed().is_none());
    /// ```
    pub fn expose(&self) -> &[u8] {
        self.normalized.as_bytes()
    }

    /// The password exactly as typed, as a password of its own, when that differs from its
    /// NFKC form. Only a hash made before passwords were normalised may be checked against it.
    pub fn as_typed(&self) -> Option<Self> {
        self.as_typed.as_ref().map(|raw| Self {
            normalized: raw.clone(),
            as_typed: None,
        })
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The pattern usernames must match; configurable.
#[derive(Debug, Clone)]
pub struct UsernamePolicy {
    pattern: Regex,
}

impl UsernamePolicy {
    /// The default: 3–32 characters of ASCII letters, digits, `_`, `.` and `-`, starting with a
    /// letter or digit.
    pub const DEFAULT_PATTERN: &'static str = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{2,31}$";

    /// Builds a policy from a regular expression. Patterns must be anchored (`^…$`) and may never
    /// admit `@`, which is how a login tells an email from a username; both are checked here.
    pub fn new(pattern: &str) -> Result<Self, String> {
        if !pattern.starts_with('^') || !pattern.ends_with('$') {
            return Err("the username pattern must be anchored with ^ and $".into());
        }
        let pattern = Regex::new(pattern).map_err(|e| e.to_string())?;
        if pattern.is_match("a@b") || pattern.is_match("ab@cd") || pattern.is_match("abc@example.com") {
            return Err("the username pattern must not accept '@'".into());
        }
        Ok(Self { pattern })
    }

    /// Parses a candidate username (trimmed).
    ///
    /// ```
    /// use portcullis_domain::UsernamePolicy;
    /// let policy = UsernamePolicy::default();
    /// assert_eq!(policy.parse(" Ada_L ").unwrap().normalized(), "ada_l");
    /// assert!(policy.parse("a").is_err());
    /// assert!(policy.parse("ada@example.com").is_err());
    /// ```
    pub fn parse(&self, input: &str) -> Result<Username, FieldError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(FieldError::Required);
        }
        if trimmed.len() > Username::MAX_BYTES {
            return Err(FieldError::TooLong);
        }
        if trimmed.contains('@') || trimmed.chars().any(char::is_control) || !self.pattern.is_match(trimmed) {
            return Err(FieldError::Invalid);
        }
        Ok(Username::from_stored(trimmed.to_owned()))
    }
}

impl Default for UsernamePolicy {
    fn default() -> Self {
        #[allow(clippy::expect_used)]
        Self::new(Self::DEFAULT_PATTERN).expect("the default username pattern is valid")
    }
}

/// A username; unique per tenant, ignoring case and Unicode look-alikes (compare
/// [`Username::normalized`], see [`identity_key`]).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Username {
    display: String,
    normalized: String,
}

impl Username {
    /// Hard cap whatever the pattern says, so storage and logs stay bounded.
    pub const MAX_BYTES: usize = 128;

    /// Rebuilds a username read back from storage.
    pub fn from_stored(display: String) -> Self {
        let normalized = identity_key(&display);
        Self { display, normalized }
    }

    /// As chosen.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The key for uniqueness and look-ups ([`identity_key`]).
    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Username").field(&self.display).finish()
    }
}

/// What a user typed into a login form: an email address or a username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginId {
    /// Contains `@`.
    Email(Email),
    /// Anything else.
    Username(Username),
}

impl LoginId {
    /// Classifies a login string. Usernames can never contain `@`, so the split is unambiguous.
    /// Strings that are neither a valid email nor a valid username are still accepted as a
    /// username to look up (it will not be found), so the answer cannot reveal the rules.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(FieldError::Required);
        }
        let max_chars = Email::MAX_LEN.max(Username::MAX_BYTES);
        if trimmed.len() > 4 * max_chars || trimmed.chars().count() > max_chars {
            return Err(FieldError::TooLong);
        }
        // No address or username can hold one, and storage cannot look one up.
        if trimmed.chars().any(char::is_control) {
            return Err(FieldError::Invalid);
        }
        if trimmed.contains('@') {
            Ok(Self::Email(Email::from_stored(trimmed.to_owned())))
        } else {
            Ok(Self::Username(Username::from_stored(trimmed.to_owned())))
        }
    }
}

impl FromStr for Email {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn email_rejects_garbage() {
        for bad in [
            "",
            "   ",
            "a",
            "a@",
            "@b.c",
            "a b@c.d",
            "a@b",
            "Ada <ada@example.com>",
            "a@[127.0.0.1]",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn email_rejects_over_long() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(FieldError::TooLong));
    }

    #[test]
    fn password_counts_characters_not_bytes() {
        let policy = PasswordPolicy::default();
        // 8 characters, 32 bytes.
        assert!(policy.parse("😀😀😀😀😀😀😀😀").is_ok());
        assert_eq!(policy.parse(&"😀".repeat(129)).unwrap_err(), FieldError::TooLong);
        // Spaces are kept, never trimmed.
        assert_eq!(policy.parse("  abcdef  ").unwrap().expose(), b"  abcdef  ");
    }

    #[test]
    fn password_check_parse_skips_minimum_but_not_maximum() {
        let policy = PasswordPolicy {
            min_chars: 15,
            max_chars: 128,
        };
        assert!(policy.parse_for_check("short").is_ok());
        assert_eq!(
            policy.parse_for_check(&"a".repeat(10_000)).unwrap_err(),
            FieldError::TooLong
        );
    }

    #[test]
    fn password_debug_is_redacted() {
        let p = PasswordPolicy::default().parse("hunter2hunter2").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn one_mailbox_has_one_spelling() {
        for spelled in [
            "\"ada\"@example.com",
            "\"\\ada\"@example.com",
            "a\\da@example.com",
            "ada\u{0}@example.com",
            "ada@example.com.",
        ] {
            assert_eq!(Email::parse(spelled), Err(FieldError::Invalid), "{spelled:?}");
        }
        assert_eq!(
            Email::parse("ada@bücher.example").unwrap().normalized(),
            Email::parse("ADA@xn--BCHER-kva.example").unwrap().normalized()
        );
        assert_eq!(LoginId::parse("a\u{0}b@x.com"), Err(FieldError::Invalid));
        assert_eq!(LoginId::parse("user\u{0}name"), Err(FieldError::Invalid));
    }

    #[test]
    fn look_alike_addresses_and_names_are_one_key() {
        let kelvin = Email::parse("\u{212A}elvin@example.com").unwrap();
        let plain = Email::parse("kelvin@EXAMPLE.com").unwrap();
        assert_eq!(kelvin.normalized(), plain.normalized());
        assert_eq!(kelvin.as_str(), "\u{212A}elvin@example.com", "shown as typed");
        assert_eq!(
            Username::from_stored("ＡＤＡ".into()).normalized(),
            Username::from_stored("ada".into()).normalized()
        );
        let key = |login: &str| match LoginId::parse(login).unwrap() {
            LoginId::Email(e) => e.normalized().to_owned(),
            LoginId::Username(u) => u.normalized().to_owned(),
        };
        assert_eq!(key("\u{212A}elvin@example.com"), key("KELVIN@example.com"));
        assert_eq!(key("\u{212A}elvin"), key("kelvin"));
    }

    #[test]
    fn username_policy_refuses_patterns_that_accept_at_or_are_unanchored() {
        assert!(UsernamePolicy::new(".*").is_err());
        assert!(UsernamePolicy::new("^.*$").is_err());
        assert!(UsernamePolicy::new("^[a-z]+$").is_ok());
    }

    #[test]
    fn login_id_splits_on_at() {
        assert!(
            matches!(LoginId::parse("Ada@Example.com"), Ok(LoginId::Email(e)) if e.normalized() == "ada@example.com")
        );
        assert!(matches!(LoginId::parse("ada"), Ok(LoginId::Username(_))));
        assert_eq!(LoginId::parse("  "), Err(FieldError::Required));
    }

    proptest! {
        #[test]
        fn email_normalisation_is_idempotent_and_case_insensitive(local in "[a-zA-Z0-9._%+-]{1,40}", domain in "[a-zA-Z0-9-]{1,20}\\.[a-zA-Z]{2,6}") {
            let input = format!("{local}@{domain}");
            if let Ok(e) = Email::parse(&input) {
                let upper = Email::parse(&input.to_uppercase()).unwrap();
                prop_assert_eq!(e.normalized(), upper.normalized());
                let again = Email::parse(e.as_str()).unwrap();
                prop_assert_eq!(again, e);
            }
        }

        #[test]
        fn email_parse_never_panics_and_result_is_trimmed(s in "\\PC{0,300}") {
            if let Ok(e) = Email::parse(&s) {
                prop_assert_eq!(e.as_str(), e.as_str().trim());
                prop_assert!(e.as_str().chars().count() <= Email::MAX_LEN);
            }
        }

        #[test]
        fn password_accepts_exactly_the_policy_range(len in 0usize..200, min in 1usize..20) {
            let policy = PasswordPolicy { min_chars: min, max_chars: 128 };
            let candidate = "é".repeat(len);
            let result = policy.parse(&candidate);
            if len == 0 {
                prop_assert_eq!(result.unwrap_err(), FieldError::Required);
            } else if len < min {
                prop_assert_eq!(result.unwrap_err(), FieldError::TooShort);
            } else if len > 128 {
                prop_assert_eq!(result.unwrap_err(), FieldError::TooLong);
            } else {
                prop_assert!(result.is_ok());
            }
        }

        #[test]
        fn username_parse_never_accepts_at_sign(s in "\\PC{0,60}") {
            if let Ok(u) = UsernamePolicy::default().parse(&s) {
                prop_assert!(!u.as_str().contains('@'));
                prop_assert_eq!(u.normalized(), u.as_str().to_lowercase());
            }
        }

        #[test]
        fn identity_keys_are_stable_and_ignore_case(s in "\\PC{0,40}") {
            let key = identity_key(&s);
            prop_assert_eq!(identity_key(&key), key.clone(), "a key is its own key");
            prop_assert_eq!(identity_key(&s.to_uppercase()), identity_key(&s.to_lowercase()));
        }
    }
}
