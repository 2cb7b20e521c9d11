//! Notices to regular clients: queued per client when a member tells their clients they are
//! leaving or pausing, delivered by a job (one transaction per notice: the message in the
//! shared thread, the email queued, the notice marked sent).

use crate::crypto::Keyring;
use crate::db::Tx;
use crate::error::StoreResult;
use crate::{accounts, args};
use hiatus_domain::{AccountId, Micros};

/// A notice waiting to be delivered, opened.
#[derive(Clone, Debug)]
pub struct PendingNotice {
    pub id: String,
    pub client_id: String,
    pub message: String,
    pub forwarding: Option<String>,
}

/// Queues (or re-queues, with the new text) a notice to one client. The message and the
/// forwarding contact are sealed under the member's data key: erasure deletes them, and
/// destroying the key leaves no readable copy behind.
#[allow(clippy::too_many_arguments)]
pub async fn queue(
    tx: &mut Tx,
    keys: &Keyring,
    member: AccountId,
    client: AccountId,
    id: &str,
    message: &str,
    forwarding: Option<&str>,
    now: Micros,
) -> StoreResult<()> {
    let dk = accounts::get(tx, member).await?.data_key(keys)?;
    let ct = client.to_text();
    let message = dk.seal_field("client_notices", "message", &ct, message);
    let forwarding = forwarding.map(|f| dk.seal_field("client_notices", "forwarding", &ct, f));
    tx.exec(
        "INSERT INTO client_notices (account_id, client_id, sent_at, id, message_enc, forwarding_enc, status, requested_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $3) \
         ON CONFLICT (account_id, client_id) DO UPDATE SET id = $4, message_enc = $5, forwarding_enc = $6, status = 'pending', requested_at = $3",
        args![
            member.to_text(),
            ct,
            now,
            id.to_string(),
            message,
            forwarding
        ],
    )
    .await?;
    Ok(())
}

/// The member's notices not yet delivered, opened with the member's key.
pub async fn pending(
    tx: &mut Tx,
    keys: &Keyring,
    member: AccountId,
) -> StoreResult<Vec<PendingNotice>> {
    type Row = (String, String, Option<Vec<u8>>, Option<Vec<u8>>);
    let rows: Vec<Row> = tx
        .all(
            "SELECT id, client_id, message_enc, forwarding_enc FROM client_notices WHERE account_id = $1 AND status = 'pending' AND id IS NOT NULL ORDER BY client_id",
            args![member.to_text()],
        )
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let dk = accounts::get(tx, member).await?.data_key(keys)?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, client_id, message, forwarding) in rows {
        let open = |col: &str, v: Option<Vec<u8>>| {
            v.map(|b| dk.open_field("client_notices", col, &client_id, &b))
                .transpose()
        };
        out.push(PendingNotice {
            message: open("message", message)?.unwrap_or_default(),
            forwarding: open("forwarding", forwarding)?,
            id,
            client_id,
        });
    }
    Ok(out)
}

/// Marks a notice delivered (only the one with this id: a newer notice stays pending).
pub async fn delivered(tx: &mut Tx, member: AccountId, id: &str, now: Micros) -> StoreResult<bool> {
    Ok(tx
        .exec(
            "UPDATE client_notices SET status = 'sent', sent_at = $3 WHERE account_id = $1 AND id = $2 AND status = 'pending'",
            args![member.to_text(), id.to_string(), now],
        )
        .await?
        == 1)
}

/// The thread a member and a client last wrote in, if they share one.
pub async fn shared_thread(
    tx: &mut Tx,
    member: AccountId,
    client: AccountId,
) -> StoreResult<Option<String>> {
    let row: Option<(String,)> = tx
        .opt(
            "SELECT t.id FROM threads t JOIN thread_participants a ON a.thread_id = t.id AND a.account_id = $1 \
             JOIN thread_participants b ON b.thread_id = t.id AND b.account_id = $2 \
             ORDER BY t.last_message_at DESC, t.id LIMIT 1",
            args![member.to_text(), client.to_text()],
        )
        .await?;
    Ok(row.map(|(id,)| id))
}

/// Whether a message with this id exists (a notice delivered before a crash).
pub async fn message_exists(tx: &mut Tx, id: &str) -> StoreResult<bool> {
    let n: i64 = tx
        .scalar(
            "SELECT COUNT(*) FROM messages WHERE id = $1",
            args![id.to_string()],
        )
        .await?;
    Ok(n > 0)
}

/// The text of a posted message (a notice's, whose id is the notice's), if it exists.
pub async fn message_body(tx: &mut Tx, id: &str) -> StoreResult<Option<String>> {
    let row: Option<(String,)> = tx
        .opt(
            "SELECT body FROM messages WHERE id = $1",
            args![id.to_string()],
        )
        .await?;
    Ok(row.map(|(b,)| b))
}

/// Claims today's away reply of `member` in a thread: true when none went since `day_start`
/// (and records this one), false when one already did.
pub async fn claim_away_reply(
    tx: &mut Tx,
    thread: &str,
    member: AccountId,
    day_start: Micros,
    now: Micros,
) -> StoreResult<bool> {
    let n = tx
        .exec(
            "INSERT INTO away_replies (thread_id, account_id, last_at) VALUES ($1, $2, $4) \
             ON CONFLICT (thread_id, account_id) DO UPDATE SET last_at = $4 WHERE away_replies.last_at < $3",
            args![thread.to_string(), member.to_text(), day_start, now],
        )
        .await?;
    Ok(n == 1)
}
