//! Restoration through support, for members who lost their credentials (PRODUCT.md §8): a
//! request names the address on file; a one-time code goes to that address; once the requester
//! types it back, a support agent approves or denies; an approval mails a single-use
//! password-reset link. Every step is audited and announced in the outbox
//! (`restoration.requested`, `restoration.approved`, `restoration.denied`,
//! `account.password_changed`). Never possible after erasure: an erased account has no address
//! on file, and its requests are deleted with it.
//!
//! A requester learns nothing about which addresses have accounts: a request for an unknown
//! (or erased, or never confirmed) address is stored and answered exactly like any other, and
//! simply never receives a code.

mod reset;
mod support;

pub use support::QueueItem;

use crate::error::{ServiceError, ServiceResult};
use crate::{Hiatus, check_text, link_token};
use hiatus_domain::{AccountId, AccountState, DAY_MICROS, Email, Micros, Role};
use hiatus_store::accounts;
use hiatus_store::audit::{self, NewAuditEvent};
use hiatus_store::restorations::{self, NewRestoration, RestorationRow};
use serde::Serialize;
use serde_json::json;

/// How long a request stays open.
pub const REQUEST_TTL: Micros = 7 * DAY_MICROS;
/// How long a mailed code works.
pub const CODE_TTL: Micros = 30 * 60 * 1_000_000;
/// Wrong codes before a request is closed to further attempts.
pub const MAX_CODE_ATTEMPTS: i64 = 5;
/// How long a password-reset link works.
pub const RESET_TTL: Micros = DAY_MICROS;
/// Requests per account and day that get a code; more are answered alike but get none.
pub const REQUESTS_PER_DAY: i64 = 3;

/// What the requester gets back: the request and the secret that lets them follow it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RestorationTicket {
    pub id: String,
    /// Shown once; needed to enter the code and to see the status.
    pub token: String,
    pub status: String,
    pub expires_at: Micros,
}

/// A request as its requester sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RestorationStatus {
    pub id: String,
    /// `awaiting_code`, `verified` (waiting for support), `approved`, `denied` or `expired`.
    pub status: String,
    pub created_at: Micros,
    pub expires_at: Micros,
    pub verified_at: Option<Micros>,
    pub decided_at: Option<Micros>,
    /// The agent's note, once decided.
    pub note: Option<String>,
    /// Wrong codes still allowed.
    pub attempts_left: i64,
    /// What happens next, in a sentence.
    pub next: String,
}

fn effective_status(r: &RestorationRow, now: Micros) -> String {
    if matches!(r.status.as_str(), "awaiting_code" | "verified") && r.expires_at <= now {
        "expired".into()
    } else {
        r.status.clone()
    }
}

fn next_step(status: &str) -> &'static str {
    match status {
        "awaiting_code" => {
            "If the address has an account that can be restored, a code was sent to it: enter it here within 30 minutes."
        }
        "verified" => "The code is confirmed. A support agent will look at the request.",
        "approved" => "Approved: a link to choose a new password was sent to the address on file.",
        "denied" => "Support could not restore the account; the note says why.",
        _ => "This request has ended. You can make a new one.",
    }
}

fn code_purpose(id: &str) -> String {
    format!("restoration code {id}")
}

fn not_open(status: &str) -> ServiceError {
    match status {
        "expired" => ServiceError::Gone {
            code: "request_expired",
            message: "this request has expired; make a new one".into(),
        },
        "verified" => ServiceError::conflict(
            "already_verified",
            "the code was already confirmed; the request waits for support",
        ),
        _ => ServiceError::conflict(
            "request_closed",
            format!("this request is {status} and cannot change any more"),
        ),
    }
}

impl Hiatus {
    /// Asks support to restore the account of `email` (no login needed). The answer is the
    /// same whether or not the address has an account.
    pub async fn request_restoration(
        &self,
        email: &str,
        explanation: &str,
    ) -> ServiceResult<RestorationTicket> {
        let email = Email::parse(email)
            .map_err(|e| ServiceError::invalid("invalid_email", e.to_string()))?;
        check_text("explanation", explanation, 2000, false)?;
        let now = self.now();
        let id = link_token::new();
        let token = link_token::new();
        let mut tx = self.db.begin().await?;
        let found = accounts::find_by_email(&mut tx, &self.keys, &email).await?;
        let mut account: Option<AccountId> = None;
        if let Some(a) = found
            && a.state()? != AccountState::Deleted
            && a.role()? == Role::Member
            // An account whose address was never confirmed has nothing to restore: its
            // address is answered like one without an account.
            && !hiatus_store::signup_confirmations::is_pending(&mut tx, &a.id).await?
        {
            let aid = a.account_id()?;
            let recent =
                restorations::count_since(&mut tx, &aid.to_text(), now - DAY_MICROS).await?;
            if recent < REQUESTS_PER_DAY {
                account = Some(aid);
            }
        }
        let explanation_enc = match account {
            Some(aid) if !explanation.trim().is_empty() => {
                let acct = accounts::get(&mut tx, aid).await?;
                let dk = acct.data_key(&self.keys)?;
                Some(dk.seal_field(
                    "restoration_requests",
                    "explanation",
                    &id,
                    explanation.trim(),
                ))
            }
            _ => None,
        };
        let aid_text = account.map(|a| a.to_text());
        restorations::insert(
            &mut tx,
            NewRestoration {
                id: &id,
                account_id: aid_text.as_deref(),
                token_hash: restorations::hash("restoration token", &token),
                explanation_enc,
                now,
                expires_at: now + REQUEST_TTL,
            },
        )
        .await?;
        if let Some(aid) = account {
            audit::record_event(
                &mut tx,
                NewAuditEvent {
                    account: Some(aid),
                    actor: None,
                    action: "restoration.requested",
                    reason: None,
                    detail: json!({"request_id": id}),
                    now,
                },
                json!({"account_id": aid, "request_id": id}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(RestorationTicket {
            id,
            token,
            status: "awaiting_code".into(),
            expires_at: now + REQUEST_TTL,
        })
    }

    async fn own_request(&self, id: &str, token: &str) -> ServiceResult<RestorationRow> {
        link_token::check(id, "restoration request")?;
        link_token::check(token, "restoration request")?;
        let mut tx = self.db.read().await?;
        let row = restorations::get(&mut tx, id).await?;
        tx.commit().await?;
        let row = row.ok_or(ServiceError::NotFound("restoration request"))?;
        let want = restorations::hash("restoration token", token);
        if !link_token::constant_time_eq(&row.token_hash, &want) {
            return Err(ServiceError::NotFound("restoration request"));
        }
        Ok(row)
    }

    fn status_of(&self, r: &RestorationRow) -> RestorationStatus {
        let status = effective_status(r, self.now());
        RestorationStatus {
            id: r.id.clone(),
            next: next_step(&status).into(),
            note: if matches!(status.as_str(), "approved" | "denied") {
                r.note(&self.keys).ok().flatten()
            } else {
                None
            },
            status,
            created_at: r.created_at,
            expires_at: r.expires_at,
            verified_at: r.verified_at,
            decided_at: r.decided_at,
            attempts_left: (MAX_CODE_ATTEMPTS - r.code_attempts).max(0),
        }
    }

    /// The status of a request, for whoever holds its token.
    pub async fn restoration_status(
        &self,
        id: &str,
        token: &str,
    ) -> ServiceResult<RestorationStatus> {
        let row = self.own_request(id, token).await?;
        Ok(self.status_of(&row))
    }

    /// Checks the code the requester typed back from the mail.
    pub async fn verify_restoration_code(
        &self,
        id: &str,
        token: &str,
        code: &str,
    ) -> ServiceResult<RestorationStatus> {
        let row = self.own_request(id, token).await?;
        let now = self.now();
        let status = effective_status(&row, now);
        if status != "awaiting_code" {
            return Err(not_open(&status));
        }
        // The attempt is taken (committed) before the code is compared, so however many
        // guesses arrive at once, at most MAX_CODE_ATTEMPTS are ever compared.
        let mut tx = self.db.begin().await?;
        let taken = restorations::take_attempt(&mut tx, id, MAX_CODE_ATTEMPTS).await?;
        tx.commit().await?;
        if !taken {
            return Err(ServiceError::Gone {
                code: "too_many_attempts",
                message: "too many wrong codes for this request; make a new one".into(),
            });
        }
        let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
        let good = row
            .code_hash
            .as_deref()
            .zip(row.code_expires_at)
            .is_some_and(|(h, until)| {
                until > now
                    && link_token::constant_time_eq(
                        h,
                        &restorations::hash(&code_purpose(id), &code),
                    )
            });
        if !good {
            let mut tx = self.db.read().await?;
            let used = restorations::get(&mut tx, id)
                .await?
                .map_or(MAX_CODE_ATTEMPTS, |r| r.code_attempts);
            tx.commit().await?;
            let left = (MAX_CODE_ATTEMPTS - used).max(0);
            return Err(ServiceError::invalid(
                "wrong_code",
                format!(
                    "that code is not right or has expired (codes work for 30 minutes; only the latest one counts); {left} attempt(s) left"
                ),
            ));
        }
        let mut tx = self.db.begin().await?;
        if !restorations::mark_verified(&mut tx, id, now).await? {
            return Err(not_open("closed"));
        }
        if let Some(aid) = row.account_id.as_deref().and_then(|a| a.parse().ok()) {
            audit::record(
                &mut tx,
                NewAuditEvent {
                    account: Some(aid),
                    actor: None,
                    action: "restoration.verified",
                    reason: None,
                    detail: json!({"request_id": id}),
                    now,
                },
            )
            .await?;
        }
        tx.commit().await?;
        self.restoration_status(id, token).await
    }

    /// Mints a fresh code for a request's mail; `None` when the request no longer waits for
    /// one. Only the latest code works.
    pub(crate) async fn mint_restoration_code(&self, id: &str) -> ServiceResult<Option<String>> {
        let n = u32::from_le_bytes(hiatus_store::crypto::random_bytes::<4>()) % 100_000_000;
        let code = format!("{n:08}");
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let ok = restorations::set_code(
            &mut tx,
            id,
            restorations::hash(&code_purpose(id), &code),
            now + CODE_TTL,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(ok.then_some(code))
    }
}
