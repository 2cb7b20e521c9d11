//! Webhooks: every lifecycle event written to the outbox is delivered, at least once, to each
//! subscription that wants it, as a signed JSON POST. Receivers deduplicate on the event id
//! (`Idempotency-Key`). Failed deliveries are retried with exponential backoff; after the
//! attempt limit they are `dead` until an operator replays them. The deliveries table is the
//! log.
//!
//! Signature: `Hiatus-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//! A receiver recomputes it over the raw body and rejects old timestamps.

use crate::error::{ServiceError, ServiceResult};
use crate::views::WebhookDelivery;
use crate::{Actor, Hiatus};
use hiatus_domain::Micros;
use hiatus_store::webhooks::{self, Delivery, Subscription};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::time::Duration;

/// Webhook settings.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Attempts before a delivery is dead.
    pub max_attempts: i64,
    /// The wait before the second attempt; it doubles with each attempt after that.
    pub first_retry: Micros,
    /// The longest wait between two attempts.
    pub max_retry: Micros,
    /// How long one request may take.
    pub timeout: Duration,
    /// Allow targets on loopback, private and link-local addresses (receivers inside the
    /// operator's own network). Off by default: see [`crate::webhook_target`].
    pub allow_private: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            first_retry: 30 * 1_000_000,
            max_retry: 6 * 3600 * 1_000_000,
            timeout: Duration::from_secs(10),
            allow_private: false,
        }
    }
}

/// The events a subscription can ask for (`*`: all of them).
pub const EVENTS: [&str; 18] = [
    "account.deactivated",
    "account.reactivated",
    "account.deletion_scheduled",
    "account.deletion_cancelled",
    "account.deletion_reminder",
    "account.deleted",
    "account.erased",
    "break.started",
    "break.ended",
    "break.ending",
    "export.ready",
    "export.expiring",
    "export.failed",
    "export.expired",
    "restoration.requested",
    "restoration.approved",
    "restoration.denied",
    "account.password_changed",
];

/// A subscription as operators see it (the secret only when it is created).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SubscriptionView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: Micros,
    /// The signing secret: shown once, when the subscription is created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<Subscription> for SubscriptionView {
    fn from(s: Subscription) -> Self {
        Self {
            id: s.id,
            url: s.url,
            events: s.events,
            active: s.active,
            created_at: s.created_at,
            secret: None,
        }
    }
}

/// The signature header's value for a body sent at `timestamp` (seconds).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// The wait after `attempts` failed attempts.
pub fn backoff(config: &WebhookConfig, attempts: i64) -> Micros {
    let doublings = (attempts - 1).clamp(0, 30) as u32;
    config
        .first_retry
        .saturating_mul(1i64 << doublings)
        .min(config.max_retry)
}

fn check_url(url: &str, allow_private: bool) -> ServiceResult<()> {
    let invalid = || {
        ServiceError::invalid(
            "webhook_url_invalid",
            "the URL must start with https:// (or http://) and name a host",
        )
    };
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2000
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        && url.split("://").nth(1).is_some_and(|rest| {
            rest.split(['/', '?', '#'])
                .next()
                .is_some_and(|host| !host.is_empty())
        });
    if !ok {
        return Err(invalid());
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| invalid())?;
    if parsed.host().is_none() {
        return Err(invalid());
    }
    if !allow_private
        && let Some(ip) = crate::webhook_target::literal_host(&parsed)
        && crate::webhook_target::is_internal(ip)
    {
        return Err(ServiceError::invalid(
            "webhook_target_internal",
            "the URL points at a loopback, private, link-local or otherwise internal address; \
             webhooks go to public receivers (an operator can allow private ones with \
             --webhook-allow-private)",
        ));
    }
    Ok(())
}

/// What the delivery log says about a failed attempt: the class of the answer, never the
/// details of a connection (which would tell open ports from closed ones).
fn failure_class(status: Option<u16>) -> &'static str {
    match status {
        Some(100..=199) => "1xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) => "other",
        None => "unreachable",
    }
}

impl Hiatus {
    /// Adds a webhook subscription (operators). The signing secret is returned once.
    pub async fn subscribe_webhook(
        &self,
        actor: Option<&Actor>,
        url: &str,
        events: &[String],
    ) -> ServiceResult<SubscriptionView> {
        if let Some(a) = actor {
            a.require_operator()?;
        }
        check_url(url, self.config.webhooks.allow_private)?;
        if events.is_empty() {
            return Err(ServiceError::invalid(
                "webhook_events_missing",
                "name at least one event, or * for all",
            ));
        }
        if let Some(bad) = events
            .iter()
            .find(|e| *e != "*" && !EVENTS.contains(&e.as_str()))
        {
            return Err(ServiceError::invalid(
                "webhook_event_unknown",
                format!("unknown event {bad:?}; known: {}", EVENTS.join(", ")),
            ));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let secret = format!(
            "whsec_{}",
            hex::encode(hiatus_store::crypto::random_bytes::<32>())
        );
        let now = self.now();
        let mut tx = self.db.begin().await?;
        webhooks::subscribe(&mut tx, &self.keys, &id, url, events, &secret, now).await?;
        tx.commit().await?;
        Ok(SubscriptionView {
            id,
            url: url.to_string(),
            events: events.to_vec(),
            active: true,
            created_at: now,
            secret: Some(secret),
        })
    }

    /// Stops a subscription (operators).
    pub async fn unsubscribe_webhook(&self, actor: Option<&Actor>, id: &str) -> ServiceResult<()> {
        if let Some(a) = actor {
            a.require_operator()?;
        }
        let mut tx = self.db.begin().await?;
        let ok = webhooks::deactivate(&mut tx, id).await?;
        tx.commit().await?;
        if ok {
            Ok(())
        } else {
            Err(ServiceError::NotFound("webhook subscription"))
        }
    }

    /// Every subscription (operators).
    pub async fn webhook_subscriptions(
        &self,
        actor: Option<&Actor>,
    ) -> ServiceResult<Vec<SubscriptionView>> {
        if let Some(a) = actor {
            a.require_operator()?;
        }
        let mut tx = self.db.read().await?;
        let subs = webhooks::subscriptions(&mut tx, &self.keys).await?;
        tx.commit().await?;
        Ok(subs.into_iter().map(Into::into).collect())
    }

    /// The delivery log, newest first (operators).
    pub async fn webhook_deliveries(
        &self,
        actor: Option<&Actor>,
        subscription: Option<&str>,
        status: Option<&str>,
        limit: i64,
    ) -> ServiceResult<Vec<WebhookDelivery>> {
        if let Some(a) = actor {
            a.require_operator()?;
        }
        if let Some(s) = status
            && !["pending", "delivered", "dead"].contains(&s)
        {
            return Err(ServiceError::invalid(
                "status_invalid",
                "status is pending, delivered or dead",
            ));
        }
        let mut tx = self.db.read().await?;
        let rows = webhooks::log(&mut tx, subscription, status, limit.clamp(1, 1000)).await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(WebhookDelivery::from).collect())
    }

    /// Sends a dead (or delivered) delivery again (operators).
    pub async fn replay_webhook(&self, actor: Option<&Actor>, delivery: &str) -> ServiceResult<()> {
        if let Some(a) = actor {
            a.require_operator()?;
        }
        let mut tx = self.db.begin().await?;
        let ok = webhooks::replay(&mut tx, delivery, self.now()).await?;
        tx.commit().await?;
        if ok {
            Ok(())
        } else {
            Err(ServiceError::conflict(
                "delivery_not_replayable",
                "only a dead or delivered delivery can be replayed",
            ))
        }
    }

    /// One round of event delivery: fans new outbox events out to webhook subscriptions and
    /// to mail, then makes every due webhook attempt and sends every due mail. Returns how
    /// many events, attempts and mails it handled.
    pub async fn webhook_round(&self) -> ServiceResult<usize> {
        let mut n = 0;
        let mailed: &[(&str, bool)] = if self.mail_enabled() {
            &crate::mail::MAILED
        } else {
            &[]
        };
        loop {
            let mut tx = self.db.begin().await?;
            let k = webhooks::fan_out(&mut tx, self.now(), 200, mailed).await?;
            tx.commit().await?;
            n += k;
            if k < 200 {
                break;
            }
        }
        let mut tx = self.db.read().await?;
        let due = webhooks::due(&mut tx, self.now(), 100).await?;
        tx.commit().await?;
        for d in due {
            if self.attempt_delivery(&d).await? {
                n += 1;
            }
        }
        n += self.send_due_mail().await?;
        Ok(n)
    }

    async fn attempt_delivery(&self, d: &Delivery) -> ServiceResult<bool> {
        let cfg = &self.config.webhooks;
        let now = self.now();
        let attempt = d.attempts + 1;
        let mut tx = self.db.begin().await?;
        let sub = webhooks::subscription(&mut tx, &self.keys, &d.subscription_id).await?;
        let claimed = webhooks::claim(&mut tx, &d.id, now, now + backoff(cfg, attempt)).await?;
        tx.commit().await?;
        if !claimed {
            return Ok(false);
        }
        let Some(sub) = sub.filter(|s| s.active) else {
            let mut tx = self.db.begin().await?;
            webhooks::failed(&mut tx, &d.id, "unsubscribed", true).await?;
            tx.commit().await?;
            return Ok(true);
        };
        let payload: serde_json::Value =
            serde_json::from_str(&d.payload).unwrap_or(serde_json::Value::Null);
        let body = serde_json::to_vec(&serde_json::json!({
            "id": d.event_id,
            "event": d.event,
            "created_at": d.created_at,
            "data": payload,
        }))
        .expect("JSON values serialize");
        let ts = now / 1_000_000;
        // Checked again at sending time: the subscription may predate the check, or the
        // setting may have changed.
        if check_url(&sub.url, cfg.allow_private).is_err() {
            let mut tx = self.db.begin().await?;
            webhooks::failed(&mut tx, &d.id, "blocked", true).await?;
            tx.commit().await?;
            tracing::warn!(delivery = %d.id, "webhook target refused: internal address");
            return Ok(true);
        }
        let result = self
            .http
            .post(&sub.url)
            .timeout(cfg.timeout)
            .header("content-type", "application/json")
            .header("user-agent", "hiatus-webhooks/1")
            .header("hiatus-event", &d.event)
            .header("hiatus-delivery", &d.id)
            .header("idempotency-key", &d.event_id)
            .header("hiatus-signature", signature(&sub.secret, ts, &body))
            .body(body)
            .send()
            .await;
        let done = self.now();
        let mut tx = self.db.begin().await?;
        let status = match &result {
            Ok(r) if r.status().is_success() => {
                webhooks::delivered(&mut tx, &d.id, done).await?;
                tx.commit().await?;
                return Ok(true);
            }
            Ok(r) => Some(r.status().as_u16()),
            // Refused addresses, refused connections, timeouts and TLS failures look alike.
            Err(_) => None,
        };
        let dead = attempt >= cfg.max_attempts;
        let class = failure_class(status);
        webhooks::failed(&mut tx, &d.id, class, dead).await?;
        tracing::warn!(delivery = %d.id, class, attempt, dead, "webhook delivery failed");
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_over_timestamp_and_body() {
        let s = signature("whsec_test", 1_700_000_000, b"{\"a\":1}");
        assert!(s.starts_with("t=1700000000,v1="));
        assert_eq!(s.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(s, signature("whsec_other", 1_700_000_000, b"{\"a\":1}"));
        assert_ne!(s, signature("whsec_test", 1_700_000_001, b"{\"a\":1}"));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let c = WebhookConfig::default();
        assert_eq!(backoff(&c, 1), 30_000_000);
        assert_eq!(backoff(&c, 2), 60_000_000);
        assert_eq!(backoff(&c, 4), 240_000_000);
        assert_eq!(backoff(&c, 40), c.max_retry);
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_url("http://127.0.0.1:9000/", false).is_err());
        assert!(check_url("http://127.0.0.1:9000/", true).is_ok());
        assert_eq!(failure_class(Some(405)), "4xx");
        assert_eq!(failure_class(None), "unreachable");
        for bad in [
            "ftp://x",
            "https://",
            "hooks.example.com",
            "https://a b",
            "https:///path",
        ] {
            assert!(check_url(bad, true).is_err(), "{bad}");
        }
    }
}
