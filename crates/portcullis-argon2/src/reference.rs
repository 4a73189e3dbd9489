//! `argon2-rust` as a hashing engine: a port of the reference C implementation with SIMD
//! compression picked at run time (AVX2/AVX-512 on x86-64, NEON on ARM), bit-exact with the C
//! and with the RustCrypto crate. One arena per thread, reused between hashes.

use argon2_rust::params::{Memory, TagLen};
use argon2_rust::{Algorithm, Argon2, Error, Hasher, Params, Version};
use portcullis_domain::Verification;

use crate::{Argon2Settings, Engine, OUTPUT_LEN, SettingsError, StoredParams};

/// Most passes a stored hash may ask for when verified (the configuration allows up to 64).
const MAX_VERIFY_PASSES: u32 = 64;
/// Most lanes a stored hash may ask for (the configuration allows up to 16).
const MAX_VERIFY_LANES: u32 = 16;

pub(crate) struct Reference {
    hasher: Hasher,
    /// What a stored hash may ask for at most: checked while it is still text, before any
    /// memory is taken, and verified on this thread alone (`threads = 1`).
    ceiling: Params,
}

impl Reference {
    pub(crate) fn new(settings: &Argon2Settings) -> Result<Self, SettingsError> {
        let refuse = |e: Error| SettingsError(e.to_string());
        let params = Params::builder()
            .memory(Memory::kib(u64::from(settings.m_cost_kib)))
            .passes(settings.t_cost)
            .lanes(settings.p_cost)
            .threads(1)
            .tag_len(TagLen::bytes(OUTPUT_LEN as u64))
            .build()
            .map_err(refuse)?;
        let ceiling = Params::builder()
            .memory(Memory::kib(u64::from(settings.max_verify_m_cost_kib)))
            .passes(MAX_VERIFY_PASSES.max(settings.t_cost))
            .lanes(MAX_VERIFY_LANES.max(settings.p_cost))
            .threads(1)
            .build()
            .map_err(refuse)?;
        let mut hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params).hasher();
        // Take the arena now: the memory a thread holds is known from the start.
        hasher.reserve().map_err(refuse)?;
        Ok(Self { hasher, ceiling })
    }
}

impl Engine for Reference {
    fn hash(&mut self, password: &[u8], salt: &[u8]) -> Result<String, String> {
        self.hasher
            .hash_encoded(password, salt)
            .map_err(|e| format!("argon2: {e}"))
    }

    fn verify(&mut self, password: &[u8], stored: &str, settings: &Argon2Settings) -> Result<Verification, String> {
        let decoded = argon2_rust::decode_phc(stored).map_err(|e| format!("stored hash is not a PHC string: {e}"))?;
        if decoded.params.memory_kib() > settings.max_verify_m_cost_kib {
            return Err(format!(
                "stored hash asks for {} KiB, over the verify cap",
                decoded.params.memory_kib()
            ));
        }
        if !decoded.ad.is_empty() {
            return Err("stored hash carries associated data, which no hash of ours has".into());
        }
        let matches = match self
            .hasher
            .verify_encoded_bounded(stored, password, decoded.algorithm, &self.ceiling)
        {
            Ok(()) => true,
            Err(Error::VerifyMismatch) => false,
            Err(e) => return Err(format!("argon2: {e}")),
        };
        let stored_params = StoredParams {
            argon2id: decoded.algorithm == Algorithm::Argon2id,
            version_13: decoded.version == Version::V0x13,
            m_cost_kib: decoded.params.memory_kib(),
            t_cost: decoded.params.passes(),
            p_cost: decoded.params.lanes(),
            output_len: decoded.hash.len(),
        };
        Ok(Verification {
            matches,
            needs_rehash: matches && !stored_params.current(settings),
        })
    }
}
