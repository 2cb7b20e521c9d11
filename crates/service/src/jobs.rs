//! The kinds of background job, as one type: what the use cases enqueue and what the worker
//! runs. A job is stored as its kind (a stable name) and a JSON payload; [`Job::parse`] reads
//! both back, so a handler gets typed fields instead of looking them up by name.

use crate::error::{ServiceError, ServiceResult};
use hiatus_domain::{AccountId, Micros, PayoutId};
use hiatus_store::jobs::NewJob;
use serde_json::{Value, json};

/// A background job and its payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Job {
    /// Ends a member's break on its date (`until` is the date the break was set to end).
    EndBreak { account: AccountId, until: Micros },
    /// Reminds a member that their break ends soon.
    RemindBreak { account: AccountId, until: Micros },
    /// Settles a payout on its date.
    SettlePayout { payout: PayoutId },
    /// Builds a requested export archive.
    BuildExport { export_id: String },
    /// Reminds a member that their export's download link expires soon.
    RemindExport { export_id: String },
    /// Deletes an export archive when its link expires.
    ExpireExport { export_id: String },
    /// Erases an account whose grace period has ended.
    Erase { account: AccountId },
    /// Reminds a member `days` days before their scheduled deletion (`due_at`).
    RemindDeletion {
        account: AccountId,
        due_at: Micros,
        days: i64,
    },
    /// Sends the farewell notices a leaving member wrote to their clients.
    NotifyClients { account: AccountId },
    /// Deletes what was retained under a pseudonym once its retention period ends.
    Purge { pseudonym: String },
}

impl Job {
    pub const END_BREAK: &str = "break.end";
    pub const REMIND_BREAK: &str = "break.remind";
    pub const SETTLE_PAYOUT: &str = "payout.settle";
    pub const BUILD_EXPORT: &str = "export.build";
    pub const REMIND_EXPORT: &str = "export.remind";
    pub const EXPIRE_EXPORT: &str = "export.expire";
    pub const ERASE: &str = "account.erase";
    pub const REMIND_DELETION: &str = "deletion.remind";
    pub const NOTIFY_CLIENTS: &str = "clients.notify";
    pub const PURGE: &str = "retention.purge";

    /// Every kind, for documentation and checks.
    pub const KINDS: [&str; 10] = [
        Self::END_BREAK,
        Self::REMIND_BREAK,
        Self::SETTLE_PAYOUT,
        Self::BUILD_EXPORT,
        Self::REMIND_EXPORT,
        Self::EXPIRE_EXPORT,
        Self::ERASE,
        Self::REMIND_DELETION,
        Self::NOTIFY_CLIENTS,
        Self::PURGE,
    ];

    /// The stable stored name of this job's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::EndBreak { .. } => Self::END_BREAK,
            Job::RemindBreak { .. } => Self::REMIND_BREAK,
            Job::SettlePayout { .. } => Self::SETTLE_PAYOUT,
            Job::BuildExport { .. } => Self::BUILD_EXPORT,
            Job::RemindExport { .. } => Self::REMIND_EXPORT,
            Job::ExpireExport { .. } => Self::EXPIRE_EXPORT,
            Job::Erase { .. } => Self::ERASE,
            Job::RemindDeletion { .. } => Self::REMIND_DELETION,
            Job::NotifyClients { .. } => Self::NOTIFY_CLIENTS,
            Job::Purge { .. } => Self::PURGE,
        }
    }

    /// The stored payload: ids and dates only, never personal data.
    pub fn payload(&self) -> Value {
        match self {
            Job::EndBreak { account, until } | Job::RemindBreak { account, until } => {
                json!({"account_id": account, "until": until})
            }
            Job::SettlePayout { payout } => json!({"payout_id": payout}),
            Job::BuildExport { export_id }
            | Job::RemindExport { export_id }
            | Job::ExpireExport { export_id } => json!({"export_id": export_id}),
            Job::Erase { account } | Job::NotifyClients { account } => {
                json!({"account_id": account})
            }
            Job::RemindDeletion {
                account,
                due_at,
                days,
            } => json!({"account_id": account, "due_at": due_at, "days": days}),
            Job::Purge { pseudonym } => json!({"pseudonym_id": pseudonym}),
        }
    }

    /// The job to enqueue: run at `run_at`, at most one queued per `dedupe_key`.
    pub fn to_new(&self, run_at: Micros, dedupe_key: Option<String>, max_attempts: i64) -> NewJob {
        NewJob {
            kind: self.kind().into(),
            payload: self.payload(),
            run_at,
            dedupe_key,
            max_attempts,
        }
    }

    /// Reads a stored job back. An unknown kind or a payload missing a field is a clear error
    /// (the job fails and is retried, then given up), never a panic.
    pub fn parse(kind: &str, payload: &str) -> ServiceResult<Job> {
        let p: Value = serde_json::from_str(payload)
            .map_err(|e| ServiceError::invalid("job_payload", e.to_string()))?;
        Ok(match kind {
            Self::END_BREAK => Job::EndBreak {
                account: text(&p, "account_id")?,
                // Older rows may lack it: the handler does not need it.
                until: p["until"].as_i64().unwrap_or(0),
            },
            Self::REMIND_BREAK => Job::RemindBreak {
                account: text(&p, "account_id")?,
                until: int(&p, "until")?,
            },
            Self::SETTLE_PAYOUT => Job::SettlePayout {
                payout: text(&p, "payout_id")?,
            },
            Self::BUILD_EXPORT => Job::BuildExport {
                export_id: text(&p, "export_id")?,
            },
            Self::REMIND_EXPORT => Job::RemindExport {
                export_id: text(&p, "export_id")?,
            },
            Self::EXPIRE_EXPORT => Job::ExpireExport {
                export_id: text(&p, "export_id")?,
            },
            Self::ERASE => Job::Erase {
                account: text(&p, "account_id")?,
            },
            Self::REMIND_DELETION => Job::RemindDeletion {
                account: text(&p, "account_id")?,
                due_at: int(&p, "due_at")?,
                days: p["days"].as_i64().unwrap_or(0),
            },
            Self::NOTIFY_CLIENTS => Job::NotifyClients {
                account: text(&p, "account_id")?,
            },
            Self::PURGE => Job::Purge {
                pseudonym: text(&p, "pseudonym_id")?,
            },
            other => {
                return Err(ServiceError::invalid(
                    "job_kind",
                    format!("no handler for job kind {other}"),
                ));
            }
        })
    }
}

fn text<T: std::str::FromStr>(payload: &Value, name: &str) -> ServiceResult<T> {
    payload
        .get(name)
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ServiceError::invalid("job_payload", format!("job payload lacks {name}")))
}

fn int(payload: &Value, name: &str) -> ServiceResult<i64> {
    payload
        .get(name)
        .and_then(|v| v.as_i64())
        .ok_or_else(|| ServiceError::invalid("job_payload", format!("job payload lacks {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every() -> Vec<Job> {
        let account = AccountId::new();
        vec![
            Job::EndBreak {
                account,
                until: 1_700_000_000_000_000,
            },
            Job::RemindBreak {
                account,
                until: 1_700_000_000_000_001,
            },
            Job::SettlePayout {
                payout: PayoutId::new(),
            },
            Job::BuildExport {
                export_id: "e1".into(),
            },
            Job::RemindExport {
                export_id: "e2".into(),
            },
            Job::ExpireExport {
                export_id: "e3".into(),
            },
            Job::Erase { account },
            Job::RemindDeletion {
                account,
                due_at: 42,
                days: 7,
            },
            Job::NotifyClients { account },
            Job::Purge {
                pseudonym: "p-1".into(),
            },
        ]
    }

    #[test]
    fn every_job_reads_back_as_itself() {
        let jobs = every();
        let kinds: std::collections::BTreeSet<_> = jobs.iter().map(Job::kind).collect();
        assert_eq!(kinds.len(), Job::KINDS.len(), "one example per kind");
        for job in jobs {
            let stored = job.to_new(0, None, 3);
            let back = Job::parse(&stored.kind, &stored.payload.to_string()).unwrap();
            assert_eq!(back, job);
        }
    }

    #[test]
    fn unknown_kinds_and_missing_fields_are_errors() {
        let e = Job::parse("nope", "{}").unwrap_err();
        assert_eq!(e.code(), "job_kind");
        let e = Job::parse(Job::ERASE, "{}").unwrap_err();
        assert_eq!(e.code(), "job_payload");
        let e = Job::parse(Job::ERASE, "not json").unwrap_err();
        assert_eq!(e.code(), "job_payload");
        let e = Job::parse(Job::ERASE, r#"{"account_id":"not-a-uuid"}"#).unwrap_err();
        assert_eq!(e.code(), "job_payload");
    }

    #[test]
    fn payloads_keep_the_stored_field_names() {
        // Rows queued by earlier versions must still run: the names are part of the format.
        let a = AccountId::new();
        let p = Job::RemindDeletion {
            account: a,
            due_at: 5,
            days: 3,
        }
        .payload();
        assert_eq!(
            p,
            json!({"account_id": a.to_text(), "due_at": 5, "days": 3})
        );
        let p = Job::Purge {
            pseudonym: "x".into(),
        }
        .payload();
        assert_eq!(p, json!({"pseudonym_id": "x"}));
    }
}
