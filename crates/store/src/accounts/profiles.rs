//! Profiles (sealed display name, headline and bio), their settings, and breaks.

use super::{get, touch_data};
use crate::args;
use crate::crypto::Keyring;
use crate::db::Tx;
use crate::error::{StoreError, StoreResult};
use hiatus_domain::{
    AccountId, Availability, Micros, NotificationMode, ProfileSettings, Visibility,
};

/// A profile, decrypted.
#[derive(Clone, Debug)]
pub struct Profile {
    pub account_id: AccountId,
    pub display_name: String,
    pub headline: String,
    pub bio: String,
    pub settings: ProfileSettings,
    pub away_message: Option<String>,
    pub hourly_rate_minor: Option<i64>,
    pub currency: String,
}

#[derive(sqlx::FromRow)]
struct ProfileRow {
    account_id: String,
    display_name_enc: Option<Vec<u8>>,
    headline_enc: Option<Vec<u8>>,
    bio_enc: Option<Vec<u8>>,
    visibility: String,
    availability: String,
    paused_until: Option<i64>,
    notifications: String,
    away_message_enc: Option<Vec<u8>>,
    hourly_rate_minor: Option<i64>,
    currency: String,
    data_key_wrapped: Option<Vec<u8>>,
}

fn decode_profile(keys: &Keyring, r: ProfileRow) -> StoreResult<Profile> {
    let id = r.account_id.clone();
    let dk = keys.unwrap_data_key(&id, r.data_key_wrapped.as_deref())?;
    let open = |col: &str, v: &Option<Vec<u8>>| -> StoreResult<String> {
        match v {
            Some(b) => dk.open_field("profiles", col, &id, b),
            None => Ok(String::new()),
        }
    };
    Ok(Profile {
        account_id: id
            .parse()
            .map_err(|_| StoreError::Corrupt("profile id".into()))?,
        display_name: open("display_name", &r.display_name_enc)?,
        headline: open("headline", &r.headline_enc)?,
        bio: open("bio", &r.bio_enc)?,
        away_message: match &r.away_message_enc {
            Some(b) => Some(dk.open_field("profiles", "away_message", &id, b)?),
            None => None,
        },
        settings: ProfileSettings {
            visibility: Visibility::parse(&r.visibility)
                .ok_or_else(|| StoreError::Corrupt("visibility".into()))?,
            availability: Availability::parse(&r.availability)
                .ok_or_else(|| StoreError::Corrupt("availability".into()))?,
            paused_until: r.paused_until,
            notifications: NotificationMode::parse(&r.notifications)
                .ok_or_else(|| StoreError::Corrupt("notifications".into()))?,
        },
        hourly_rate_minor: r.hourly_rate_minor,
        currency: r.currency,
    })
}

/// A member's profile, decrypted.
pub async fn profile(tx: &mut Tx, keys: &Keyring, id: AccountId) -> StoreResult<Profile> {
    let r: ProfileRow = tx
        .one(
            "SELECT p.account_id, p.display_name_enc, p.headline_enc, p.bio_enc, p.visibility, p.availability, p.paused_until, p.notifications, p.away_message_enc, p.hourly_rate_minor, p.currency, a.data_key_wrapped \
             FROM profiles p JOIN accounts a ON a.id = p.account_id WHERE p.account_id = $1",
            args![id.to_text()],
        )
        .await?;
    decode_profile(keys, r)
}

/// Profiles listed to others: active accounts whose visibility admits the viewer
/// (`members_only` only for logged-in viewers; private profiles are never listed).
pub async fn listed_profiles(
    tx: &mut Tx,
    keys: &Keyring,
    logged_in: bool,
    limit: i64,
    offset: i64,
) -> StoreResult<Vec<Profile>> {
    let rows: Vec<ProfileRow> = tx
        .all(
            "SELECT p.account_id, p.display_name_enc, p.headline_enc, p.bio_enc, p.visibility, p.availability, p.paused_until, p.notifications, p.away_message_enc, p.hourly_rate_minor, p.currency, a.data_key_wrapped \
             FROM profiles p JOIN accounts a ON a.id = p.account_id \
             WHERE a.state = 'active' AND a.role = 'member' AND (p.visibility = 'public' OR (p.visibility = 'members_only' AND $1)) \
             ORDER BY a.created_at, a.id LIMIT $2 OFFSET $3",
            args![logged_in, limit, offset],
        )
        .await?;
    rows.into_iter().map(|r| decode_profile(keys, r)).collect()
}

/// Profile text a member may edit.
#[derive(Clone, Debug, Default)]
pub struct ProfileText {
    pub display_name: Option<String>,
    pub headline: Option<String>,
    pub bio: Option<String>,
    /// `Some(None)` clears the away message.
    pub away_message: Option<Option<String>>,
}

/// Sets (or with `None` clears) the member's phone number, sealed under their data key.
pub async fn set_phone(
    tx: &mut Tx,
    keys: &Keyring,
    id: AccountId,
    phone: Option<&str>,
    now: Micros,
) -> StoreResult<()> {
    let acct = get(tx, id).await?;
    let dk = acct.data_key(keys)?;
    let idt = id.to_text();
    let sealed = phone.map(|p| dk.seal_field("accounts", "phone", &idt, p));
    tx.exec(
        "UPDATE accounts SET phone_enc = $2 WHERE id = $1",
        args![idt, sealed],
    )
    .await?;
    touch_data(tx, &[&id], now).await
}

/// The member's phone number, if they gave one.
pub async fn phone(tx: &mut Tx, keys: &Keyring, id: AccountId) -> StoreResult<Option<String>> {
    #[derive(sqlx::FromRow)]
    struct P {
        phone_enc: Option<Vec<u8>>,
        data_key_wrapped: Option<Vec<u8>>,
    }
    let idt = id.to_text();
    let r: P = tx
        .one(
            "SELECT phone_enc, data_key_wrapped FROM accounts WHERE id = $1",
            args![idt.clone()],
        )
        .await?;
    let Some(enc) = r.phone_enc else {
        return Ok(None);
    };
    let dk = keys.unwrap_data_key(&idt, r.data_key_wrapped.as_deref())?;
    Ok(Some(dk.open_field("accounts", "phone", &idt, &enc)?))
}

/// Updates profile text; fields left `None` are unchanged.
pub async fn update_profile_text(
    tx: &mut Tx,
    keys: &Keyring,
    id: AccountId,
    t: &ProfileText,
    now: Micros,
) -> StoreResult<()> {
    let acct = get(tx, id).await?;
    let dk = acct.data_key(keys)?;
    let idt = id.to_text();
    let seal =
        |col: &str, v: &Option<String>| v.as_ref().map(|s| dk.seal_field("profiles", col, &idt, s));
    let away = t.away_message.as_ref().map(|v| {
        v.as_ref()
            .map(|s| dk.seal_field("profiles", "away_message", &idt, s))
    });
    tx.exec(
        "UPDATE profiles SET display_name_enc = COALESCE($2, display_name_enc), headline_enc = COALESCE($3, headline_enc), \
         bio_enc = COALESCE($4, bio_enc), away_message_enc = CASE WHEN $5 THEN $6 ELSE away_message_enc END, updated_at = $7 WHERE account_id = $1",
        args![
            idt.clone(),
            seal("display_name", &t.display_name),
            seal("headline", &t.headline),
            seal("bio", &t.bio),
            away.is_some(),
            away.flatten(),
            now
        ],
    )
    .await?;
    touch_data(tx, &[&id], now).await
}

/// Replaces visibility, availability and notification settings. A member's explicit choice
/// during a break wins over what the break remembered: `explicit_visibility` and
/// `explicit_notifications` make the break's end leave those alone, and becoming available
/// ends the break altogether.
pub async fn update_settings(
    tx: &mut Tx,
    id: AccountId,
    s: &ProfileSettings,
    explicit_visibility: bool,
    explicit_notifications: bool,
    now: Micros,
) -> StoreResult<()> {
    let available = s.availability == Availability::Available;
    let n = tx
        .exec(
            "UPDATE profiles SET visibility = $2, availability = $3, paused_until = $4, notifications = $5, updated_at = $6, \
             break_prev_visibility = CASE WHEN $7 OR $9 THEN NULL ELSE break_prev_visibility END, \
             break_prev_notifications = CASE WHEN $8 OR $9 THEN NULL ELSE break_prev_notifications END \
             WHERE account_id = $1",
            args![
                id.to_text(),
                s.visibility.as_str(),
                s.availability.as_str(),
                s.paused_until,
                s.notifications.as_str(),
                now,
                explicit_visibility,
                explicit_notifications,
                available
            ],
        )
        .await?;
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Accounts whose break has reached its end date.
pub async fn breaks_due(tx: &mut Tx, now: Micros, limit: i64) -> StoreResult<Vec<AccountId>> {
    let ids: Vec<(String,)> = tx
        .all(
            "SELECT account_id FROM profiles WHERE availability = 'paused' AND paused_until IS NOT NULL AND paused_until <= $1 ORDER BY paused_until LIMIT $2",
            args![now, limit],
        )
        .await?;
    ids.into_iter()
        .map(|(s,)| {
            s.parse()
                .map_err(|_| StoreError::Corrupt("account id".into()))
        })
        .collect()
}

/// Starts a break: remembers the visibility and notifications the member had (unless a break
/// is already running, whose remembered values stay) and applies the break settings.
pub async fn start_break(
    tx: &mut Tx,
    id: AccountId,
    before: &ProfileSettings,
    during: &ProfileSettings,
    now: Micros,
) -> StoreResult<()> {
    tx.exec(
        "UPDATE profiles SET break_prev_visibility = COALESCE(break_prev_visibility, $2), break_prev_notifications = COALESCE(break_prev_notifications, $3), \
         visibility = $4, availability = $5, paused_until = $6, notifications = $7, updated_at = $8 WHERE account_id = $1",
        args![
            id.to_text(),
            before.visibility.as_str(),
            before.notifications.as_str(),
            during.visibility.as_str(),
            during.availability.as_str(),
            during.paused_until,
            during.notifications.as_str(),
            now
        ],
    )
    .await?;
    Ok(())
}

/// Ends a break: availability back to available, visibility and notifications back to what
/// they were before the break. Returns false when no break was running.
pub async fn end_break(tx: &mut Tx, id: AccountId, now: Micros) -> StoreResult<bool> {
    let n = tx
        .exec(
            "UPDATE profiles SET availability = 'available', paused_until = NULL, \
             visibility = COALESCE(break_prev_visibility, visibility), notifications = COALESCE(break_prev_notifications, notifications), \
             break_prev_visibility = NULL, break_prev_notifications = NULL, updated_at = $2 \
             WHERE account_id = $1 AND availability = 'paused'",
            args![id.to_text(), now],
        )
        .await?;
    Ok(n == 1)
}
