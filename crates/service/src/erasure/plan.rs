//! The erasure plan: what deletion will do to each kind of record, in numbers and in words.

use super::*;
use crate::Actor;
use crate::clock::format_date;
use crate::error::{ServiceError, ServiceResult};
use hiatus_store::erasures::{self, ErasureRow};
use hiatus_store::{Tx, accounts, market};

impl Hiatus {
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

    pub(super) async fn plan_in(
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
        let counterparties = market::counterparty_count(tx, account).await?;
        let pseudonym = row.pseudonym.clone().unwrap_or_default();
        let mut summary = plan_sentences(&items, Some(&pseudonym), counterparties, false);
        let _ = now;
        let unreadable_everywhere_at = self.unreadable_everywhere_from(row.due_at);
        summary.push(self.copies_sentence(row.due_at, false));
        Ok(ErasurePlan {
            account_id: account,
            pseudonym,
            // A plan before scheduling stands on a row that is not stored (status "none").
            due_at: (row.stage().ok() == Some(hiatus_domain::ErasureStatus::Scheduled))
                .then_some(row.due_at),
            counterparties,
            items,
            summary,
            unreadable_everywhere_at,
        })
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
            hiatus_domain::fmt::thousands(counterparties),
            if counterparties == 1 { "person" } else { "people" },
            match (past, counterparties == 1) {
                (true, _) => "kept",
                (false, true) => "keeps",
                (false, false) => "keep",
            }
        ));
    }
    for i in items.iter().filter(|i| i.count > 0 && i.in_summary) {
        let n = hiatus_domain::fmt::thousands(i.count);
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
