//! Message threads, their participants and messages.

use super::{id, opt_id};
use crate::args;
use crate::db::Tx;
use crate::error::StoreResult;
use hiatus_domain::*;

#[derive(sqlx::FromRow)]
struct ThreadRow {
    id: String,
    contract_id: Option<String>,
    subject: String,
    named_id: Option<String>,
    created_at: i64,
    last_message_at: i64,
}

/// What a thread subject says where it names a person: the person is in `threads.named_id`,
/// and their current name (the pseudonym once they are erased) is put in when it is shown,
/// so no name is ever copied into the subject, which erasure keeps.
pub const NAMED: &str = "{name}";

/// Creates a thread with its participants.
pub async fn create_thread(tx: &mut Tx, t: &Thread) -> StoreResult<()> {
    create_thread_naming(tx, t, None).await
}

/// Creates a thread whose subject names `named` by reference ([`NAMED`]).
pub async fn create_thread_naming(
    tx: &mut Tx,
    t: &Thread,
    named: Option<AccountId>,
) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO threads (id, contract_id, subject, named_id, created_at, last_message_at) VALUES ($1, $2, $3, $4, $5, $6)",
        args![t.id.to_text(), t.contract_id.map(|c| c.to_text()), t.subject.clone(), named.map(|n| n.to_text()), t.created_at, t.last_message_at],
    )
    .await?;
    for p in &t.participants {
        tx.exec(
            "INSERT INTO thread_participants (thread_id, account_id) VALUES ($1, $2)",
            args![t.id.to_text(), p.to_text()],
        )
        .await?;
    }
    Ok(())
}

async fn participants(tx: &mut Tx, tid: &str) -> StoreResult<Vec<AccountId>> {
    let rows: Vec<(String,)> = tx
        .all(
            "SELECT account_id FROM thread_participants WHERE thread_id = $1 ORDER BY account_id",
            args![tid.to_string()],
        )
        .await?;
    rows.iter().map(|(s,)| id(s)).collect()
}

/// A thread with its participants.
pub async fn thread(tx: &mut Tx, tid: ThreadId) -> StoreResult<Thread> {
    let r: ThreadRow = tx
        .one("SELECT id, contract_id, subject, named_id, created_at, last_message_at FROM threads WHERE id = $1", args![tid.to_text()])
        .await?;
    Ok(Thread {
        participants: participants(tx, &r.id).await?,
        id: id(&r.id)?,
        contract_id: opt_id(&r.contract_id)?,
        subject: r.subject,
        created_at: r.created_at,
        last_message_at: r.last_message_at,
        named: opt_id(&r.named_id)?,
    })
}

/// The threads a member takes part in, most recent first.
pub async fn threads_of(
    tx: &mut Tx,
    who: AccountId,
    limit: i64,
    offset: i64,
) -> StoreResult<Vec<Thread>> {
    let rows: Vec<ThreadRow> = tx
        .all(
            "SELECT t.id, t.contract_id, t.subject, t.named_id, t.created_at, t.last_message_at FROM threads t \
             JOIN thread_participants p ON p.thread_id = t.id WHERE p.account_id = $1 ORDER BY t.last_message_at DESC, t.id LIMIT $2 OFFSET $3",
            args![who.to_text(), limit, offset],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(Thread {
            participants: participants(tx, &r.id).await?,
            id: id(&r.id)?,
            contract_id: opt_id(&r.contract_id)?,
            subject: r.subject,
            created_at: r.created_at,
            last_message_at: r.last_message_at,
            named: opt_id(&r.named_id)?,
        });
    }
    Ok(out)
}

/// Adds a message and bumps the thread.
pub async fn post_message(tx: &mut Tx, m: &Message) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO messages (id, thread_id, author_id, body, created_at) VALUES ($1, $2, $3, $4, $5)",
        args![m.id.to_text(), m.thread_id.to_text(), m.author_id.to_text(), m.body.clone(), m.created_at],
    )
    .await?;
    tx.exec(
        "UPDATE threads SET last_message_at = $2 WHERE id = $1",
        args![m.thread_id.to_text(), m.created_at],
    )
    .await?;
    Ok(())
}

/// Messages of a thread in order, a page at a time.
pub async fn messages(
    tx: &mut Tx,
    tid: ThreadId,
    limit: i64,
    offset: i64,
) -> StoreResult<Vec<Message>> {
    let rows: Vec<(String, String, String, String, i64)> = tx
        .all(
            "SELECT id, thread_id, author_id, body, created_at FROM messages WHERE thread_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3",
            args![tid.to_text(), limit, offset],
        )
        .await?;
    rows.into_iter()
        .map(|(i, t, a, body, created_at)| {
            Ok(Message {
                id: id(&i)?,
                thread_id: id(&t)?,
                author_id: id(&a)?,
                body,
                created_at,
            })
        })
        .collect()
}

/// The thread a message was posted in, as stored (none when the message is gone).
pub async fn thread_of_message(tx: &mut Tx, message: &str) -> StoreResult<Option<String>> {
    let t: Option<(String,)> = tx
        .opt(
            "SELECT thread_id FROM messages WHERE id = $1",
            args![message.to_string()],
        )
        .await?;
    Ok(t.map(|(t,)| t))
}
