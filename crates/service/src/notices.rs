//! Telling regular clients (§4 step 4): the member sees their regular clients with the facts
//! that make each one regular, preselected, and sends them a farewell or away message with an
//! optional forwarding contact. Each goes into the thread the two already share (a new thread
//! when there is none) and by email. A job delivers the notices; each notice is one
//! transaction (the message, whose id is the notice's, the email queued, the notice marked
//! sent), so a worker killed at any point and restarted delivers each exactly once in the app,
//! and at least once by email with the same idempotency key.

use crate::error::{ServiceError, ServiceResult};
use crate::jobs::Job;
use crate::{Actor, Hiatus, check_text};
use hiatus_domain::regular::RegularBecause;
use hiatus_domain::*;
use hiatus_store::audit::{self, NewAuditEvent};
use hiatus_store::jobs;
use hiatus_store::{accounts, facts, market, notices};
use serde::Serialize;
use serde_json::json;

/// A regular client, with why they count as one.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RegularClientView {
    pub id: AccountId,
    pub name: String,
    pub because: RegularBecause,
    /// Whether they were already told.
    pub told: bool,
}

/// What to send.
#[derive(Clone, Debug)]
pub struct TellClients {
    /// Which regular clients; none means all of them.
    pub clients: Option<Vec<AccountId>>,
    pub message: String,
    /// Where clients can reach the member instead (an email, a website), if they want.
    pub forwarding: Option<String>,
}

impl Hiatus {
    /// The caller's regular clients, most contracts first.
    pub async fn regular_clients(&self, actor: &Actor) -> ServiceResult<Vec<RegularClientView>> {
        let now = self.now();
        let mut tx = self.db.read().await?;
        let rows =
            facts::regular_clients(&mut tx, actor.account, &self.config.regular_clients, now)
                .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let name = match accounts::profile(&mut tx, &self.keys, r.client_id).await {
                Ok(p) => p.display_name,
                Err(_) => crate::FORMER_MEMBER.into(),
            };
            out.push(RegularClientView {
                id: r.client_id,
                name,
                because: r.because,
                told: r.told,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Queues a notice to each chosen regular client (all of them by default); a job delivers
    /// them. Returns the clients who will be told.
    pub async fn tell_clients(
        &self,
        actor: &Actor,
        req: TellClients,
    ) -> ServiceResult<Vec<AccountId>> {
        check_text("message", &req.message, 5_000, true)?;
        if let Some(f) = &req.forwarding {
            check_text("forwarding", f, 300, true)?;
        }
        if actor.state == AccountState::Deleted {
            return Err(ServiceError::from(TransitionError::Deleted));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let regular: Vec<AccountId> =
            facts::regular_clients(&mut tx, actor.account, &self.config.regular_clients, now)
                .await?
                .into_iter()
                .map(|r| r.client_id)
                .collect();
        let chosen = match &req.clients {
            None => regular.clone(),
            Some(list) => {
                if let Some(bad) = list.iter().find(|c| !regular.contains(c)) {
                    return Err(ServiceError::invalid(
                        "not_a_regular_client",
                        format!("{bad} is not one of your regular clients"),
                    ));
                }
                let mut l = list.clone();
                l.sort_by_key(|a| a.to_text());
                l.dedup();
                l
            }
        };
        if chosen.is_empty() {
            return Err(ServiceError::invalid(
                "no_clients",
                "you have no regular clients to tell",
            ));
        }
        for c in &chosen {
            let id = MessageId::new().to_text();
            notices::queue(
                &mut tx,
                &self.keys,
                actor.account,
                *c,
                &id,
                &req.message,
                req.forwarding.as_deref(),
                now,
            )
            .await?;
        }
        jobs::enqueue(
            &mut tx,
            &Job::NotifyClients {
                account: actor.account,
            }
            .to_new(now, None, 10),
            now,
        )
        .await?;
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(
                actor.account,
                "clients.told",
                json!({"clients": chosen.len(), "forwarding": req.forwarding.is_some()}),
                now,
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(chosen)
    }

    /// Delivers a member's pending notices (the job). Idempotent.
    pub async fn deliver_client_notices(&self, member: AccountId) -> ServiceResult<usize> {
        let mut tx = self.db.read().await?;
        // Erased meanwhile (the key is gone with the profile): nothing to deliver.
        let Ok(pending) = notices::pending(&mut tx, &self.keys, member).await else {
            return Ok(0);
        };
        if accounts::profile(&mut tx, &self.keys, member)
            .await
            .is_err()
        {
            return Ok(0);
        }
        tx.commit().await?;
        let mut n = 0;
        for p in pending {
            let client: AccountId = p
                .client_id
                .parse()
                .map_err(|_| ServiceError::NotFound("client"))?;
            let message_id: MessageId =
                p.id.parse().map_err(|_| ServiceError::NotFound("notice"))?;
            let now = self.now();
            let mut tx = self.db.begin().await?;
            if !notices::message_exists(&mut tx, &p.id).await? {
                let thread = match notices::shared_thread(&mut tx, member, client).await? {
                    Some(t) => t.parse().map_err(|_| ServiceError::NotFound("thread"))?,
                    None => {
                        // The subject names the member by reference, so it shows their
                        // current name, and the pseudonym once they are erased.
                        let t = Thread {
                            id: ThreadId::new(),
                            contract_id: None,
                            subject: format!("A message from {}", market::NAMED),
                            participants: vec![member, client],
                            created_at: now,
                            last_message_at: now,
                            named: Some(member),
                        };
                        market::create_thread_naming(&mut tx, &t, Some(member)).await?;
                        t.id
                    }
                };
                let body = match &p.forwarding {
                    Some(f) => format!("{}\n\nYou can reach me here: {f}", p.message),
                    None => p.message.clone(),
                };
                market::post_message(
                    &mut tx,
                    &Message {
                        id: message_id,
                        thread_id: thread,
                        author_id: member,
                        body,
                        created_at: now,
                    },
                )
                .await?;
                if self.mail_enabled() {
                    // Ids only: the sender's name and the message (with the forwarding
                    // contact) are read when the mail is sent, from the sealed profile and
                    // the message posted above, whose id is the mail's event id.
                    hiatus_store::mail::queue(
                        &mut tx,
                        &p.id,
                        &client.to_text(),
                        "client.notice",
                        false,
                        &json!({
                            "from_account": member,
                            "thread_id": thread,
                        }),
                        now,
                    )
                    .await?;
                }
                accounts::touch_data(&mut tx, &[&member, &client], now).await?;
            }
            notices::delivered(&mut tx, member, &p.id, now).await?;
            tx.commit().await?;
            n += 1;
        }
        Ok(n)
    }
}
