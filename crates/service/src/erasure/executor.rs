//! The executor: the first step that makes the account unusable and unreadable, then the
//! policy's rules in batches, each checkpointed, then the receipt.

use super::*;
use crate::clock::format_date;
use crate::error::{ServiceError, ServiceResult};
use crate::jobs::Job;
use hiatus_domain::ErasureStatus;
use hiatus_domain::fmt::thousands;
use hiatus_store::audit::{self, NewAuditEvent};
use hiatus_store::erasures::{self, NewPseudonym};
use hiatus_store::jobs;
use hiatus_store::policy::BATCH;
use hiatus_store::{Backend, accounts};
use serde_json::json;

fn notice_key(keys: &hiatus_store::crypto::Keyring) -> hiatus_store::crypto::SecretKey {
    hiatus_store::crypto::SecretKey::from_bytes(*keys.derive_secret("erasure notice address"))
}

/// Seals the address the erasure-completed mail goes to, bound to the erasure's row, under
/// the current epoch's key: its dead copies become unreadable with the member's data.
fn seal_notice(keys: &hiatus_store::crypto::Keyring, account: AccountId, email: &str) -> Vec<u8> {
    keys.seal_for_epoch(&format!("erasures.notify_enc:{account}"), email.as_bytes())
}

/// Opens the sealed address of the erasure-completed mail.
pub(crate) fn open_notice(
    keys: &hiatus_store::crypto::Keyring,
    account: AccountId,
    sealed: &[u8],
) -> ServiceResult<String> {
    let aad = format!("erasures.notify_enc:{account}");
    // Addresses sealed before key epochs used a key derived from the master key.
    let b = match hiatus_store::crypto::wrapped_epoch(sealed) {
        Some(_) => keys.open_from_epoch(&aad, sealed)?,
        None => notice_key(keys).open(&aad, sealed)?,
    };
    String::from_utf8(b)
        .map_err(|_| ServiceError::Internal(StoreError::Corrupt("erasure notice address".into())))
}

impl Hiatus {
    /// The executor: erases the account if its grace period has ended (or `opts` says to go
    /// ahead), resuming from the checkpoint of an earlier run. Safe to call any number of
    /// times, from any number of workers: one holds the lease, the others get `Busy`.
    pub async fn erase_account(
        &self,
        account: AccountId,
        holder: &str,
        opts: &EraseOptions,
    ) -> ServiceResult<EraseOutcome> {
        let now = self.now();
        let mut tx = self.db.read().await?;
        let row = erasures::get(&mut tx, account).await?;
        tx.commit().await?;
        let Some(row) = row else {
            return Ok(EraseOutcome::NotDue);
        };
        match row.stage()? {
            ErasureStatus::Done => return Ok(EraseOutcome::Done),
            ErasureStatus::Cancelled => return Ok(EraseOutcome::NotDue),
            ErasureStatus::Scheduled if row.due_at > now && !opts.ignore_grace => {
                return Ok(EraseOutcome::NotDue);
            }
            _ => {}
        }
        if !erasures::lease(&self.db, account, holder, now, self.config.job_lease).await? {
            // Cancelled or finished in the meantime, or another executor holds it.
            let mut tx = self.db.read().await?;
            let row = erasures::get(&mut tx, account).await?;
            tx.commit().await?;
            return Ok(match row.map(|r| r.stage()).transpose()? {
                Some(ErasureStatus::Done) => EraseOutcome::Done,
                Some(ErasureStatus::Scheduled | ErasureStatus::Running) => EraseOutcome::Busy,
                _ => EraseOutcome::NotDue,
            });
        }
        let result = self.erase_leased(account, holder, opts).await;
        if result.is_err() {
            let mut tx = self.db.begin().await?;
            erasures::release(&mut tx, account, holder).await?;
            tx.commit().await?;
        }
        result
    }

    async fn erase_leased(
        &self,
        account: AccountId,
        holder: &str,
        opts: &EraseOptions,
    ) -> ServiceResult<EraseOutcome> {
        let member = account.to_text();
        let mut commits: u64 = 0;
        let stop = |commits: u64| opts.stop_after.is_some_and(|s| commits >= s);
        // Step 1: unusable and unreadable, in one transaction.
        let row = {
            let now = self.now();
            let mut tx = self.db.begin().await?;
            let acct = accounts::get_for_update(&mut tx, account).await?;
            let row = erasures::get(&mut tx, account)
                .await?
                .ok_or(ServiceError::NotFound("erasure"))?;
            if row.stage()? == ErasureStatus::Scheduled {
                let due = acct.deletion_due_at.unwrap_or(row.due_at);
                if acct.state()? != AccountState::DeletionScheduled
                    || (due > now && !opts.ignore_grace)
                {
                    // Cancelled (or rescheduled) between the check and the lock.
                    erasures::release(&mut tx, account, holder).await?;
                    tx.commit().await?;
                    return Ok(EraseOutcome::NotDue);
                }
                let pseudonym_id: AccountId = row
                    .pseudonym_id
                    .as_deref()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| {
                        ServiceError::Internal(StoreError::Corrupt(
                            "erasure without a pseudonym id".into(),
                        ))
                    })?;
                let label = row.pseudonym.clone().unwrap_or_default();
                // The legal name moves to the pseudonym while invoices need it.
                let mut retained_until: Option<Micros> = None;
                for rule in self.erasure_rules() {
                    if let Some(r) = rule.retention.as_ref().filter(|r| r.identity)
                        && let (n, Some(latest)) = erasures::count(&mut tx, rule, &member).await?
                        && n > 0
                    {
                        retained_until = retained_until.max(Some(add_years(latest, r.years)));
                    }
                }
                // The member's data may already be partly gone (a data key destroyed, a
                // sealed value that no longer opens): erasure goes on, and the receipt says
                // what could not be kept and why.
                let (email, legal_name) =
                    accounts::contact_each(&mut tx, &self.keys, account).await?;
                let mut not_retained: Vec<NotRetained> = Vec::new();
                let retained = match (retained_until, legal_name) {
                    (Some(_), Ok(legal_name)) => {
                        let pid = pseudonym_id.to_text();
                        let (dk, wrapped) = self.keys.new_data_key(&pid);
                        Some((
                            dk.seal_field("accounts", "legal_name", &pid, &legal_name),
                            wrapped,
                        ))
                    }
                    (Some(_), Err(e)) => {
                        tracing::warn!(account = %account, error = %e, "the legal name could not be read for retention");
                        not_retained.push(NotRetained {
                            what: "your legal name on retained invoices and payments".into(),
                            why: unreadable(&e),
                        });
                        None
                    }
                    (None, _) => None,
                };
                // What erasure is about to do, counted before anything changes: the receipt
                // tells it in the past tense when erasure ends (counts and dates only).
                let plan = self.plan_in(&mut tx, account, &row, now).await?;
                // The address for the "your account was erased" mail, sealed until it is sent.
                match email {
                    Ok(email) => {
                        erasures::set_notify(
                            &mut tx,
                            account,
                            seal_notice(&self.keys, account, email.as_str()),
                        )
                        .await?
                    }
                    Err(e) => {
                        tracing::warn!(account = %account, error = %e, "the address for the erasure mail could not be read");
                        not_retained.push(NotRetained {
                            what: "the address for the \"your account was erased\" mail (it is not sent)".into(),
                            why: unreadable(&e),
                        });
                    }
                }
                let lookup: [u8; 32] = hiatus_store::crypto::random_bytes();
                let tombstone_lookup: [u8; 32] = hiatus_store::crypto::random_bytes();
                erasures::make_unusable(
                    &mut tx,
                    account,
                    &NewPseudonym {
                        id: pseudonym_id,
                        label: &label,
                        kind: acct.kind()?.as_str(),
                        retained,
                        retained_until,
                        email_lookup: lookup.to_vec(),
                        tombstone_lookup: tombstone_lookup.to_vec(),
                    },
                    now,
                )
                .await?;
                audit::outbox(
                    &mut tx,
                    "account.deleted",
                    Some(account),
                    json!({"account_id": account}),
                    now,
                )
                .await?;
                erasures::set_receipt(
                    &mut tx,
                    account,
                    &json!({
                        "plan": {"items": plan.items, "counterparties": plan.counterparties},
                        "not_retained": not_retained,
                    }),
                )
                .await?;
                tx.commit().await?;
                commits += 1;
                tracing::info!(account = %account, "erasure started: the account is unusable");
                if stop(commits) {
                    return Ok(EraseOutcome::Stopped);
                }
                let mut tx = self.db.read().await?;
                let r = erasures::get(&mut tx, account).await?.expect("row exists");
                tx.commit().await?;
                r
            } else if row.stage()? == ErasureStatus::Running {
                tx.commit().await?;
                row
            } else {
                // Cancelled (or finished by another executor) since the lease was taken.
                erasures::release(&mut tx, account, holder).await?;
                tx.commit().await?;
                return Ok(if row.stage()? == ErasureStatus::Done {
                    EraseOutcome::Done
                } else {
                    EraseOutcome::NotDue
                });
            }
        };
        let pseudonym = row.pseudonym_id.clone().ok_or_else(|| {
            ServiceError::Internal(StoreError::Corrupt(
                "running erasure without a pseudonym id".into(),
            ))
        })?;
        // Export archives hold the member's decrypted data: every file of every export goes
        // (published, in the object store, or the partial file of a killed build) before the
        // rule that deletes the export rows, which name the files. A build still running
        // stops at its next progress report (the first step marked it failed).
        {
            let mut tx = self.db.read().await?;
            let ids = hiatus_store::exports::ids_of(&mut tx, account).await?;
            tx.commit().await?;
            for id in ids {
                self.remove_export_files(&id).await?;
            }
        }
        // The policy's rules, each in batches; the checkpoint says which are done.
        let rules = self.erasure_rules();
        let first = (row.step.max(1) - 1) as usize;
        for (i, rule) in rules.iter().enumerate().skip(first) {
            loop {
                let now = self.now();
                let mut tx = self.db.begin().await?;
                if !erasures::hold_lease(&mut tx, account, holder, now + self.config.job_lease)
                    .await?
                {
                    // The lease ran out and another executor took over.
                    return Ok(EraseOutcome::Busy);
                }
                for key in erasures::batch_blobs(&mut tx, rule, &member).await? {
                    self.blobs.delete(&key).await?;
                }
                let n = erasures::run_batch(&mut tx, rule, &member, Some(&pseudonym)).await?;
                let done = n < BATCH as u64;
                if done {
                    erasures::checkpoint(&mut tx, account, holder, i as i64 + 2).await?;
                }
                tx.commit().await?;
                commits += 1;
                if stop(commits) {
                    return Ok(EraseOutcome::Stopped);
                }
                if done {
                    break;
                }
            }
        }
        // Last step: the receipt, the purge of retained records, the link cleared.
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut retained = Vec::new();
        let (first_purge, _) = self.next_retention_event(&mut tx, &pseudonym, now).await?;
        let mut quiet = std::collections::BTreeSet::new();
        for rule in rules {
            if let Some(r) = &rule.retention {
                let (n, latest) = erasures::count(&mut tx, rule, &pseudonym).await?;
                if n > 0
                    && let Some(l) = latest
                    && !retained
                        .iter()
                        .any(|x: &RetainedLine| x.what == rule.rule.noun)
                {
                    if !rule.rule.summary {
                        quiet.insert(rule.rule.noun.clone());
                    }
                    retained.push(RetainedLine {
                        what: rule.rule.noun.clone(),
                        count: n,
                        until: add_years(l, r.years),
                        basis: r.basis.clone(),
                        kept_by_others: rule.purge_sql.is_none(),
                    });
                }
            }
        }
        // The plan counted when erasure started, told in the past tense.
        let planned: Option<(Vec<PlanItem>, i64)> = row
            .receipt
            .as_deref()
            .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
            .and_then(|v| {
                let items = serde_json::from_value(v["plan"]["items"].clone()).ok()?;
                Some((items, v["plan"]["counterparties"].as_i64().unwrap_or(0)))
            });
        let summary = if let Some((items, counterparties)) = &planned {
            let mut s = vec![format!("Your account was erased on {}.", format_date(now))];
            s.extend(plan_sentences(items, None, *counterparties, true));
            s
        } else {
            let mut s = vec![format!("Your account was erased on {}.", format_date(now))];
            for r in retained.iter().filter(|r| !quiet.contains(&r.what)) {
                s.push(if r.kept_by_others {
                    format!(
                        "{} {} stay with the people involved; your legal name on them is kept until {} for {}, then deleted.",
                        thousands(r.count),
                        r.what,
                        format_date(r.until),
                        r.basis
                    )
                } else {
                    format!(
                        "{} {} are kept until {} for {}, then deleted.",
                        thousands(r.count),
                        r.what,
                        format_date(r.until),
                        r.basis
                    )
                });
            }
            s
        };
        let not_retained: Vec<NotRetained> = row
            .receipt
            .as_deref()
            .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
            .and_then(|v| serde_json::from_value(v["not_retained"].clone()).ok())
            .unwrap_or_default();
        let mut summary = summary;
        for n in &not_retained {
            summary.push(format!(
                "{} could not be kept: {}.",
                capitalized(&n.what),
                n.why
            ));
        }
        summary.push(self.copies_sentence(now, true));
        let receipt = ErasureReceipt {
            erased_at: now,
            unreadable_everywhere_at: Some(self.unreadable_everywhere_from(now)),
            summary,
            retained,
            not_retained,
        };
        let receipt_json = serde_json::to_value(&receipt)
            .map_err(|e| ServiceError::Internal(StoreError::Corrupt(e.to_string())))?;
        if let Some(at) = first_purge {
            jobs::enqueue(
                &mut tx,
                &Job::Purge {
                    pseudonym: pseudonym.clone(),
                }
                .to_new(
                    at.max(now),
                    Some(format!("{}:{pseudonym}:{at}", Job::PURGE)),
                    20,
                ),
                now,
            )
            .await?;
        }
        erasures::finish(&mut tx, account, &receipt_json, rules.len() as i64 + 2, now).await?;
        audit::record(
            &mut tx,
            NewAuditEvent {
                account: Some(account),
                actor: None,
                action: "account.erased",
                reason: None,
                detail: json!({"policy_rules": rules.len()}),
                now,
            },
        )
        .await?;
        // Integrations hear that erasure finished (the tombstone's id, nothing else).
        audit::outbox(
            &mut tx,
            "account.erased",
            Some(account),
            json!({"account_id": account}),
            now,
        )
        .await?;
        tx.commit().await?;
        self.compact_after_erasure().await;
        tracing::info!(account = %account, "erasure finished");
        Ok(EraseOutcome::Done)
    }

    /// SQLite keeps old page images in its write-ahead log until a checkpoint; erased rows
    /// must not linger there. (Freed pages are zeroed by `secure_delete`.)
    async fn compact_after_erasure(&self) {
        if self.db.backend() != Backend::Sqlite {
            return;
        }
        for _ in 0..5 {
            match self.db.checkpoint_wal().await {
                Ok(true) => return,
                Ok(false) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
                Err(e) => {
                    tracing::warn!(error = %e, "could not checkpoint the write-ahead log after erasure");
                    return;
                }
            }
        }
        tracing::warn!(
            "the write-ahead log stayed busy after erasure; the next checkpoint clears it"
        );
    }

    /// The erasure receipt of an erased account.
    pub async fn erasure_receipt(&self, account: AccountId) -> ServiceResult<ErasureReceipt> {
        let mut tx = self.db.read().await?;
        let row = erasures::get(&mut tx, account).await?;
        tx.commit().await?;
        row.and_then(|r| r.receipt)
            .and_then(|r| serde_json::from_str(&r).ok())
            .ok_or(ServiceError::NotFound("erasure receipt"))
    }

    /// Erases every account whose grace period has ended (the worker's safety net for a lost
    /// job) and returns how many it finished.
    pub async fn erase_due(&self, holder: &str) -> ServiceResult<usize> {
        let mut tx = self.db.read().await?;
        let due = erasures::due(&mut tx, self.now(), 100).await?;
        tx.commit().await?;
        let mut n = 0;
        for a in due {
            if self
                .erase_account(a, holder, &EraseOptions::default())
                .await?
                == EraseOutcome::Done
            {
                n += 1;
            }
        }
        Ok(n)
    }
}
