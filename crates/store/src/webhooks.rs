//! Webhook subscriptions and deliveries: the fan-out of outbox events to subscriptions (in one
//! transaction with marking the events dispatched, and unique per subscription and event, so
//! nothing is delivered twice by a retried fan-out), the queue of due deliveries, and the log.

use crate::db::Tx;
use crate::error::StoreResult;
use crate::{Keyring, args};
use hiatus_domain::Micros;

/// How the signing secrets are sealed: under a key derived from the master key.
const SECRET_KEY_LABEL: &str = "webhook-secrets";

/// A subscription, with its secret opened.
#[derive(Clone, Debug)]
pub struct Subscription {
    pub id: String,
    pub url: String,
    /// Event names, or `*` for all.
    pub events: Vec<String>,
    pub secret: String,
    pub active: bool,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct SubscriptionRow {
    id: String,
    url: String,
    events: String,
    secret_enc: Vec<u8>,
    active: bool,
    created_at: i64,
}

fn secret_key(keys: &Keyring) -> crate::SecretKey {
    crate::SecretKey::from_bytes(*keys.derive_secret(SECRET_KEY_LABEL))
}

impl SubscriptionRow {
    fn open(self, keys: &Keyring) -> StoreResult<Subscription> {
        let plain = secret_key(keys).open(&format!("webhook:{}", self.id), &self.secret_enc)?;
        Ok(Subscription {
            secret: String::from_utf8(plain)
                .map_err(|_| crate::StoreError::Corrupt("webhook secret".into()))?,
            id: self.id,
            url: self.url,
            events: self.events.split(',').map(str::to_string).collect(),
            active: self.active,
            created_at: self.created_at,
        })
    }
}

/// Adds a subscription.
pub async fn subscribe(
    tx: &mut Tx,
    keys: &Keyring,
    id: &str,
    url: &str,
    events: &[String],
    secret: &str,
    now: Micros,
) -> StoreResult<()> {
    let sealed = secret_key(keys).seal(&format!("webhook:{id}"), secret.as_bytes());
    tx.exec(
        "INSERT INTO webhook_subscriptions (id, url, events, secret_enc, active, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        args![id.to_string(), url.to_string(), events.join(","), sealed, true, now],
    )
    .await?;
    Ok(())
}

/// Stops a subscription (its log stays). False when there is no such active subscription.
pub async fn deactivate(tx: &mut Tx, id: &str) -> StoreResult<bool> {
    Ok(tx
        .exec(
            "UPDATE webhook_subscriptions SET active = $2 WHERE id = $1 AND active = $3",
            args![id.to_string(), false, true],
        )
        .await?
        == 1)
}

/// Every subscription, newest first.
pub async fn subscriptions(tx: &mut Tx, keys: &Keyring) -> StoreResult<Vec<Subscription>> {
    let rows: Vec<SubscriptionRow> = tx
        .all(
            "SELECT id, url, events, secret_enc, active, created_at FROM webhook_subscriptions ORDER BY created_at DESC, id",
            args![],
        )
        .await?;
    rows.into_iter().map(|r| r.open(keys)).collect()
}

/// One subscription.
pub async fn subscription(
    tx: &mut Tx,
    keys: &Keyring,
    id: &str,
) -> StoreResult<Option<Subscription>> {
    let row: Option<SubscriptionRow> = tx
        .opt(
            "SELECT id, url, events, secret_enc, active, created_at FROM webhook_subscriptions WHERE id = $1",
            args![id.to_string()],
        )
        .await?;
    row.map(|r| r.open(keys)).transpose()
}

/// An outbox event not yet fanned out.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OutboxEvent {
    pub id: String,
    pub event: String,
    pub account_id: Option<String>,
    pub payload: String,
    pub created_at: i64,
}

/// Fans out up to `limit` undelivered outbox events to the active subscriptions that want
/// them, and to an email to the member for the events `mail` lists (with whether each is
/// essential), and marks the events dispatched, all in the caller's transaction. Returns how
/// many events were handled.
pub async fn fan_out(
    tx: &mut Tx,
    now: Micros,
    limit: i64,
    mail: &[(&str, bool)],
) -> StoreResult<usize> {
    let events: Vec<OutboxEvent> = tx
        .all(
            "SELECT id, event, account_id, payload, created_at FROM outbox WHERE delivered_at IS NULL ORDER BY created_at, id LIMIT $1",
            args![limit],
        )
        .await?;
    if events.is_empty() {
        return Ok(0);
    }
    #[derive(sqlx::FromRow)]
    struct Sub {
        id: String,
        events: String,
    }
    let subs: Vec<Sub> = tx
        .all(
            "SELECT id, events FROM webhook_subscriptions WHERE active = $1",
            args![true],
        )
        .await?;
    for e in &events {
        // An event of an account whose erasure has begun goes nowhere (but the erasure's
        // own): the erasure may already have cleaned the deliveries that would name it.
        let gone = match &e.account_id {
            Some(a) if !crate::audit::ERASURE_EVENTS.contains(&e.event.as_str()) => {
                !crate::accounts::attachable(tx, a).await?
            }
            _ => false,
        };
        for s in subs
            .iter()
            .filter(|s| !gone && s.events.split(',').any(|x| x == "*" || x == e.event))
        {
            tx.exec(
                "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event, payload, status, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) ON CONFLICT (subscription_id, event_id) DO NOTHING",
                args![
                    uuid::Uuid::now_v7().to_string(),
                    s.id.clone(),
                    e.id.clone(),
                    e.event.clone(),
                    e.payload.clone(),
                    now
                ],
            )
            .await?;
        }
        if let (Some(account), Some((_, essential)), false) = (
            &e.account_id,
            mail.iter().find(|(k, _)| *k == e.event),
            gone,
        ) {
            tx.exec(
                "INSERT INTO mail_deliveries (id, event_id, account_id, kind, essential, payload, status, attempts, next_attempt_at, created_at) \
                 SELECT $1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7 WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $3) \
                 ON CONFLICT (event_id, account_id) DO NOTHING",
                args![
                    uuid::Uuid::now_v7().to_string(),
                    e.id.clone(),
                    account.clone(),
                    e.event.clone(),
                    *essential,
                    e.payload.clone(),
                    now
                ],
            )
            .await?;
        }
        tx.exec(
            "UPDATE outbox SET delivered_at = $2 WHERE id = $1 AND delivered_at IS NULL",
            args![e.id.clone(), now],
        )
        .await?;
    }
    Ok(events.len())
}

/// A delivery, as the log shows it.
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct Delivery {
    pub id: String,
    pub subscription_id: String,
    /// The outbox event's id: the idempotency key receivers deduplicate on.
    pub event_id: String,
    pub event: String,
    pub payload: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

macro_rules! delivery_columns {
    () => {
        "id, subscription_id, event_id, event, payload, status, attempts, next_attempt_at, last_status, last_error, created_at, delivered_at"
    };
}

/// Pending deliveries due now, oldest first.
pub async fn due(tx: &mut Tx, now: Micros, limit: i64) -> StoreResult<Vec<Delivery>> {
    tx.all(
        concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2"
        ),
        args![now, limit],
    )
    .await
}

/// Claims a due delivery for one attempt: the attempt is counted and the next one pushed to
/// `retry_at` before the request is made, so a crash mid-request retries after the backoff
/// rather than at once (and a second worker does not send it too).
pub async fn claim(tx: &mut Tx, id: &str, now: Micros, retry_at: Micros) -> StoreResult<bool> {
    Ok(tx
        .exec(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $3 \
             WHERE id = $1 AND status = 'pending' AND next_attempt_at <= $2",
            args![id.to_string(), now, retry_at],
        )
        .await?
        == 1)
}

/// Records a successful attempt.
pub async fn delivered(tx: &mut Tx, id: &str, now: Micros) -> StoreResult<()> {
    tx.exec(
        "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = $2, last_status = NULL, last_error = NULL WHERE id = $1",
        args![id.to_string(), now],
    )
    .await?;
    Ok(())
}

/// Records a failed attempt; `dead` ends the retries.
/// `class` is what the log may say: `4xx`, `5xx`, `unreachable`, `blocked`… — never the
/// receiver's exact status or connection details.
pub async fn failed(tx: &mut Tx, id: &str, class: &str, dead: bool) -> StoreResult<()> {
    tx.exec(
        "UPDATE webhook_deliveries SET last_status = NULL, last_error = $2, status = CASE WHEN $3 THEN 'dead' ELSE status END WHERE id = $1",
        args![id.to_string(), class.to_string(), dead],
    )
    .await?;
    Ok(())
}

/// Puts a delivery back in the queue (an operator's replay), with its attempts reset.
pub async fn replay(tx: &mut Tx, id: &str, now: Micros) -> StoreResult<bool> {
    Ok(tx
        .exec(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $2, last_error = NULL \
             WHERE id = $1 AND status IN ('dead', 'delivered')",
            args![id.to_string(), now],
        )
        .await?
        == 1)
}

/// The delivery log of a subscription (or of all), newest first, optionally by status.
pub async fn log(
    tx: &mut Tx,
    subscription: Option<&str>,
    status: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<Delivery>> {
    tx.all(
        concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries WHERE ($1 IS NULL OR subscription_id = $1) AND ($2 IS NULL OR status = $2) \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        ),
        args![
            subscription.map(str::to_string),
            status.map(str::to_string),
            limit
        ],
    )
    .await
}
