//! Message threads and messages, with the away replies of deactivated members.

use super::*;
use hiatus_store::market;

impl Hiatus {
    /// Opens a thread with another member (optionally about a contract) with a first message.
    pub async fn start_thread(
        &self,
        actor: &Actor,
        with: AccountId,
        subject: &str,
        body: &str,
        contract: Option<ContractId>,
    ) -> ServiceResult<(Thread, Message)> {
        check_name("subject", subject, 200, true)?;
        check_text("body", body, 20_000, true)?;
        if !Effects::of(actor.state).send_messages {
            return Err(ServiceError::conflict(
                "messaging_read_only",
                "your account is read-only while deactivated; reactivate it to send messages",
            ));
        }
        if with == actor.account {
            return Err(ServiceError::invalid(
                "self_thread",
                "you cannot message yourself",
            ));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (state, _, settings) = self.member_state(&mut tx, with, "member").await?;
        self.reachable(&mut tx, actor, with, state, &settings, "member")
            .await?;
        if let Some(c) = contract {
            let c = self.party_contract(&mut tx, actor, c).await?;
            if c.client_id != with && c.freelancer_id != with {
                return Err(ServiceError::invalid(
                    "not_a_party",
                    "the other member is not party to that contract",
                ));
            }
        }
        let t = Thread {
            id: ThreadId::new(),
            contract_id: contract,
            subject: subject.to_string(),
            participants: vec![actor.account, with],
            created_at: now,
            last_message_at: now,
            named: None,
        };
        market::create_thread(&mut tx, &t).await?;
        let m = Message {
            id: MessageId::new(),
            thread_id: t.id,
            author_id: actor.account,
            body: body.to_string(),
            created_at: now,
        };
        market::post_message(&mut tx, &m).await?;
        accounts::touch_data(&mut tx, &[&actor.account, &with], now).await?;
        tx.commit().await?;
        Ok((t, m))
    }

    pub(super) async fn participant_thread(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        id: ThreadId,
    ) -> ServiceResult<Thread> {
        let mut t = market::thread(tx, id).await.map_err(not_found("thread"))?;
        if !t.participants.contains(&actor.account) {
            return Err(ServiceError::NotFound("thread"));
        }
        self.name_subject(tx, &mut t).await?;
        Ok(t)
    }

    /// Puts the current name of the person a thread's subject names into it: their display
    /// name, or their pseudonym once they are erased.
    pub(crate) async fn name_subject(&self, tx: &mut Tx, t: &mut Thread) -> ServiceResult<()> {
        if let Some(named) = t.named {
            let name = self.current_name(tx, named).await?;
            t.subject = t.subject.replace(market::NAMED, &name);
        }
        Ok(())
    }

    /// How a person is named today: by their display name, by their pseudonym once erased.
    pub(crate) async fn current_name(&self, tx: &mut Tx, id: AccountId) -> ServiceResult<String> {
        if let Some(label) = hiatus_store::erasures::pseudonym_of(tx, &id.to_text()).await? {
            return Ok(label);
        }
        Ok(match accounts::profile(tx, &self.keys, id).await {
            Ok(p) => p.display_name,
            Err(_) => crate::FORMER_MEMBER.to_string(),
        })
    }

    /// Posts a message to a thread the caller takes part in. Read-only while deactivated.
    pub async fn post_message(
        &self,
        actor: &Actor,
        thread: ThreadId,
        body: &str,
    ) -> ServiceResult<Message> {
        check_text("body", body, 20_000, true)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let t = self.participant_thread(&mut tx, actor, thread).await?;
        if !Effects::of(actor.state).send_messages {
            return Err(ServiceError::conflict(
                "messaging_read_only",
                "your account is read-only while deactivated; reactivate it to send messages",
            ));
        }
        let m = Message {
            id: MessageId::new(),
            thread_id: thread,
            author_id: actor.account,
            body: body.to_string(),
            created_at: now,
        };
        market::post_message(&mut tx, &m).await?;
        self.away_replies(&mut tx, actor.account, &t.participants, thread, now)
            .await?;
        let ids: Vec<&AccountId> = t.participants.iter().collect();
        accounts::touch_data(&mut tx, &ids, now).await?;
        tx.commit().await?;
        Ok(m)
    }

    /// The automatic away replies to a message: each other participant who is deactivated (or
    /// awaiting deletion) and set an away message answers with it, at most once per thread
    /// and calendar day (UTC).
    async fn away_replies(
        &self,
        tx: &mut hiatus_store::Tx,
        sender: AccountId,
        participants: &[AccountId],
        thread: ThreadId,
        now: Micros,
    ) -> ServiceResult<()> {
        let day_start = now - now.rem_euclid(DAY_MICROS);
        for p in participants.iter().filter(|p| **p != sender) {
            let acct = accounts::get(tx, *p).await?;
            if !matches!(
                acct.state()?,
                AccountState::Deactivated | AccountState::DeletionScheduled
            ) {
                continue;
            }
            let Some(away) = accounts::profile(tx, &self.keys, *p)
                .await?
                .away_message
                .filter(|a| !a.trim().is_empty())
            else {
                continue;
            };
            if !hiatus_store::notices::claim_away_reply(tx, &thread.to_text(), *p, day_start, now)
                .await?
            {
                continue;
            }
            market::post_message(
                tx,
                &Message {
                    id: MessageId::new(),
                    thread_id: thread,
                    author_id: *p,
                    body: format!("Automatic reply: {away}"),
                    // Just after the message it answers, so it reads in order.
                    created_at: now + 1,
                },
            )
            .await?;
        }
        Ok(())
    }

    /// The caller's threads.
    pub async fn my_threads(
        &self,
        actor: &Actor,
        limit: i64,
        offset: i64,
    ) -> ServiceResult<Vec<Thread>> {
        self.reading(async |tx| {
            let mut threads = {
                let p = hiatus_domain::Page::new(limit, offset);
                market::threads_of(tx, actor.account, p.limit, p.offset)
            }
            .await?;
            for t in &mut threads {
                self.name_subject(tx, t).await?;
            }
            Ok(threads)
        })
        .await
    }

    /// One thread the caller takes part in (404 for any other, as if it did not exist).
    pub async fn my_thread(&self, actor: &Actor, thread: ThreadId) -> ServiceResult<Thread> {
        let mut tx = self.db.read().await?;
        let t = self.participant_thread(&mut tx, actor, thread).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Messages of a thread the caller takes part in.
    pub async fn thread_messages(
        &self,
        actor: &Actor,
        thread: ThreadId,
        limit: i64,
        offset: i64,
    ) -> ServiceResult<Vec<Message>> {
        let mut tx = self.db.read().await?;
        self.participant_thread(&mut tx, actor, thread).await?;
        let v = market::messages(&mut tx, thread, limit.clamp(1, 1000), offset.max(0)).await?;
        tx.commit().await?;
        Ok(v)
    }
}
