//! A mail transport that keeps what it is handed.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use portcullis_domain::{MailTransport, OutgoingMail, SendError};

/// Records every mail it is asked to send; can be told to fail the next sends.
#[derive(Debug, Clone, Default)]
pub struct MemoryTransport {
    sent: Arc<Mutex<Vec<OutgoingMail>>>,
    failures: Arc<Mutex<Vec<SendError>>>,
}

impl MemoryTransport {
    /// The mails sent so far, in order.
    pub fn sent(&self) -> Vec<OutgoingMail> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The next sends fail with these errors, one each, before sends succeed again.
    pub fn fail_next(&self, errors: Vec<SendError>) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.extend(errors);
        }
    }
}

#[async_trait]
impl MailTransport for MemoryTransport {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), SendError> {
        let failure = self
            .failures
            .lock()
            .ok()
            .and_then(|mut f| (!f.is_empty()).then(|| f.remove(0)));
        if let Some(error) = failure {
            return Err(error);
        }
        if let Ok(mut sent) = self.sent.lock() {
            sent.push(mail.clone());
        }
        Ok(())
    }
}
