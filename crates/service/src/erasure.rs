//! Deletion for good (product definition §3, §4 steps 6–7, §7): scheduling with a grace
//! period, cancelling, the erasure plan, the executor and the retention purge.
//!
//! The executor follows the erasure policy ([`hiatus_store::policy`]). Its first step, in one
//! transaction, makes the account unusable and unreadable: state `deleted`, sessions and links
//! gone, the data key destroyed (the legal name moves to the pseudonym account first when
//! records that need it are retained). Then every rule of the policy runs in batches of at
//! most [`BATCH`] rows, one short transaction each, with the step recorded as a checkpoint.
//! Every batch is idempotent (it selects what still matches), so a crash anywhere and a rerun
//! reach the same end state, and a second run finds nothing to do.

use crate::clock::format_date;
use crate::error::{ServiceError, ServiceResult};
use crate::{Actor, Hiatus, check_text, link_token};
use hiatus_domain::preflight::Intent;
use hiatus_domain::reason::REASON_DETAIL_MAX;
use hiatus_domain::*;
use hiatus_store::accounts;
use hiatus_store::audit::{self, NewAuditEvent};
use hiatus_store::erasures::{self, ErasureRow, NewPseudonym};
use hiatus_store::jobs::{self, NewJob};
use hiatus_store::policy::{Action, BATCH, CompiledRule};
use hiatus_store::{Backend, StoreError, Tx, market};
use serde::Serialize;
use serde_json::json;

/// The job that erases an account when its grace period ends.
pub const JOB_ERASE: &str = "account.erase";
/// The job that purges retained records of a pseudonym when their retention ends.
pub const JOB_PURGE: &str = "retention.purge";
/// The job that reminds a member of their coming erasure (7 days and 1 day before).
pub const JOB_REMIND_DELETION: &str = "deletion.remind";
/// What a member types to confirm deletion.
pub const CONFIRMATION: &str = "delete my account";

/// What scheduling deletion needs from the member.
#[derive(Clone, Debug)]
pub struct DeleteRequest {
    pub password: Option<String>,
    pub reason: ClosureReason,
    pub detail: Option<String>,
    /// Must be [`CONFIRMATION`] (case and surrounding spaces do not matter).
    pub confirmation: String,
}

/// One line of the plan: what happens to one kind of record.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PlanItem {
    pub table: String,
    pub what: String,
    /// `what` for a single record.
    #[serde(default)]
    pub what_one: String,
    /// `delete`, `pseudonymize`, `redact` or `retain`.
    #[schema(value_type = String)]
    pub action: Action,
    pub count: i64,
    /// For retained records: when the last of them is purged.
    pub retained_until: Option<Micros>,
    /// For retained records: the legal basis.
    pub basis: Option<String>,
    /// For retained records the counterparty keeps: only the member's identity on them ends
    /// at `retained_until`; the records stay.
    pub kept_by_others: bool,
    /// Whether the summary tells this line (false when another line already tells its rows).
    pub in_summary: bool,
}

/// What erasure will do (or did) to a member's data, in numbers and in words.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ErasurePlan {
    pub account_id: AccountId,
    /// The name counterparties will see in place of the member.
    pub pseudonym: String,
    /// When erasure runs (none before deletion is scheduled).
    pub due_at: Option<Micros>,
    /// People who keep records the member appears in (contracts, threads, reviews).
    pub counterparties: i64,
    pub items: Vec<PlanItem>,
    /// The plan in plain sentences.
    pub summary: Vec<String>,
    /// From this day no copy of the database (backups, dead rows, WAL) can be read for the
    /// member: the keys of the epoch erasure runs in are destroyed.
    pub unreadable_everywhere_at: Micros,
}

/// What a member is told after scheduling deletion.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DeletionReceipt {
    pub state: AccountState,
    pub at: Micros,
    pub due_at: Micros,
    pub proposals_withdrawn: u64,
    /// Contract offers waiting for an answer: those made to the member declined, those they
    /// made withdrawn.
    pub offers_closed: u64,
    pub job_posts_closed: u64,
    pub warnings: Vec<Finding>,
    pub plan: ErasurePlan,
    /// How to undo it, in words.
    pub next: String,
}

/// How far an executor run got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum EraseOutcome {
    /// Erasure finished (now, or already before).
    Done,
    /// Nothing to do: not scheduled, cancelled, or the grace period is still running.
    NotDue,
    /// Another executor holds the erasure; it will finish it.
    Busy,
    /// Stopped after the given number of transactions (see [`EraseOptions::stop_after`]).
    Stopped,
}

/// How an executor run behaves.
#[derive(Clone, Debug, Default)]
pub struct EraseOptions {
    /// Run even though the grace period has not ended (operators).
    pub ignore_grace: bool,
    /// Stop after this many committed transactions, as a crash there would (tests).
    pub stop_after: Option<u64>,
}

/// The erasure receipt kept after erasure (counts and dates, no pseudonym).
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErasureReceipt {
    pub erased_at: Micros,
    /// From this day no copy of the database taken before erasure can be read for the member
    /// (receipts written before key epochs do not have it).
    #[serde(default)]
    pub unreadable_everywhere_at: Option<Micros>,
    pub summary: Vec<String>,
    pub retained: Vec<RetainedLine>,
    /// What could not be kept because the member's data was already partly gone.
    #[serde(default)]
    pub not_retained: Vec<NotRetained>,
}

/// Something erasure meant to keep (for a legal obligation, or to send the last mail) and
/// could not, because the member's data was already partly gone.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct NotRetained {
    pub what: String,
    pub why: String,
}

/// Why a value of the member could not be read, in words (no value, no key material).
fn unreadable(e: &StoreError) -> String {
    match e {
        StoreError::KeyDestroyed => "the member's data key or the value was already destroyed",
        _ => "the stored value no longer opens with the member's data key",
    }
    .to_string()
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A kind of record kept after erasure, and until when.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RetainedLine {
    pub what: String,
    pub count: i64,
    pub until: Micros,
    pub basis: String,
    /// The records stay with the counterparty; only the legal name on them ends at `until`.
    #[serde(default)]
    pub kept_by_others: bool,
}

/// Adds calendar years to a time (UTC); 29 February becomes 28 February when needed.
pub fn add_years(t: Micros, years: u32) -> Micros {
    shift_years(t, years as i64)
}

/// Subtracts calendar years (the purge cut-off: records started before it are due).
fn sub_years(t: Micros, years: u32) -> Micros {
    shift_years(t, -(years as i64))
}

fn shift_years(t: Micros, years: i64) -> Micros {
    let Ok(ts) = jiff::Timestamp::from_microsecond(t) else {
        return t;
    };
    jiff::tz::Offset::UTC
        .to_datetime(ts)
        .checked_add(jiff::Span::new().years(years))
        .ok()
        .and_then(|d| jiff::tz::Offset::UTC.to_timestamp(d).ok())
        .map(|t| t.as_microsecond())
        .unwrap_or(t)
}

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

/// A cancel link's token is 64 hex digits; anything else is not one of ours.
/// "1,204".
fn thousands(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A fresh random pseudonym label: not derived from anything about the member.
fn pseudonym_label(kind: AccountKind, digits: usize) -> String {
    let who = match kind {
        AccountKind::Freelancer => "freelancer",
        AccountKind::Client => "client",
        AccountKind::Both => "member",
    };
    let bytes: [u8; 8] = hiatus_store::crypto::random_bytes();
    let hex: String = hex_upper(&bytes);
    format!("Former {who} #{}", &hex[..digits])
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

impl Hiatus {
    /// The policy's rules, compiled for this database.
    pub fn erasure_rules(&self) -> &[CompiledRule] {
        &self.erasure_rules
    }

    /// Whether `label` is a pseudonym this kind of member could have been shown, and no one
    /// has it.
    async fn pseudonym_free(
        &self,
        tx: &mut Tx,
        kind: AccountKind,
        label: &str,
    ) -> ServiceResult<bool> {
        let prefix = pseudonym_label(kind, 6);
        let prefix = &prefix[..prefix.len() - 6];
        let Some(digits) = label.strip_prefix(prefix) else {
            return Ok(false);
        };
        if !(6..=10).contains(&digits.len())
            || !digits
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
        {
            return Ok(false);
        }
        let taken: i64 = tx
            .scalar(
                "SELECT (SELECT COUNT(*) FROM accounts WHERE pseudonym = $1) + (SELECT COUNT(*) FROM erasures WHERE pseudonym = $1)",
                hiatus_store::args![label.to_string()],
            )
            .await?;
        Ok(taken == 0)
    }

    async fn unique_pseudonym(&self, tx: &mut Tx, kind: AccountKind) -> ServiceResult<String> {
        for attempt in 0..20 {
            let label = pseudonym_label(kind, if attempt < 10 { 6 } else { 10 });
            let taken: i64 = tx
                .scalar(
                    "SELECT (SELECT COUNT(*) FROM accounts WHERE pseudonym = $1) + (SELECT COUNT(*) FROM erasures WHERE pseudonym = $1)",
                    hiatus_store::args![label.clone()],
                )
                .await?;
            if taken == 0 {
                return Ok(label);
            }
        }
        Err(ServiceError::conflict(
            "pseudonym_exhausted",
            "no free pseudonym could be found; try again",
        ))
    }

    /// Schedules the caller's deletion: refused while a preflight blocker exists; needs the
    /// password (or a recent re-authentication), a reason and the typed confirmation. The
    /// account is hidden at once; erasure runs when the grace period ends unless cancelled.
    pub async fn schedule_deletion(
        &self,
        actor: &Actor,
        req: DeleteRequest,
    ) -> ServiceResult<DeletionReceipt> {
        self.schedule_deletion_as(actor, req, None).await
    }

    /// Like [`Hiatus::schedule_deletion`], keeping the pseudonym the plan showed the member
    /// (`shown`, from [`Hiatus::erasure_plan`] before scheduling) when it is still free, so the
    /// name they confirmed is the name counterparties will see.
    pub async fn schedule_deletion_as(
        &self,
        actor: &Actor,
        req: DeleteRequest,
        shown: Option<&str>,
    ) -> ServiceResult<DeletionReceipt> {
        if let Some(d) = &req.detail {
            check_text("detail", d, REASON_DETAIL_MAX, false)?;
        }
        if req.confirmation.trim().to_lowercase() != CONFIRMATION {
            return Err(ServiceError::invalid(
                "confirmation_mismatch",
                format!(
                    "type \"{CONFIRMATION}\" to confirm that the account should be deleted for good"
                ),
            ));
        }
        self.require_reauth(actor, req.password.as_deref()).await?;
        let now = self.now();
        let due_at = now + self.config.deletion_grace;
        let mut tx = self.db.begin().await?;
        let acct = accounts::get_for_update(&mut tx, actor.account).await?;
        let next = acct.state()?.schedule_deletion()?;
        if acct.role()? != Role::Member {
            return Err(ServiceError::Forbidden {
                code: "staff_account",
                message: "staff accounts are removed by an operator, not deleted this way".into(),
            });
        }
        let pre = self
            .passed_preflight(&mut tx, actor.account, Intent::Delete, req.reason, now)
            .await?;
        let proposals_withdrawn = market::withdraw_open_proposals(&mut tx, actor.account).await?;
        let offers_closed = market::close_pending_offers(&mut tx, actor.account, now).await?;
        let job_posts_closed = market::close_open_job_posts(&mut tx, actor.account).await?;
        let existing = erasures::get(&mut tx, actor.account).await?;
        let label = match existing.as_ref().and_then(|e| e.pseudonym.clone()) {
            Some(l) => l,
            None => match shown {
                Some(l) if self.pseudonym_free(&mut tx, acct.kind()?, l).await? => l.to_string(),
                _ => self.unique_pseudonym(&mut tx, acct.kind()?).await?,
            },
        };
        let row = erasures::schedule(
            &mut tx,
            actor.account,
            &label,
            AccountId::new(),
            now,
            due_at,
        )
        .await?;
        accounts::set_state(&mut tx, actor.account, next, Some(due_at), now).await?;
        jobs::enqueue(
            &mut tx,
            &NewJob {
                kind: JOB_ERASE.into(),
                payload: json!({"account_id": actor.account}),
                run_at: due_at,
                dedupe_key: Some(format!("{JOB_ERASE}:{}:{due_at}", actor.account)),
                max_attempts: 20,
            },
            now,
        )
        .await?;
        for days in [7, 1] {
            let at = due_at - days * DAY_MICROS;
            if at > now {
                jobs::enqueue(
                    &mut tx,
                    &NewJob {
                        kind: JOB_REMIND_DELETION.into(),
                        payload: json!({"account_id": actor.account, "due_at": due_at, "days": days}),
                        run_at: at,
                        dedupe_key: Some(format!("{JOB_REMIND_DELETION}:{}:{due_at}:{days}", actor.account)),
                        max_attempts: 10,
                    },
                    now,
                )
                .await?;
            }
        }
        let event = audit::record(
            &mut tx,
            NewAuditEvent {
                account: Some(actor.account),
                actor: Some(actor.account),
                action: "account.deletion_scheduled",
                reason: Some(req.reason.as_str().to_string()),
                detail: json!({
                    "note": req.detail.is_some(),
                    "due_at": due_at,
                    "proposals_withdrawn": proposals_withdrawn,
                    "offers_closed": offers_closed,
                    "job_posts_closed": job_posts_closed,
                    "warnings": pre.warnings.iter().map(|w| w.code).collect::<Vec<_>>(),
                }),
                now,
            },
        )
        .await?;
        if let Some(note) = &req.detail {
            audit::attach_note(&mut tx, &self.keys, actor.account, event, note).await?;
        }
        audit::record_closure_reason(&mut tx, "delete", req.reason.as_str(), now).await?;
        audit::outbox(
            &mut tx,
            "account.deletion_scheduled",
            Some(actor.account),
            json!({"account_id": actor.account, "due_at": due_at}),
            now,
        )
        .await?;
        let plan = self.plan_in(&mut tx, actor.account, &row, now).await?;
        tx.commit().await?;
        tracing::info!(account = %actor.account, "deletion scheduled");
        Ok(DeletionReceipt {
            state: next,
            at: now,
            due_at,
            proposals_withdrawn,
            offers_closed,
            job_posts_closed,
            warnings: pre.warnings,
            plan,
            next: format!(
                "Your account is hidden and will be erased on {}. Until then, log in and choose Cancel deletion to keep it.",
                format_date(due_at)
            ),
        })
    }

    /// Cancels the caller's scheduled deletion while the grace period runs; the account is
    /// active again with everything as it was.
    pub async fn cancel_deletion(&self, actor: &Actor) -> ServiceResult<AccountState> {
        self.cancel_deletion_of(actor.account, Some(actor.account))
            .await
    }

    /// Cancels a scheduled deletion (by the member, or by a signed link when `actor` is none).
    pub async fn cancel_deletion_of(
        &self,
        account: AccountId,
        actor: Option<AccountId>,
    ) -> ServiceResult<AccountState> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let acct = accounts::get_for_update(&mut tx, account).await?;
        let next = acct.state()?.cancel_deletion()?;
        if acct.deletion_due_at.is_some_and(|d| d <= now) {
            return Err(ServiceError::Gone {
                code: "grace_period_ended",
                message: "the grace period has ended; the account is being erased".into(),
            });
        }
        erasures::cancel(&mut tx, account).await?;
        accounts::set_state(&mut tx, account, next, None, now).await?;
        audit::record(
            &mut tx,
            NewAuditEvent {
                account: Some(account),
                actor,
                action: "account.deletion_cancelled",
                reason: None,
                detail: json!({}),
                now,
            },
        )
        .await?;
        audit::outbox(
            &mut tx,
            "account.deletion_cancelled",
            Some(account),
            json!({"account_id": account}),
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(account = %account, "deletion cancelled");
        Ok(next)
    }

    /// Reminds a member that their erasure is near (the reminder job): an event, and so an
    /// email with a one-click cancel link. Nothing when the deletion was cancelled or moved.
    pub async fn remind_deletion(
        &self,
        account: AccountId,
        due_at: Micros,
        days: i64,
    ) -> ServiceResult<bool> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let acct = accounts::get(&mut tx, account).await?;
        if acct.state()? != AccountState::DeletionScheduled || acct.deletion_due_at != Some(due_at)
        {
            tx.commit().await?;
            return Ok(false);
        }
        audit::outbox(
            &mut tx,
            "account.deletion_reminder",
            Some(account),
            json!({"account_id": account, "due_at": due_at, "days_left": days}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Mints a single-use link that cancels the member's scheduled deletion, valid until the
    /// deletion is due. Returns the token (only its hash is stored).
    pub async fn mint_cancel_link(
        &self,
        account: AccountId,
        due_at: Micros,
    ) -> ServiceResult<String> {
        let token = link_token::new();
        let mut tx = self.db.begin().await?;
        if !hiatus_store::cancel_links::create(
            &mut tx,
            &token,
            &account.to_text(),
            self.now(),
            due_at,
        )
        .await?
        {
            // The erasure has begun: there is nothing left to cancel.
            return Err(Self::link_gone());
        }
        tx.commit().await?;
        Ok(token)
    }

    fn link_gone() -> ServiceError {
        ServiceError::Gone {
            code: "link_invalid",
            message: "this link is not valid any more: it was used already, or the deletion was cancelled or has happened; log in to see your account".into(),
        }
    }

    /// What a cancel link would do, without doing it (the confirmation page): the due time.
    pub async fn cancel_link_info(&self, token: &str) -> ServiceResult<Micros> {
        link_token::check(token, "link")?;
        let now = self.now();
        let mut tx = self.db.read().await?;
        let link = hiatus_store::cancel_links::find(&mut tx, token)
            .await?
            .ok_or(ServiceError::NotFound("link"))?;
        let account: AccountId = link
            .account_id
            .parse()
            .map_err(|_| ServiceError::NotFound("link"))?;
        let acct = accounts::get(&mut tx, account).await?;
        tx.commit().await?;
        if link.used_at.is_some()
            || link.expires_at <= now
            || acct.state()? != AccountState::DeletionScheduled
        {
            return Err(Self::link_gone());
        }
        Ok(link.expires_at)
    }

    /// Cancels a scheduled deletion through a link from the reminder email, on the POST of
    /// its confirmation page. Single-use and valid until the deletion is due; refused when
    /// someone else is logged in in this browser (`viewer`).
    pub async fn cancel_by_link(
        &self,
        token: &str,
        viewer: Option<AccountId>,
    ) -> ServiceResult<AccountState> {
        link_token::check(token, "link")?;
        let now = self.now();
        let mut tx = self.db.read().await?;
        let link = hiatus_store::cancel_links::find(&mut tx, token)
            .await?
            .ok_or(ServiceError::NotFound("link"))?;
        tx.commit().await?;
        let account: AccountId = link
            .account_id
            .parse()
            .map_err(|_| ServiceError::NotFound("link"))?;
        if viewer.is_some_and(|v| v != account) {
            return Err(ServiceError::Forbidden {
                code: "link_for_someone_else",
                message: "this link belongs to another account; log out first to use it".into(),
            });
        }
        let mut tx = self.db.begin().await?;
        if !hiatus_store::cancel_links::use_once(&mut tx, token, now).await? {
            return Err(Self::link_gone());
        }
        tx.commit().await?;
        // The link is spent either way: a link that fails here cannot be tried again.
        self.cancel_deletion_of(account, None)
            .await
            .map_err(|e| match e {
                ServiceError::Conflict { .. } | ServiceError::Gone { .. } => Self::link_gone(),
                e => e,
            })
    }

    /// The caller's erasure plan: what deletion would do (or will do, once scheduled).
    pub async fn erasure_plan(&self, actor: &Actor) -> ServiceResult<ErasurePlan> {
        self.erasure_plan_for(actor.account).await
    }

    /// The erasure plan of any account (operators: `hiatus erase --dry-run`).
    pub async fn erasure_plan_for(&self, account: AccountId) -> ServiceResult<ErasurePlan> {
        let now = self.now();
        let mut tx = self.db.read().await?;
        let acct = accounts::get(&mut tx, account).await?;
        if acct.state()? == AccountState::Deleted {
            return Err(ServiceError::Gone {
                code: "account_deleted",
                message: "this account was already erased".into(),
            });
        }
        let row = match erasures::get(&mut tx, account).await? {
            Some(r) if r.pseudonym.is_some() => r,
            _ => ErasureRow {
                account_id: account.to_text(),
                status: "none".into(),
                pseudonym: Some(self.unique_pseudonym(&mut tx, acct.kind()?).await?),
                pseudonym_id: None,
                scheduled_at: now,
                due_at: now + self.config.deletion_grace,
                started_at: None,
                finished_at: None,
                step: 0,
                locked_by: None,
                locked_until: None,
                receipt: None,
            },
        };
        let plan = self.plan_in(&mut tx, account, &row, now).await?;
        tx.commit().await?;
        Ok(plan)
    }

    async fn plan_in(
        &self,
        tx: &mut Tx,
        account: AccountId,
        row: &ErasureRow,
        now: Micros,
    ) -> ServiceResult<ErasurePlan> {
        let member = account.to_text();
        let mut items: Vec<PlanItem> = Vec::new();
        for rule in self.erasure_rules() {
            let (n, latest) = erasures::count(tx, rule, &member).await?;
            let (until, basis) = match (&rule.retention, latest) {
                (Some(r), Some(l)) => (Some(add_years(l, r.years)), Some(r.basis.clone())),
                _ => (None, None),
            };
            // Rules that only clean up after others (a redaction before retention) are not
            // news to the member: the retention line says what is kept.
            if let Some(same) = items
                .iter_mut()
                .find(|i| i.what == rule.rule.noun && i.action == rule.rule.action)
            {
                same.count += n;
                same.retained_until = same.retained_until.max(until);
                continue;
            }
            items.push(PlanItem {
                table: rule.rule.table.clone(),
                what: rule.rule.noun.clone(),
                what_one: rule
                    .rule
                    .one
                    .clone()
                    .unwrap_or_else(|| rule.rule.noun.clone()),
                action: rule.rule.action,
                count: n,
                retained_until: until,
                basis,
                kept_by_others: rule
                    .rule
                    .retain
                    .as_ref()
                    .is_some_and(|r| r.purge == hiatus_store::policy::Purge::Identity),
                in_summary: rule.rule.summary,
            });
        }
        let counterparties: i64 = tx
            .scalar(
                "SELECT COUNT(*) FROM ( \
                   SELECT client_id AS p FROM contracts WHERE freelancer_id = $1 \
                   UNION SELECT freelancer_id FROM contracts WHERE client_id = $1 \
                   UNION SELECT tp2.account_id FROM thread_participants tp1 JOIN thread_participants tp2 ON tp2.thread_id = tp1.thread_id \
                     WHERE tp1.account_id = $1 AND tp2.account_id <> $1 \
                   UNION SELECT subject_id FROM reviews WHERE author_id = $1 \
                   UNION SELECT author_id FROM reviews WHERE subject_id = $1 \
                 ) people",
                hiatus_store::args![member.clone()],
            )
            .await?;
        let pseudonym = row.pseudonym.clone().unwrap_or_default();
        let mut summary = plan_sentences(&items, Some(&pseudonym), counterparties, false);
        let _ = now;
        let unreadable_everywhere_at = self.unreadable_everywhere_from(row.due_at);
        summary.push(self.copies_sentence(row.due_at, false));
        Ok(ErasurePlan {
            account_id: account,
            pseudonym,
            due_at: (row.status == "scheduled").then_some(row.due_at),
            counterparties,
            items,
            summary,
            unreadable_everywhere_at,
        })
    }

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
        match row.status.as_str() {
            "done" => return Ok(EraseOutcome::Done),
            "cancelled" => return Ok(EraseOutcome::NotDue),
            "scheduled" if row.due_at > now && !opts.ignore_grace => {
                return Ok(EraseOutcome::NotDue);
            }
            _ => {}
        }
        if !erasures::lease(&self.db, account, holder, now, self.config.job_lease).await? {
            // Cancelled or finished in the meantime, or another executor holds it.
            let mut tx = self.db.read().await?;
            let status = erasures::get(&mut tx, account).await?.map(|r| r.status);
            tx.commit().await?;
            return Ok(match status.as_deref() {
                Some("done") => EraseOutcome::Done,
                Some("scheduled" | "running") => EraseOutcome::Busy,
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
            if row.status == "scheduled" {
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
            } else if row.status == "running" {
                tx.commit().await?;
                row
            } else {
                // Cancelled (or finished by another executor) since the lease was taken.
                erasures::release(&mut tx, account, holder).await?;
                tx.commit().await?;
                return Ok(if row.status == "done" {
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
                let held = tx
                    .exec(
                        "UPDATE erasures SET locked_until = $3 WHERE account_id = $1 AND locked_by = $2 AND status = 'running'",
                        hiatus_store::args![member.clone(), holder.to_string(), now + self.config.job_lease],
                    )
                    .await?;
                if held != 1 {
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
                &NewJob {
                    kind: JOB_PURGE.into(),
                    payload: json!({"pseudonym_id": pseudonym}),
                    run_at: at.max(now),
                    dedupe_key: Some(format!("{JOB_PURGE}:{pseudonym}:{at}")),
                    max_attempts: 20,
                },
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

    /// When the next retention period of a pseudonym's records ends (rows to purge, or the
    /// last record that needs the retained identity), and whether the identity is still
    /// needed now.
    async fn next_retention_event(
        &self,
        tx: &mut Tx,
        pseudonym: &str,
        now: Micros,
    ) -> ServiceResult<(Option<Micros>, bool)> {
        let mut next: Option<Micros> = None;
        let mut identity_needed = false;
        for rule in self.erasure_rules() {
            let Some(r) = &rule.retention else { continue };
            let Some(start) = erasures::next_purge(tx, rule, pseudonym).await? else {
                continue;
            };
            let at = add_years(start, r.years);
            let rows = rule.purge_sql.is_some();
            if at > now || rows {
                next = Some(next.map_or(at, |x| x.min(at)));
            }
            if r.identity && at > now {
                identity_needed = true;
            }
        }
        Ok((next, identity_needed))
    }

    /// Purges a pseudonym's retained records whose retention has ended, destroys the
    /// retained identity when nothing needs it any more, and schedules the next purge.
    pub async fn purge_retained(&self, pseudonym: &str) -> ServiceResult<u64> {
        let now = self.now();
        let mut purged = 0;
        for rule in self.erasure_rules() {
            let Some(r) = &rule.retention else { continue };
            let cutoff = sub_years(now, r.years);
            loop {
                let mut tx = self.db.begin().await?;
                let n = erasures::purge_batch(&mut tx, rule, pseudonym, cutoff).await?;
                tx.commit().await?;
                purged += n;
                if n < BATCH as u64 {
                    break;
                }
            }
        }
        let mut tx = self.db.begin().await?;
        let (next, identity_needed) = self.next_retention_event(&mut tx, pseudonym, now).await?;
        if !identity_needed {
            erasures::drop_retained_identity(&mut tx, pseudonym).await?;
        }
        if let Some(at) = next {
            jobs::enqueue(
                &mut tx,
                &NewJob {
                    kind: JOB_PURGE.into(),
                    payload: json!({"pseudonym_id": pseudonym}),
                    run_at: at.max(now + 1),
                    dedupe_key: Some(format!("{JOB_PURGE}:{pseudonym}:{at}")),
                    max_attempts: 20,
                },
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(purged)
    }
}

/// How a person appears to someone who shares records with them.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PersonCard {
    pub id: AccountId,
    /// Their display name, or for an erased member their pseudonym.
    pub name: String,
    /// True for the pseudonym of an erased member.
    pub former_member: bool,
}

impl Hiatus {
    /// The name to show for a person in records the caller shares with them (contracts,
    /// threads, reviews). Erased members appear by their pseudonym. People the caller shares
    /// nothing with are "not found", like missing ones.
    pub async fn person(&self, actor: &Actor, id: AccountId) -> ServiceResult<PersonCard> {
        let mut tx = self.db.read().await?;
        let me = actor.account.to_text();
        let them = id.to_text();
        let shared: i64 = if me == them {
            1
        } else {
            tx.scalar(
                "SELECT (SELECT COUNT(*) FROM contracts WHERE (client_id = $1 AND freelancer_id = $2) OR (client_id = $2 AND freelancer_id = $1)) \
                 + (SELECT COUNT(*) FROM thread_participants a JOIN thread_participants b ON b.thread_id = a.thread_id WHERE a.account_id = $1 AND b.account_id = $2) \
                 + (SELECT COUNT(*) FROM reviews WHERE (author_id = $2 AND subject_id = $1) OR (author_id = $1 AND subject_id = $2))",
                hiatus_store::args![me, them.clone()],
            )
            .await?
        };
        if shared == 0 {
            return Err(ServiceError::NotFound("person"));
        }
        let card = match erasures::pseudonym_of(&mut tx, &them).await? {
            Some(label) => PersonCard {
                id,
                name: label,
                former_member: true,
            },
            None => {
                let acct = accounts::get(&mut tx, id).await?;
                let name = if acct.state()? == AccountState::Deleted {
                    crate::FORMER_MEMBER.to_string()
                } else {
                    accounts::profile(&mut tx, &self.keys, id)
                        .await?
                        .display_name
                };
                PersonCard {
                    id,
                    name,
                    former_member: false,
                }
            }
        };
        tx.commit().await?;
        Ok(card)
    }
}

impl Hiatus {
    /// Checks that an erased account left nothing behind in the database: the erasure
    /// finished, the tombstone holds no contact detail, secret or key, and no column of any
    /// table refers to the old id except the tombstone itself, its erasure row and job, and
    /// the events that record the erasure (and their webhook deliveries); and no export archive,
    /// finished or partial, of the member (or of no export at all) is left in the files folder
    /// or the object store. Returns the problems found (none: all clear).
    pub async fn verify_erasure(&self, account: AccountId) -> ServiceResult<Vec<String>> {
        let old = account.to_text();
        let mut problems = Vec::new();
        let mut tx = self.db.read().await?;
        match erasures::get(&mut tx, account).await? {
            None => problems.push("the account was never scheduled for deletion".to_string()),
            Some(r) if r.status != "done" => {
                problems.push(format!("erasure has not finished (status {})", r.status))
            }
            Some(r) if r.pseudonym.is_some() || r.pseudonym_id.is_some() => {
                problems.push("the erasure row still links the account to its pseudonym".into())
            }
            Some(_) => {}
        }
        let left: i64 = tx
            .scalar(
                "SELECT COUNT(*) FROM accounts WHERE id = $1 AND (state <> 'deleted' OR email_enc IS NOT NULL OR legal_name_enc IS NOT NULL \
                 OR phone_enc IS NOT NULL OR data_key_wrapped IS NOT NULL OR password_hash IS NOT NULL OR totp_secret_enc IS NOT NULL)",
                hiatus_store::args![old.clone()],
            )
            .await?;
        if left > 0 {
            problems.push("the tombstone still holds contact details, secrets or its key".into());
        }
        tx.commit().await?;
        let schema = hiatus_store::policy::live_schema(&self.db).await?;
        let pattern = format!("%{old}%");
        let mut tx = self.db.read().await?;
        for (table, cols) in &schema {
            if self.config.policy.system.tables.contains(table)
                || !hiatus_store::policy::is_ident(table)
            {
                continue;
            }
            for col in cols.iter().filter(|c| hiatus_store::policy::is_ident(c)) {
                let allowed = match (table.as_str(), col.as_str()) {
                    ("accounts", "id") | ("erasures", "account_id") => continue,
                    ("audit_events", _) => " AND action <> 'account.erased'",
                    ("outbox" | "webhook_deliveries", _) => {
                        " AND event NOT IN ('account.deleted', 'account.erased')"
                    }
                    // The last mail, "your account was erased", goes to the tombstone.
                    ("mail_deliveries", _) => " AND kind <> 'account.erased'",
                    // The erasure's own job names the tombstone, like the erasure row.
                    ("jobs", _) => " AND kind <> 'account.erase'",
                    _ => "",
                };
                let sql = format!(
                    "SELECT COUNT(*) FROM {table} WHERE CAST({col} AS TEXT) LIKE $1{allowed}"
                );
                let n: i64 = tx
                    .scalar_dyn(&sql, hiatus_store::args![pattern.clone()])
                    .await?;
                if n > 0 {
                    problems.push(format!(
                        "{table}.{col}: {n} row(s) still refer to the erased account"
                    ));
                }
            }
        }
        tx.commit().await?;
        // Files outside the database: export archives, finished or partial.
        problems.extend(self.export_files_left(account).await?);
        if !self.db.checkpoint_wal().await? {
            problems.push(
                "the SQLite write-ahead log could not be emptied (readers kept it busy); run again"
                    .into(),
            );
        }
        Ok(problems)
    }
}

/// The plan in sentences, present tense ("are deleted") or past tense for the receipt.
pub fn plan_sentences(
    items: &[PlanItem],
    pseudonym: Option<&str>,
    counterparties: i64,
    past: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    // The receipt kept after erasure does not name the pseudonym (nothing links the two).
    let under = match pseudonym {
        Some(p) => format!("\u{201c}{p}\u{201d}"),
        None => "your pseudonym".to_string(),
    };
    // Retention is still running when the receipt is written: "are kept until" either way.
    let (stay, are, were, is) = if past {
        ("stayed", "are", "were", "is")
    } else {
        ("stay", "are", "are", "is")
    };
    if counterparties > 0 {
        out.push(format!(
            "{} {} you worked with {} their records of your work together, where you appear under {under}.",
            thousands(counterparties),
            if counterparties == 1 { "person" } else { "people" },
            match (past, counterparties == 1) {
                (true, _) => "kept",
                (false, true) => "keeps",
                (false, false) => "keep",
            }
        ));
    }
    for i in items.iter().filter(|i| i.count > 0 && i.in_summary) {
        let n = thousands(i.count);
        let single = i.count == 1 && !i.what_one.is_empty();
        let what = if single { &i.what_one } else { &i.what };
        let (stay, are, were) = if single {
            (
                if past { "stayed" } else { "stays" },
                "is",
                if past { "was" } else { "is" },
            )
        } else {
            (stay, are, were)
        };
        let line = match i.action {
            Action::Pseudonymize => {
                format!("{n} {what} {stay} visible to the people involved, under {under}.",)
            }
            Action::Retain if i.kept_by_others => format!(
                "{n} {what} {stay} with the people involved under {under}; your legal name on {} {is} kept until {} for {}, then deleted.",
                if single { "it" } else { "them" },
                i.retained_until.map(format_date).unwrap_or_default(),
                i.basis.as_deref().unwrap_or("a legal obligation")
            ),
            Action::Retain => format!(
                "{n} {what} {are} kept until {} for {}, then deleted.",
                i.retained_until.map(format_date).unwrap_or_default(),
                i.basis.as_deref().unwrap_or("a legal obligation")
            ),
            Action::Delete => format!("{n} {what} {were} deleted."),
            Action::Redact => continue,
        };
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_dates_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(1_000_000), "1,000,000");
        let leap = jiff::Timestamp::from_second(1_709_164_800).unwrap(); // 2024-02-29
        let t = add_years(leap.as_microsecond(), 7);
        assert_eq!(format_date(t), "2031-02-28");
        assert_eq!(sub_years(add_years(1_000_000, 2), 2), 1_000_000);
    }

    #[test]
    fn pseudonyms_are_random_and_say_who() {
        let a = pseudonym_label(AccountKind::Freelancer, 6);
        let b = pseudonym_label(AccountKind::Freelancer, 6);
        assert!(a.starts_with("Former freelancer #") && a.len() == "Former freelancer #".len() + 6);
        assert_ne!(a, b);
        assert!(pseudonym_label(AccountKind::Client, 6).starts_with("Former client #"));
    }

    #[test]
    fn the_plan_reads_as_sentences() {
        let items = vec![
            PlanItem {
                table: "messages".into(),
                what: "messages you wrote".into(),
                action: Action::Pseudonymize,
                count: 1204,
                retained_until: None,
                basis: None,
                kept_by_others: false,
                in_summary: true,
                what_one: String::new(),
            },
            PlanItem {
                table: "invoices".into(),
                what: "invoices you issued".into(),
                action: Action::Retain,
                count: 38,
                retained_until: Some(add_years(0, 63)),
                basis: Some("tax and bookkeeping law".into()),
                kept_by_others: false,
                in_summary: true,
                what_one: String::new(),
            },
            PlanItem {
                table: "files".into(),
                what: "private files".into(),
                action: Action::Delete,
                count: 0,
                retained_until: None,
                basis: None,
                kept_by_others: false,
                in_summary: true,
                what_one: String::new(),
            },
        ];
        let s = plan_sentences(&items, Some("Former freelancer #7F3A2C"), 7, false);
        assert_eq!(s.len(), 3, "{s:?}");
        assert!(s[0].starts_with("7 people"));
        assert!(
            s[1].contains("1,204 messages you wrote stay visible")
                && s[1].contains("Former freelancer #7F3A2C")
        );
        assert!(
            s[2].contains(
                "38 invoices you issued are kept until 2033-01-01 for tax and bookkeeping law"
            ),
            "{}",
            s[2]
        );
    }
}
