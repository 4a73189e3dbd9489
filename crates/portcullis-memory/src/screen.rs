//! A password screen over a given list.

use std::collections::HashSet;

use async_trait::async_trait;
use portcullis_domain::{Password, PasswordScreen};

/// Refuses the passwords it is given (compared in NFKC form, case aside), and nothing else.
#[derive(Debug, Clone, Default)]
pub struct ListedPasswords {
    refused: HashSet<String>,
}

impl ListedPasswords {
    /// A screen that refuses `passwords`.
    pub fn new<'a>(passwords: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            refused: passwords.into_iter().map(str::to_lowercase).collect(),
        }
    }
}

#[async_trait]
impl PasswordScreen for ListedPasswords {
    async fn is_common(&self, password: &Password) -> bool {
        let text = String::from_utf8_lossy(password.expose()).to_lowercase();
        self.refused.contains(&text)
    }
}
