//! Who shares records with whom: what lets one member reach another, and what a
//! closing member already did (told a client, downloaded an export).

use crate::args;
use crate::db::Tx;
use crate::error::StoreResult;
use hiatus_domain::*;

/// True when two accounts share a contract the freelancer accepted (either side; open or
/// ended). An offer, answered or not, makes nobody a counterparty: a client cannot gain
/// sight of a private profile by sending an offer.
pub async fn have_contract(tx: &mut Tx, a: AccountId, b: AccountId) -> StoreResult<bool> {
    let n: i64 = tx
        .scalar(
            "SELECT COUNT(*) FROM contracts WHERE ((client_id = $1 AND freelancer_id = $2) OR (client_id = $2 AND freelancer_id = $1)) \
             AND status NOT IN ('offered', 'declined', 'withdrawn')",
            args![a.to_text(), b.to_text()],
        )
        .await?;
    Ok(n > 0)
}

/// True when two accounts share an accepted contract or a message thread: they already
/// know each other, so one may reach the other even while hidden.
pub async fn know_each_other(tx: &mut Tx, a: AccountId, b: AccountId) -> StoreResult<bool> {
    if have_contract(tx, a, b).await? {
        return Ok(true);
    }
    let n: i64 = tx
        .scalar(
            "SELECT COUNT(*) FROM thread_participants x JOIN thread_participants y ON y.thread_id = x.thread_id \
             WHERE x.account_id = $1 AND y.account_id = $2",
            args![a.to_text(), b.to_text()],
        )
        .await?;
    Ok(n > 0)
}

/// Records that a member told a client they are leaving.
pub async fn record_client_notice(
    tx: &mut Tx,
    member: AccountId,
    client: AccountId,
    now: Micros,
) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO client_notices (account_id, client_id, sent_at) VALUES ($1, $2, $3) ON CONFLICT (account_id, client_id) DO UPDATE SET sent_at = excluded.sent_at",
        args![member.to_text(), client.to_text(), now],
    )
    .await?;
    Ok(())
}

/// Records that a member downloaded a complete export of their data.
pub async fn record_export_download(
    tx: &mut Tx,
    member: AccountId,
    now: Micros,
) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO exports (id, account_id, status, created_at, downloaded_at) VALUES ($1, $2, 'downloaded', $3, $3)",
        args![uuid::Uuid::now_v7().to_string(), member.to_text(), now],
    )
    .await?;
    Ok(())
}

/// How many people keep records a member appears in: the other parties of their contracts
/// (offers included), of their message threads and of reviews by or about them.
pub async fn counterparty_count(tx: &mut Tx, member: AccountId) -> StoreResult<i64> {
    tx.scalar(
        "SELECT COUNT(*) FROM ( \
           SELECT client_id AS p FROM contracts WHERE freelancer_id = $1 \
           UNION SELECT freelancer_id FROM contracts WHERE client_id = $1 \
           UNION SELECT tp2.account_id FROM thread_participants tp1 JOIN thread_participants tp2 ON tp2.thread_id = tp1.thread_id \
             WHERE tp1.account_id = $1 AND tp2.account_id <> $1 \
           UNION SELECT subject_id FROM reviews WHERE author_id = $1 \
           UNION SELECT author_id FROM reviews WHERE subject_id = $1 \
         ) people",
        args![member.to_text()],
    )
    .await
}

/// How many records two accounts share: contracts between them (offers included), threads
/// they are both in, and reviews one wrote about the other.
pub async fn shared_record_count(tx: &mut Tx, a: AccountId, b: AccountId) -> StoreResult<i64> {
    tx.scalar(
        "SELECT (SELECT COUNT(*) FROM contracts WHERE (client_id = $1 AND freelancer_id = $2) OR (client_id = $2 AND freelancer_id = $1)) \
         + (SELECT COUNT(*) FROM thread_participants a JOIN thread_participants b ON b.thread_id = a.thread_id WHERE a.account_id = $1 AND b.account_id = $2) \
         + (SELECT COUNT(*) FROM reviews WHERE (author_id = $2 AND subject_id = $1) OR (author_id = $1 AND subject_id = $2))",
        args![a.to_text(), b.to_text()],
    )
    .await
}
