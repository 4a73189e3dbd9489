//! The randomness port: every secret the domain mints comes from here.

use rand::TryRngCore;
use rand::rngs::OsRng;

/// A cryptographically secure source of random bytes.
///
/// ```
/// use portcullis_domain::{OsRandom, SecureRandom};
/// let mut a = [0u8; 32];
/// OsRandom.fill(&mut a);
/// assert_ne!(a, [0u8; 32]);
/// ```
pub trait SecureRandom: Send + Sync + std::fmt::Debug {
    /// Fills `buf` with random bytes. Implementations must never return predictable output; if the
    /// operating system cannot supply entropy they must abort rather than continue.
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's CSPRNG (`getrandom`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl SecureRandom for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        // Running without entropy would mint guessable tokens; stopping is the only safe answer.
        #[allow(clippy::expect_used)]
        OsRng
            .try_fill_bytes(buf)
            .expect("the operating system's random source failed");
    }
}

/// Random bytes of a fixed length.
pub fn random_array<const N: usize>(rng: &dyn SecureRandom) -> [u8; N] {
    let mut out = [0u8; N];
    rng.fill(&mut out);
    out
}
