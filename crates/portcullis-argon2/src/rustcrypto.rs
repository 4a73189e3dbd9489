//! The RustCrypto `argon2` crate as a hashing engine: one memory block per thread, reused.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use portcullis_domain::Verification;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::{Argon2Settings, Engine, OUTPUT_LEN, SettingsError, StoredParams};

pub(crate) struct RustCrypto {
    params: Params,
    memory: Vec<Block>,
    max_verify_m_cost_kib: u32,
}

impl RustCrypto {
    pub(crate) fn new(settings: &Argon2Settings) -> Result<Self, SettingsError> {
        let params = Params::new(settings.m_cost_kib, settings.t_cost, settings.p_cost, Some(OUTPUT_LEN))
            .map_err(|e| SettingsError(e.to_string()))?;
        Ok(Self {
            memory: vec![Block::default(); params.block_count()],
            params,
            max_verify_m_cost_kib: settings.max_verify_m_cost_kib,
        })
    }
}

impl Engine for RustCrypto {
    fn hash(&mut self, password: &[u8], salt: &[u8]) -> Result<String, String> {
        let params = &self.params;
        let context = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let mut out = Zeroizing::new([0u8; OUTPUT_LEN]);
        context
            .hash_password_into_with_memory(password, salt, &mut out[..], &mut self.memory[..params.block_count()])
            .map_err(|e| format!("argon2: {e}"))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(params).map_err(|e| e.to_string())?,
            salt: Some(Salt::new(salt).map_err(|e| e.to_string())?),
            hash: Some(Output::new(&out[..]).map_err(|e| e.to_string())?),
        };
        Ok(phc.to_string())
    }

    fn verify(&mut self, password: &[u8], stored: &str, settings: &Argon2Settings) -> Result<Verification, String> {
        let parsed = PasswordHash::new(stored).map_err(|e| format!("stored hash is not a PHC string: {e}"))?;
        let algorithm =
            Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| format!("stored hash algorithm: {e}"))?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()
            .map_err(|e| format!("stored hash version: {e}"))?
            .unwrap_or(Version::V0x13);
        let params = Params::try_from(&parsed).map_err(|e| format!("stored hash parameters: {e}"))?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err("stored hash has no salt or output".into());
        };
        if params.m_cost() > self.max_verify_m_cost_kib {
            return Err(format!(
                "stored hash asks for {} KiB, over the verify cap",
                params.m_cost()
            ));
        }
        let mut out = Zeroizing::new(vec![0u8; expected.len()]);
        let context = Argon2::new(algorithm, version, params.clone());
        let needed = params.block_count();
        let result = if needed <= self.memory.len() {
            context.hash_password_into_with_memory(password, salt.as_ref(), &mut out, &mut self.memory[..needed])
        } else {
            // An older, costlier hash: a one-off allocation, bounded by the verify cap.
            context.hash_password_into_with_memory(password, salt.as_ref(), &mut out, vec![Block::default(); needed])
        };
        result.map_err(|e| format!("argon2: {e}"))?;
        let matches: bool = out.as_slice().ct_eq(expected.as_bytes()).into();
        let stored_params = StoredParams {
            argon2id: algorithm == Algorithm::Argon2id,
            version_13: version == Version::V0x13,
            m_cost_kib: params.m_cost(),
            t_cost: params.t_cost(),
            p_cost: params.p_cost(),
            output_len: expected.len(),
        };
        Ok(Verification {
            matches,
            needs_rehash: matches && !stored_params.current(settings),
        })
    }
}
