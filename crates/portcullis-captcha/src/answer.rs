//! A provider's answer, and what it says about the token.

use portcullis_domain::captcha::CaptchaError;
use serde::Deserialize;

use crate::settings::Endpoint;

/// The fields of a siteverify answer that the decision or the log line uses. Unknown fields
/// (`challenge_ts`, `credit`, `cdata`, `metadata`, …) are ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct Answer {
    pub(crate) success: bool,
    #[serde(default, rename = "error-codes")]
    pub(crate) error_codes: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) score: Option<f64>,
    #[serde(default)]
    pub(crate) action: Option<String>,
    #[serde(default)]
    pub(crate) hostname: Option<String>,
}

/// A provider-supplied string, shortened and with control characters dropped, for errors and logs.
pub(crate) fn tidy(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(MAX_FIELD_CHARS).collect()
}

impl Answer {
    pub(crate) fn error_codes(&self) -> String {
        let codes: Vec<String> = self
            .error_codes
            .iter()
            .flatten()
            .take(MAX_ERROR_CODES)
            .map(|c| tidy(c))
            .collect();
        if codes.is_empty() {
            "no error code given".to_owned()
        } else {
            codes.join(", ")
        }
    }

    /// The verdict on an answer that was read and parsed.
    pub(crate) fn judge(&self, ep: &Endpoint) -> Result<(), CaptchaError> {
        let name = ep.provider.name();
        if !self.success {
            let ours = self
                .error_codes
                .iter()
                .flatten()
                .any(|code| OUR_SIDE_ERROR_CODES.contains(&code.as_str()));
            if ours {
                return Err(CaptchaError::Unavailable(format!(
                    "{name} refused our request (check the secret): {}",
                    self.error_codes()
                )));
            }
            return Err(CaptchaError::Invalid(format!(
                "{name} refused the token: {}",
                self.error_codes()
            )));
        }
        if let Some(min) = ep.min_score {
            match self.score {
                // A NaN score compares false with everything: refuse it explicitly.
                Some(score) if score.is_nan() || score < min => {
                    return Err(CaptchaError::Invalid(format!(
                        "{name} score {score} is below the minimum {min}"
                    )));
                }
                Some(_) => {}
                None => {
                    return Err(CaptchaError::Invalid(format!(
                        "{name} answered without a score, but a minimum score is configured"
                    )));
                }
            }
        }
        if let Some(expected) = &ep.expected_action {
            match self.action.as_deref() {
                Some(action) if action == expected => {}
                Some(action) => {
                    return Err(CaptchaError::Invalid(format!(
                        "{name} token was for action {:?}, not {expected:?}",
                        tidy(action)
                    )));
                }
                None => {
                    return Err(CaptchaError::Invalid(format!(
                        "{name} answered without an action, but {expected:?} is expected"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Error codes and actions come from the network and end up in errors and logs: keep them short.
pub(crate) const MAX_ERROR_CODES: usize = 8;
pub(crate) const MAX_FIELD_CHARS: usize = 64;
/// Error codes that blame our side of the exchange (the secret, the provider itself), never
/// the token: the request is still refused, as unavailable, so the operator is told and the
/// user is not blamed for a wrong secret.
pub(crate) const OUR_SIDE_ERROR_CODES: [&str; 3] = ["missing-input-secret", "invalid-input-secret", "internal-error"];
