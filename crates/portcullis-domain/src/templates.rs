//! Mail templates: a subject, a plain-text part and an HTML part for each [`MailKind`].
//!
//! Links are built from front-end URLs in the configuration, with `{token}` replaced by the
//! link token, never from a request's `Host` header. Every value put into HTML is escaped.

use crate::model::MailKind;

/// Product name and front-end link templates (each must contain `{token}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailBranding {
    /// Shown in subjects and greetings.
    pub product: String,
    /// Where a verification link lands, e.g. `https://app.example.com/verify?token={token}`.
    pub verify_email_url: String,
    /// Where an email-change confirmation link lands.
    pub change_email_url: String,
    /// Where a password-reset link lands.
    pub reset_password_url: String,
    /// Where an IP-authorization link lands.
    pub authorize_ip_url: String,
}

impl MailBranding {
    /// Checks that every link template has exactly one `{token}` and is an http(s) URL, and
    /// that the product has a name.
    pub fn validate(&self) -> Result<(), String> {
        for (name, url) in [
            ("verify_email_url", &self.verify_email_url),
            ("change_email_url", &self.change_email_url),
            ("reset_password_url", &self.reset_password_url),
            ("authorize_ip_url", &self.authorize_ip_url),
        ] {
            validate_link_template(url).map_err(|e| format!("{name} {e}"))?;
        }
        if self.product.trim().is_empty() {
            return Err("the product name must not be empty".into());
        }
        Ok(())
    }

    fn link(&self, kind: MailKind, token: &str) -> Option<String> {
        let template = match kind {
            MailKind::SignupVerification => &self.verify_email_url,
            MailKind::EmailChangeVerification => &self.change_email_url,
            MailKind::PasswordReset => &self.reset_password_url,
            MailKind::IpAuthorization => &self.authorize_ip_url,
            _ => return None,
        };
        // The token is base64url, but encode anyway: a template may put it in a query string.
        Some(template.replace("{token}", &percent_encode(token)))
    }
}

/// Checks a front-end link template: an http(s) URL with `{token}` exactly once and no
/// white space or control characters.
///
/// ```
/// use portcullis_domain::templates::validate_link_template;
/// assert!(validate_link_template("https://app.example.com/verify?token={token}").is_ok());
/// assert!(validate_link_template("https://app.example.com/verify").is_err());
/// assert!(validate_link_template("javascript:alert({token})").is_err());
/// ```
pub fn validate_link_template(url: &str) -> Result<(), String> {
    if url.matches("{token}").count() != 1 {
        return Err("must contain {token} exactly once".into());
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err("must be an http(s) URL".into());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    Ok(())
}

/// What varies between two mails of one kind.
#[derive(Debug, Clone, Default)]
pub struct MailVars<'a> {
    /// Link token, for kinds that carry a link.
    pub token: Option<&'a str>,
    /// Six-digit code, for kinds that carry one.
    pub code: Option<&'a str>,
    /// The other address involved (the new one, in the email-changed notice).
    pub other_email: Option<&'a str>,
    /// The client IP involved (IP authorization).
    pub ip: Option<&'a str>,
}

/// A rendered mail.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part.
    pub html: String,
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendered")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Renders one mail.
///
/// ```
/// use portcullis_domain::MailKind;
/// use portcullis_domain::templates::{MailBranding, MailVars, render};
/// let branding = MailBranding {
///     product: "Acme".into(),
///     verify_email_url: "https://app.example.com/verify?token={token}".into(),
///     change_email_url: "https://app.example.com/email?token={token}".into(),
///     reset_password_url: "https://app.example.com/reset?token={token}".into(),
///     authorize_ip_url: "https://app.example.com/ip?token={token}".into(),
/// };
/// let vars = MailVars { token: Some("pcl_abc"), code: Some("123456"), ..MailVars::default() };
/// let mail = render(MailKind::PasswordReset, &branding, &vars);
/// assert!(mail.text.contains("https://app.example.com/reset?token=pcl_abc"));
/// assert!(mail.html.contains("123456"));
/// ```
pub fn render(kind: MailKind, branding: &MailBranding, vars: &MailVars<'_>) -> Rendered {
    let product = branding.product.as_str();
    let link = vars.token.and_then(|t| branding.link(kind, t));
    let (subject, intro, outro) = match kind {
        MailKind::SignupVerification => (
            format!("Verify your email for {product}"),
            format!("Welcome to {product}. Confirm that this address is yours to finish signing up."),
            "If you did not sign up, ignore this mail; no account will be activated.".to_owned(),
        ),
        MailKind::SignupCode => (
            format!("Your {product} signup code"),
            format!("Welcome to {product}. Enter the code below where you signed up to confirm this address."),
            "If you did not sign up, ignore this mail; nothing is kept unless the code is entered.".to_owned(),
        ),
        MailKind::LoginCode => (
            format!("Your {product} sign-in code"),
            format!("Someone asked to sign in to your {product} account with a code sent by mail."),
            "If it was not you, ignore this mail: nobody can sign in without this code.".to_owned(),
        ),
        MailKind::ExistingAccountNotice => (
            format!("Sign-up attempt with your {product} address"),
            format!("Someone tried to create a {product} account with this address, which already has one."),
            "If it was you, log in instead, or reset your password if you forgot it. If not, you can ignore this mail."
                .to_owned(),
        ),
        MailKind::EmailChangeVerification => (
            format!("Confirm your new email for {product}"),
            format!("Confirm that this address should become the email of your {product} account."),
            "If you did not ask for this change, ignore this mail; nothing changes until it is confirmed.".to_owned(),
        ),
        MailKind::EmailChangeRequestedNotice => (
            format!("A change of your {product} email was requested"),
            match vars.other_email {
                Some(new) => format!("Someone asked to change the email of your {product} account to {new}."),
                None => format!("Someone asked to change the email of your {product} account."),
            },
            "Nothing changes until the new address is confirmed. If this was not you, change your password now: \
             that cancels the request and signs out every other session."
                .to_owned(),
        ),
        MailKind::EmailChangedNotice => (
            format!("Your {product} email was changed"),
            match vars.other_email {
                Some(new) => format!("The email of your {product} account was changed to {new}."),
                None => format!("The email of your {product} account was changed."),
            },
            "If you did not do this, reset your password and contact support at once.".to_owned(),
        ),
        MailKind::PasswordReset => (
            format!("Reset your {product} password"),
            format!("Someone asked to reset the password of your {product} account."),
            "If it was not you, ignore this mail; your password stays as it is.".to_owned(),
        ),
        MailKind::PasswordChangedNotice => (
            format!("Your {product} password was changed"),
            format!("The password of your {product} account was changed, and other sessions were signed out."),
            "If you did not do this, reset your password at once.".to_owned(),
        ),
        MailKind::NewSignInNotice => (
            format!("New sign-in to your {product} account"),
            match vars.ip {
                Some(ip) => format!("Your {product} account was just signed in to from a new address, {ip}."),
                None => format!("Your {product} account was just signed in to from a new address."),
            },
            "If this was you, nothing needs doing. If not, change your password now: that signs out every other session."
                .to_owned(),
        ),
        MailKind::TotpReplayNotice => (
            format!("A used sign-in code was tried on your {product} account"),
            format!(
                "Someone signed in to your {product} account with your password and then sent an authenticator code that had already been used. We refused it."
            ),
            "If you did not just sign in twice, someone may know your password and have seen a code: change your password now."
                .to_owned(),
        ),
        MailKind::TotpLockedNotice => (
            format!("Sign-in codes for your {product} account keep being locked"),
            format!(
                "Someone signed in to your {product} account with your password and then entered wrong authenticator codes, again and again, so the codes were locked more than once."
            ),
            "If this was not you, someone knows your password: change it now.".to_owned(),
        ),
        MailKind::IpAuthorization => (
            format!("Authorize a new sign-in to {product}"),
            match vars.ip {
                Some(ip) => format!("A sign-in to your {product} account came from a new address, {ip}."),
                None => format!("A sign-in to your {product} account came from a new address."),
            },
            "If this was not you, do not authorize it, and change your password.".to_owned(),
        ),
    };

    let mut text = format!("{intro}\n\n");
    let mut html = format!("<p>{}</p>\n", escape(&intro));
    if let Some(link) = &link {
        text.push_str(&format!("Open this link:\n{link}\n\n"));
        html.push_str(&format!("<p><a href=\"{0}\">{0}</a></p>\n", escape(link)));
    }
    if let Some(code) = vars.code {
        let lead = if link.is_some() {
            "Or enter this code"
        } else {
            "Enter this code"
        };
        text.push_str(&format!("{lead}: {code}\n\n"));
        html.push_str(&format!("<p>{lead}: <strong>{}</strong></p>\n", escape(code)));
    }
    text.push_str(&format!("{outro}\n\n— {product}\n"));
    html.push_str(&format!("<p>{}</p>\n<p>— {}</p>\n", escape(&outro), escape(product)));
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head><body>\n{html}</body></html>\n",
        escape(&subject)
    );
    Rendered { subject, text, html }
}

/// HTML-escapes text for element content and double-quoted attributes.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branding() -> MailBranding {
        MailBranding {
            product: "Acme <Beta> & Co".into(),
            verify_email_url: "https://app.example.com/verify?token={token}".into(),
            change_email_url: "https://app.example.com/email/{token}".into(),
            reset_password_url: "https://app.example.com/reset?t={token}&x=1".into(),
            authorize_ip_url: "https://app.example.com/ip?token={token}".into(),
        }
    }

    #[test]
    fn every_kind_renders_both_parts_with_link_and_code_where_they_belong() {
        let vars = MailVars {
            token: Some("pcl_tok"),
            code: Some("042042"),
            other_email: None,
            ip: Some("203.0.113.9"),
        };
        for kind in MailKind::ALL {
            let m = render(kind, &branding(), &vars);
            assert!(
                !m.subject.is_empty() && m.text.contains("Acme") && m.html.contains("<html>"),
                "{kind:?}"
            );
            let carries_link = matches!(
                kind,
                MailKind::SignupVerification
                    | MailKind::EmailChangeVerification
                    | MailKind::PasswordReset
                    | MailKind::IpAuthorization
            );
            assert_eq!(m.text.contains("pcl_tok"), carries_link, "{kind:?}");
            assert_eq!(m.html.contains("pcl_tok"), carries_link, "{kind:?}");
        }
        let ip = render(MailKind::IpAuthorization, &branding(), &vars);
        assert!(ip.text.contains("203.0.113.9"));
        let reset = render(MailKind::PasswordReset, &branding(), &vars);
        assert!(reset.text.contains("https://app.example.com/reset?t=pcl_tok&x=1"));
        assert!(
            reset
                .html
                .contains("href=\"https://app.example.com/reset?t=pcl_tok&amp;x=1\"")
        );
        assert!(reset.text.contains("042042") && reset.html.contains("<strong>042042</strong>"));
    }

    #[test]
    fn values_are_escaped_in_html_and_tokens_encoded_in_links() {
        let vars = MailVars {
            other_email: Some("x\"><script>@example.com"),
            ..MailVars::default()
        };
        let m = render(MailKind::EmailChangedNotice, &branding(), &vars);
        assert!(!m.html.contains("<script>") && !m.html.contains("<Beta>"));
        assert!(m.html.contains("&lt;Beta&gt; &amp; Co"));
        let odd = MailVars {
            token: Some("a b/?&"),
            ..MailVars::default()
        };
        let m = render(MailKind::SignupVerification, &branding(), &odd);
        assert!(m.text.contains("token=a%20b%2F%3F%26"), "{}", m.text);
    }

    #[test]
    fn link_templates_must_hold_one_token_and_be_http() {
        assert!(branding().validate().is_ok());
        let mut b = branding();
        b.reset_password_url = "https://app.example.com/reset".into();
        assert!(b.validate().is_err());
        let mut b = branding();
        b.verify_email_url = "javascript:alert({token})".into();
        assert!(b.validate().is_err());
    }
}
