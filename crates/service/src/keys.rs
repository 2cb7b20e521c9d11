//! Key epochs for operators: rotation re-wraps every live data key under the current epoch's
//! key, retirement destroys epoch keys older than the backup window, status says where things
//! stand. See `docs/erasure.md` for what this guarantees.

use crate::{Hiatus, ServiceError, ServiceResult};
use hiatus_domain::Micros;
use hiatus_store::crypto::{LookupKey, wrapped_epoch};
use hiatus_store::epochs::{day_of, epoch_start};
use hiatus_store::key_epochs::{self, EpochCount, Rewrapped};
use hiatus_store::{Keyring, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Keys re-wrapped per write transaction. Each commit rewrites the pages of the email lookup
/// index the batch touched, and lookups are random, so every batch touches most of the index:
/// fewer, larger batches write far less (on SQLite 100,000 keys take about 4 s of writing in
/// batches of 1,000, 2.3 s in batches of 5,000, 1.5 s in batches of 20,000). Logins and other
/// writers wait for at most one batch's write (on SQLite about 0.1 s at this size).
const BATCH: i64 = 5_000;

/// What one rotation did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Rotation {
    /// The epoch keys are now wrapped under.
    pub epoch: u64,
    pub rewrapped: u64,
    /// Keys that could not be opened (wrapped under a retired epoch, or damaged): left as they
    /// are, and counted so an operator sees them.
    pub unreadable: u64,
}

/// What one retirement did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Retirement {
    /// The oldest epoch whose key still exists afterwards.
    pub oldest_epoch: u64,
    /// Epoch keys destroyed by this call.
    pub retired: u64,
}

/// Where the key epochs stand.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyStatus {
    pub current_epoch: u64,
    pub current_epoch_began: String,
    pub oldest_epoch: u64,
    pub epoch_days: u64,
    pub retention_days: u64,
    /// Live data keys per epoch; `epoch: null` counts keys still wrapped under the master
    /// key (databases from before key epochs) until the first rotation.
    pub keys: Vec<EpochKeys>,
    pub next_rotation: String,
    /// When the oldest kept epoch key is due to be destroyed.
    pub next_retirement: String,
    pub keyring_file: Option<String>,
}

/// Live data keys wrapped under one epoch.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EpochKeys {
    pub epoch: Option<i64>,
    pub keys: i64,
}

impl Hiatus {
    /// The epoch whose keys may be destroyed now: every epoch that ended more than the
    /// retention window ago.
    fn retire_target(&self, now: Micros) -> u64 {
        let n = self.keys.epoch_days();
        let day = day_of(now).saturating_sub(self.config.key_retention_days);
        let target = day - day % n;
        target.min(self.keys.current_epoch())
    }

    /// The day from which no copy of the database taken up to `at` can be read for data whose
    /// key was destroyed at `at`: the epoch `at` falls in has ended and then the retention
    /// window has passed, so its key (and every older one) is destroyed by the retirement that
    /// runs that day.
    pub fn unreadable_everywhere_from(&self, at: Micros) -> Micros {
        let n = self.keys.epoch_days();
        let day = day_of(at);
        let epoch = day - day % n;
        epoch_start(epoch + n + self.config.key_retention_days)
    }

    /// The erasure plan's and receipt's sentence about copies: gone from the live system at
    /// once, from backups and database files when the epoch keys of that time are destroyed.
    pub(crate) fn copies_sentence(&self, at: Micros, past: bool) -> String {
        let date = crate::clock::format_date(self.unreadable_everywhere_from(at));
        if past {
            format!(
                "Your personal data is gone from the live system now; it is gone from backups and database files on {date}, when the keys that could still open those copies are destroyed."
            )
        } else {
            format!(
                "Your personal data is gone from the live system when erasure runs ({}); it is gone from backups and database files on {date}, when the keys that could still open those copies are destroyed.",
                crate::clock::format_date(at)
            )
        }
    }

    /// Re-wraps every live data key wrapped under an older epoch (or directly under the master
    /// key) under the current epoch's key, and rehashes its email lookup under that epoch, in
    /// batches. Each batch is read, then opened and re-sealed off the async threads, and only
    /// then written in a short transaction of its own, so logins and other writers wait for
    /// the write alone (on SQLite the write lock is the database's). Safe to run in several
    /// processes at once and beside erasures: a row changes only if it still holds the key
    /// and the lookup that were read.
    pub async fn rotate_keys(&self) -> ServiceResult<Rotation> {
        let epoch = self.keys.current_epoch();
        let lookup_key = Arc::new(self.keys.lookup_key(Some(epoch))?);
        let mut out = Rotation {
            epoch,
            ..Default::default()
        };
        // While one batch is written, the next one is read and re-sealed.
        let mut next = Some(self.prepare_batch(epoch, String::new(), lookup_key.clone()));
        while let Some(prepared) = next.take() {
            let Some(batch) = prepared.await? else {
                break;
            };
            out.unreadable += batch.unreadable;
            if batch.full {
                next = Some(self.prepare_batch(epoch, batch.last, lookup_key.clone()));
            }
            let write = async {
                let mut tx = self.db.begin().await?;
                let n = key_epochs::store(&mut tx, epoch, &batch.rows).await?;
                tx.commit().await?;
                ServiceResult::Ok(n)
            };
            match next.take() {
                Some(read) => {
                    let (written, read) = tokio::join!(write, read);
                    out.rewrapped += written?;
                    next = Some(Box::pin(std::future::ready(read)));
                }
                None => out.rewrapped += write.await?,
            }
        }
        if out.rewrapped > 0 || out.unreadable > 0 {
            tracing::info!(
                epoch,
                rewrapped = out.rewrapped,
                unreadable = out.unreadable,
                "data keys rotated"
            );
        }
        Ok(out)
    }

    /// The next batch of due keys after `after`, read in a transaction of its own and
    /// re-wrapped off the async threads; `None` when none is left.
    fn prepare_batch(
        &self,
        epoch: u64,
        after: String,
        lookup_key: Arc<LookupKey>,
    ) -> std::pin::Pin<Box<dyn Future<Output = ServiceResult<Option<Batch>>> + Send + '_>> {
        Box::pin(async move {
            let due = self
                .reading(async |tx| Ok(key_epochs::due(tx, epoch, &after, BATCH).await?))
                .await?;
            let Some(last) = due.last().map(|d| d.id.clone()) else {
                return Ok(None);
            };
            let full = due.len() as i64 == BATCH;
            let keys = self.keys.clone();
            let (rows, unreadable) =
                tokio::task::spawn_blocking(move || rewrap_batch(&keys, due, epoch, &lookup_key))
                    .await
                    .map_err(|_| {
                        ServiceError::Internal(StoreError::Config(
                            "the re-wrapping task failed".into(),
                        ))
                    })??;
            Ok(Some(Batch {
                rows,
                unreadable,
                last,
                full,
            }))
        })
    }

    /// Destroys the keys of every epoch older than the retention window. Refuses while a live
    /// data key is still wrapped under one of them (rotate first): destroying it would make a
    /// member who was not erased unreadable.
    pub async fn retire_keys(&self) -> ServiceResult<Retirement> {
        self.keys.reload()?;
        let before = self.keys.oldest_epoch();
        let target = self.retire_target(self.now());
        if target <= before {
            return Ok(Retirement {
                oldest_epoch: before,
                retired: 0,
            });
        }
        let live = self
            .reading(async |tx| Ok(key_epochs::count_before(tx, target).await?))
            .await?;
        if live > 0 {
            return Err(ServiceError::conflict(
                "keys_still_in_use",
                format!(
                    "{live} live data keys are still wrapped under epochs before {target}: run `hiatus keys rotate` first"
                ),
            ));
        }
        self.keys.retire_before(target)?;
        tracing::info!(
            oldest_epoch = target,
            retired = target - before,
            "epoch keys destroyed"
        );
        Ok(Retirement {
            oldest_epoch: target,
            retired: target - before,
        })
    }

    /// What the worker runs every few minutes: adopt retirements other processes made, rotate,
    /// then retire what the window allows.
    pub async fn maintain_keys(&self) -> ServiceResult<(Rotation, Retirement)> {
        self.keys.reload()?;
        let rotation = self.rotate_keys().await?;
        let retirement = self.retire_keys().await?;
        Ok((rotation, retirement))
    }

    /// Where the key epochs stand.
    pub async fn key_status(&self) -> ServiceResult<KeyStatus> {
        self.keys.reload()?;
        let counts: Vec<EpochCount> = self
            .reading(async |tx| Ok(key_epochs::counts(tx).await?))
            .await?;
        let n = self.keys.epoch_days();
        let current = self.keys.current_epoch();
        let oldest = self.keys.oldest_epoch();
        Ok(KeyStatus {
            current_epoch: current,
            current_epoch_began: crate::clock::format_date(epoch_start(current)),
            oldest_epoch: oldest,
            epoch_days: n,
            retention_days: self.config.key_retention_days,
            keys: counts
                .into_iter()
                .map(|c| EpochKeys {
                    epoch: c.epoch,
                    keys: c.keys,
                })
                .collect(),
            next_rotation: crate::clock::format_date(epoch_start(current + n)),
            next_retirement: crate::clock::format_date(epoch_start(
                oldest + n + self.config.key_retention_days,
            )),
            keyring_file: self.keys.file().map(|p| p.display().to_string()),
        })
    }
}

/// How often a long-running process reads the keyring file again, to adopt retirements
/// another process made (a `hiatus keys retire`, another machine's worker).
pub const KEYRING_RELOAD_EVERY: Duration = Duration::from_secs(300);

impl Hiatus {
    /// Reads the keyring file again every `every`, and at once when `now` is notified (the
    /// CLI does on SIGHUP), until `shutdown` turns true: epoch keys another process retired
    /// are wiped from this process's memory too, so it can no longer open what they wrapped.
    /// A file that cannot be read is logged and tried again next time; the keys in memory
    /// stay as they were (a reload never brings back a retired epoch).
    pub async fn reload_keyring_until(
        &self,
        every: Duration,
        now: Arc<Notify>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        if self.keys.file().is_none() {
            return;
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = now.notified() => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            let before = self.keys.oldest_epoch();
            match self.keys.reload() {
                Ok(oldest) if oldest > before => tracing::info!(
                    oldest_epoch = oldest,
                    retired = oldest - before,
                    "keyring reloaded: epoch keys retired elsewhere are gone from this process"
                ),
                Ok(_) => tracing::debug!("keyring reloaded: nothing retired"),
                Err(e) => tracing::warn!(error = %e, "the keyring file could not be read again"),
            }
        }
    }
}

/// A batch of re-wrapped keys, ready to be written.
struct Batch {
    rows: Vec<Rewrapped>,
    unreadable: u64,
    /// The last account id read, where the next batch starts.
    last: String,
    /// The batch was full: more may be due.
    full: bool,
}

/// A batch of due keys re-wrapped under `epoch`, and how many could not be: a key or a
/// sealed email that does not open is left as it is and counted (wrapped under a retired
/// epoch, or damaged), so an operator sees it.
fn rewrap_batch(
    keys: &Keyring,
    due: Vec<key_epochs::DueKey>,
    epoch: u64,
    lookup_key: &LookupKey,
) -> Result<(Vec<Rewrapped>, u64), StoreError> {
    let mut rows = Vec::with_capacity(due.len());
    let mut unreadable = 0;
    for d in due {
        match rewrap_one(keys, &d, epoch, lookup_key) {
            Ok(r) => rows.push(r),
            Err(
                e @ (StoreError::KeyRetired(_) | StoreError::Decrypt(_) | StoreError::Corrupt(_)),
            ) => {
                tracing::warn!(account = %d.id, error = %e, "data key cannot be re-wrapped");
                unreadable += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok((rows, unreadable))
}

/// One due key re-wrapped under `epoch`, with the member's email lookup rehashed under
/// `lookup_key` (the epoch's): the data key is opened anyway, so the sealed email opens with
/// it. A key already under `epoch` (or a later one: another process whose clock runs ahead)
/// keeps its wrapped form and gets its epoch recorded.
fn rewrap_one(
    keys: &Keyring,
    d: &key_epochs::DueKey,
    epoch: u64,
    lookup_key: &LookupKey,
) -> Result<Rewrapped, StoreError> {
    let dk = keys.unwrap_data_key(&d.id, Some(&d.data_key_wrapped))?;
    let new = match wrapped_epoch(&d.data_key_wrapped) {
        Some(e) if e >= epoch => d.data_key_wrapped.clone(),
        _ => keys.wrap_data_key(&dk, epoch)?,
    };
    let lookup = match &d.email_enc {
        Some(sealed) => Some(lookup_key.hash(&dk.open_field("accounts", "email", &d.id, sealed)?)),
        None => None,
    };
    Ok(Rewrapped {
        id: d.id.clone(),
        old: d.data_key_wrapped.clone(),
        old_lookup: d.email_lookup.clone(),
        new,
        lookup,
    })
}
