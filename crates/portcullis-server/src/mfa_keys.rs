//! The MFA encryption keys across a rotation: the start-up check against the database's
//! records, the background job that seals old TOTP secrets again, and what `portcullis
//! mfa-keys status | reseal` runs.
//!
//! Records (`server_secrets`, one-way fingerprints, never keys): the key that seals
//! (`fingerprint:mfa_encryption_key`), the next key a node has published
//! (`…_published`), and the keys a rotation retired while secrets may still be sealed with
//! them (`…_retiring`). The sealing record moves only to a published key, so a node that
//! skipped the publishing step cannot make the others unable to open what it seals; a retired
//! key stays recorded until an operator's `mfa-keys reseal` finds nothing left under it, and
//! until then a node without it is refused.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use portcullis_domain::use_cases::mfa_keys::reseal_totp_secrets;
use portcullis_domain::{MfaKeyring, ResealReport, SecretStore, SecureRandom, Storage, key_fingerprint};

/// The generated key of a database that has no configured one (development profile).
pub(crate) const MFA_KEY_SECRET: &str = "mfa_encryption_key_v1";
const SEALING: &str = "fingerprint:mfa_encryption_key";
const PUBLISHED: &str = "fingerprint:mfa_encryption_key_published";
const RETIRING: &str = "fingerprint:mfa_encryption_key_retiring";

/// `portcullis mfa-keys …`.
#[derive(Debug, clap::Subcommand)]
pub enum MfaKeysCommand {
    /// Count TOTP secrets by the key that sealed them; change nothing. Exit status 1 while some
    /// are still under a previous key.
    Status,
    /// Seal every secret under a previous key again under `mfa.encryption_key` now, and when
    /// none is left, record that the previous keys may go. Run it once every node seals with
    /// the new key (the serving nodes also re-seal in the background).
    Reseal,
}

pub(crate) fn fingerprint(key: &[u8; 32]) -> String {
    key_fingerprint("mfa.encryption_key", key)
}

fn fingerprints(keys: &MfaKeyring) -> (String, Option<String>, Vec<String>) {
    (
        fingerprint(&keys.key),
        keys.next_key.as_deref().map(fingerprint),
        keys.previous_keys.iter().map(|k| fingerprint(k)).collect(),
    )
}

/// The fingerprints of retired keys that may still seal TOTP secrets.
async fn retiring(store: &dyn SecretStore) -> anyhow::Result<Vec<String>> {
    Ok(parse_retiring(&store.secret(RETIRING).await?.unwrap_or_default()))
}

fn parse_retiring(stored: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stored)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Changes the list of retiring keys with `change`, from the list as stored: a node starting
/// and an operator's reseal may both change it at once, and neither change may be lost (a
/// retired key dropped from the list would let a node start without it). Read, change, and
/// write only if nothing changed since; otherwise read again.
async fn update_retiring(store: &dyn SecretStore, change: impl Fn(&mut Vec<String>)) -> anyhow::Result<Vec<String>> {
    for _ in 0..64 {
        let stored = store.secret(RETIRING).await?;
        let mut list = parse_retiring(stored.as_deref().unwrap_or_default());
        let before = list.clone();
        change(&mut list);
        if list == before {
            return Ok(list);
        }
        if store
            .replace_secret(RETIRING, stored.as_deref(), list.join("\n").as_bytes())
            .await?
        {
            return Ok(list);
        }
    }
    bail!("the list of retiring MFA keys kept changing under this node; try again")
}

fn wrong_key(current: &str, stored: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "mfa.encryption_key: this key (fingerprint {current}) is not the one this database was used with (fingerprint \
         {stored}), nor listed as mfa.next_encryption_key or mfa.previous_encryption_key_files. Restore the key; if the \
         database was used with a generated one, configure that key: SELECT encode(secret, 'base64') FROM \
         server_secrets WHERE name = '{MFA_KEY_SECRET}' (docs/OPERATIONS.md, \"Keys\"). Starting with another would \
         leave every TOTP secret unreadable (500 on every second-factor login)"
    )
}

/// The start-up check of a serving node's keys. Passes when the sealing record is this node's
/// key, its next key (a step behind in a rotation) or one of its previous keys; in the last
/// case the record moves to this key if a node published it as `mfa.next_encryption_key`
/// first, and the old key is recorded as retiring. A retiring key this node does not hold
/// refuses the start. Everything is checked before anything is written.
pub(crate) async fn check_at_start(
    store: &dyn SecretStore,
    keys: &MfaKeyring,
    legacy: Option<String>,
) -> anyhow::Result<()> {
    let (current, next, previous) = fingerprints(keys);
    // The first start records its key (or, for a database from before fingerprints, the
    // generated key it kept).
    let first = legacy.unwrap_or_else(|| current.clone());
    let stored = String::from_utf8(store.get_or_create_secret(SEALING, first.as_bytes()).await?)
        .map_err(|_| anyhow::anyhow!("the stored {SEALING} is not text"))?;
    let rotating = previous.contains(&stored);
    if !rotating && stored != current && next.as_deref() != Some(stored.as_str()) {
        return Err(wrong_key(&current, &stored));
    }
    let published = store.secret(PUBLISHED).await?.as_deref() == Some(current.as_bytes());
    let moves = rotating && published;
    let mut retired = retiring(store).await?;
    if moves && !retired.contains(&stored) {
        retired.push(stored.clone());
    }
    let known = |fp: &String| *fp == current || next.as_ref() == Some(fp) || previous.contains(fp);
    if let Some(missing) = retired.iter().find(|fp| !known(fp)) {
        bail!(
            "mfa.previous_encryption_key_files: TOTP secrets may still be sealed with a key a rotation retired \
             (fingerprint {missing}); without it their owners could not log in. Keep that key listed until \
             `portcullis mfa-keys reseal` reports none left (docs/OPERATIONS.md, \"Rotating the MFA key\")"
        );
    }
    if let Some(next) = &next {
        store.put_secret(PUBLISHED, next.as_bytes()).await?;
    }
    if moves {
        update_retiring(store, |list| {
            if !list.contains(&stored) {
                list.push(stored.clone());
            }
        })
        .await?;
        store.put_secret(SEALING, current.as_bytes()).await?;
        tracing::info!(
            fingerprint = %current,
            previous = %stored,
            "MFA encryption key rotated: this key now seals; TOTP secrets under the previous key are sealed again \
             in the background"
        );
    } else if rotating {
        tracing::warn!(
            fingerprint = %current,
            seals_elsewhere = %stored,
            "this node seals TOTP secrets with a key never published as mfa.next_encryption_key: nodes without it \
             cannot open what it seals (500 at their TOTP logins); publish it on every node first. Nothing is \
             sealed again until then"
        );
    }
    Ok(())
}

/// Whether the database records `keys`' current key as the one that seals (a rotation to it
/// has been recorded): only then are secrets sealed again under it.
async fn sealing_with(store: &dyn SecretStore, keys: &MfaKeyring) -> anyhow::Result<bool> {
    Ok(store.secret(SEALING).await?.as_deref() == Some(fingerprint(&keys.key).as_bytes()))
}

/// The keys for `mfa-keys`, checked against the records without writing anything: the
/// configured ones, or the generated key the database keeps.
pub(crate) async fn checked_for_operator(
    store: &dyn SecretStore,
    configured: Option<zeroize::Zeroizing<[u8; 32]>>,
    next_key: Option<zeroize::Zeroizing<[u8; 32]>>,
    previous_keys: Vec<zeroize::Zeroizing<[u8; 32]>>,
) -> anyhow::Result<MfaKeyring> {
    let key = match configured {
        Some(key) => key,
        None => {
            let kept = store.secret(MFA_KEY_SECRET).await?.ok_or_else(|| {
                anyhow::anyhow!("mfa.encryption_key is not configured and this database keeps no generated key")
            })?;
            let key: [u8; 32] = kept
                .as_slice()
                .try_into()
                .map_err(|_| anyhow::anyhow!("the stored {MFA_KEY_SECRET} is not 32 bytes"))?;
            zeroize::Zeroizing::new(key)
        }
    };
    let keys = MfaKeyring {
        key,
        next_key,
        previous_keys,
    };
    let (current, next, previous) = fingerprints(&keys);
    if let Some(stored) = store.secret(SEALING).await? {
        let stored = String::from_utf8_lossy(&stored).into_owned();
        if stored != current && next.as_deref() != Some(stored.as_str()) && !previous.contains(&stored) {
            return Err(wrong_key(&current, &stored));
        }
    }
    Ok(keys)
}

/// Runs `command` with `keys`; `Ok(false)` when secrets are left under a previous key.
/// `status` writes nothing. `reseal` runs only once a serving node has recorded that `keys`'
/// current key seals, and when it leaves nothing under the previous keys it forgets them as
/// retiring, so nodes may start without them.
pub async fn execute(
    store: &dyn Storage,
    keys: &MfaKeyring,
    rng: &dyn SecureRandom,
    command: &MfaKeysCommand,
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    let count_only = matches!(command, MfaKeysCommand::Status);
    if !count_only && !sealing_with(store, keys).await? {
        bail!(
            "the database does not record mfa.encryption_key as the key that seals yet: start the nodes with it \
             (published first as mfa.next_encryption_key on every node), then run this again"
        );
    }
    let r = reseal_totp_secrets(store, keys, rng, count_only).await?;
    writeln!(
        out,
        "current key: {}\nnext key: {}\n{}previous keys: {}\nunreadable (no configured key opens them): {}",
        r.current,
        r.next,
        if count_only {
            String::new()
        } else {
            format!("sealed again now: {}\n", r.resealed)
        },
        r.previous,
        r.unreadable
    )?;
    if r.done() {
        if !count_only {
            forget_retired(store, keys).await?;
        }
        writeln!(
            out,
            "none left under a previous key{}",
            if count_only {
                ""
            } else {
                ": mfa.previous_encryption_key_files may be emptied"
            }
        )?;
    }
    Ok(r.done())
}

/// After a pass that left nothing under `keys`' previous keys: they are no longer retiring
/// (retired keys this pass did not hold stay recorded).
async fn forget_retired(store: &dyn SecretStore, keys: &MfaKeyring) -> anyhow::Result<()> {
    let (_, _, covered) = fingerprints(keys);
    let before = retiring(store).await?.len();
    let left = update_retiring(store, |list| list.retain(|fp| !covered.contains(fp))).await?;
    if left.len() < before {
        tracing::info!(
            "no TOTP secret is left under the previous MFA keys: they may be removed from the configuration"
        );
    }
    Ok(())
}

/// Re-seals in the background while this node lists previous keys: a pass right away, then
/// every `interval`, for as long as the process runs, each only while the database records
/// this node's key as the one that seals (a late secret sealed by a node not yet restarted
/// with the new key is caught by the next pass). A failed pass is logged and retried at the
/// next interval. The background passes never forget a retired key: that is the operator's
/// `mfa-keys reseal`, once every node seals with the new key.
pub fn spawn(store: Arc<dyn Storage>, keys: MfaKeyring, rng: Arc<dyn SecureRandom>, interval: Duration) {
    if keys.previous_keys.is_empty() {
        return;
    }
    tokio::spawn(async move {
        loop {
            match background_pass(&*store, &keys, &*rng).await {
                Ok(Some(report)) if !report.done() => tracing::info!(
                    left = report.previous,
                    "TOTP secrets still under a previous MFA key; the next pass retries them"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(
                    error = format!("{e:#}"),
                    "re-sealing TOTP secrets failed; retrying later"
                ),
            }
            tokio::time::sleep(interval).await;
        }
    });
}

async fn background_pass(
    store: &dyn Storage,
    keys: &MfaKeyring,
    rng: &dyn SecureRandom,
) -> anyhow::Result<Option<ResealReport>> {
    if !sealing_with(store, keys).await? {
        return Ok(None);
    }
    Ok(Some(reseal_totp_secrets(store, keys, rng, false).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nodes adding retired keys and an operator's reseal forgetting one, all at once on one
    /// database: every change is kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_changes_of_the_retiring_list_are_all_kept() {
        let (_db, store) = portcullis_postgres::scratch::store_from_env().await;
        let store: Arc<dyn SecretStore> = Arc::new(store);
        store.put_secret(RETIRING, b"old").await.unwrap();
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    if i == 0 {
                        update_retiring(store.as_ref(), |list| list.retain(|fp| fp != "old")).await
                    } else {
                        let fp = format!("k{i}");
                        update_retiring(store.as_ref(), move |list| {
                            if !list.contains(&fp) {
                                list.push(fp.clone());
                            }
                        })
                        .await
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let mut list = retiring(store.as_ref()).await.unwrap();
        list.sort();
        assert_eq!(list, ["k1", "k2", "k3", "k4", "k5"]);
    }
}
