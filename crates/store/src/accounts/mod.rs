//! Accounts and profiles. Personal fields are sealed with the member's data key before they
//! are bound to any statement, so no plaintext personal value reaches the database.

mod profiles;

pub use profiles::*;

use crate::args;
use crate::crypto::{DataKey, Keyring};
use crate::db::{Arg, Tx};
use crate::error::{StoreError, StoreResult};
use hiatus_domain::{AccountId, AccountKind, AccountState, Email, Micros, ProfileSettings, Role};

/// A new account and its profile, in plaintext; [`insert`] seals the personal parts.
#[derive(Clone)]
pub struct NewAccount {
    pub id: AccountId,
    pub kind: AccountKind,
    pub role: Role,
    pub email: Email,
    pub legal_name: String,
    pub display_name: String,
    pub headline: String,
    pub bio: String,
    pub password_hash: String,
    pub settings: ProfileSettings,
    pub hourly_rate_minor: Option<i64>,
    pub now: Micros,
}

/// The non-personal columns of an account, as most of hiatus needs them.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AccountRow {
    pub id: String,
    pub kind: String,
    pub role: String,
    pub state: String,
    pub password_hash: Option<String>,
    pub data_key_wrapped: Option<Vec<u8>>,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub deletion_due_at: Option<i64>,
    pub data_changed_at: i64,
    pub state_changed_at: i64,
    pub created_at: i64,
}

impl AccountRow {
    /// The typed id.
    pub fn account_id(&self) -> StoreResult<AccountId> {
        self.id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("account id {}", self.id)))
    }
    /// The typed state.
    pub fn state(&self) -> StoreResult<AccountState> {
        AccountState::parse(&self.state)
            .ok_or_else(|| StoreError::Corrupt(format!("account state {}", self.state)))
    }
    /// The typed kind.
    pub fn kind(&self) -> StoreResult<AccountKind> {
        AccountKind::parse(&self.kind)
            .ok_or_else(|| StoreError::Corrupt(format!("account kind {}", self.kind)))
    }
    /// The typed role.
    pub fn role(&self) -> StoreResult<Role> {
        Role::parse(&self.role).ok_or_else(|| StoreError::Corrupt(format!("role {}", self.role)))
    }
    /// The member's data key.
    pub fn data_key(&self, keys: &Keyring) -> StoreResult<DataKey> {
        keys.unwrap_data_key(&self.id, self.data_key_wrapped.as_deref())
    }
}

/// Inserts an account and its profile. A second account with the same email is a
/// [`StoreError::Conflict`].
///
/// The email lookup is hashed under the epoch the data key is wrapped under, and lookups of
/// other epochs are not caught by the unique index: the address is first searched under every
/// epoch live accounts are recorded under, read afresh, with concurrent sign-ups for the same
/// address serialized (SQLite writers already are; PostgreSQL takes a transaction lock keyed
/// by the address's epoch-independent hash).
pub async fn insert(tx: &mut Tx, keys: &Keyring, a: &NewAccount) -> StoreResult<()> {
    if tx.backend() == crate::db::Backend::Postgres {
        let h = keys.stable_email_hash(a.email.as_str());
        let lock = i64::from_be_bytes(h[..8].try_into().expect("32-byte hash"));
        tx.exec("SELECT pg_advisory_xact_lock($1)", args![lock])
            .await?;
    }
    let live = live_lookup_epochs(tx, keys).await?;
    if find_by_lookups(tx, &keys.email_lookups(&live, a.email.as_str()))
        .await?
        .is_some()
    {
        return Err(StoreError::Conflict("email".into()));
    }
    let id = a.id.to_text();
    let (dk, wrapped) = keys.new_data_key(&id);
    let epoch = crate::crypto::wrapped_epoch(&wrapped);
    let lookup = keys.email_lookup(epoch, a.email.as_str())?;
    let epoch = epoch.map(|e| e as i64);
    tx.exec(
        "INSERT INTO accounts (id, kind, role, state, email_lookup, email_enc, legal_name_enc, data_key_wrapped, key_epoch, password_hash, data_changed_at, state_changed_at, created_at) \
         VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, $10, $8, $9, $9, $9)",
        args![
            id.clone(),
            a.kind.as_str(),
            a.role.as_str(),
            lookup,
            dk.seal_field("accounts", "email", &id, a.email.as_str()),
            dk.seal_field("accounts", "legal_name", &id, &a.legal_name),
            wrapped,
            a.password_hash.clone(),
            a.now,
            epoch
        ],
    )
    .await
    .map_err(|e| match e {
        StoreError::Conflict(_) => StoreError::Conflict("email".into()),
        e => e,
    })?;
    tx.exec(
        "INSERT INTO profiles (account_id, display_name_enc, headline_enc, bio_enc, visibility, availability, paused_until, notifications, hourly_rate_minor, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        args![
            id.clone(),
            dk.seal_field("profiles", "display_name", &id, &a.display_name),
            dk.seal_field("profiles", "headline", &id, &a.headline),
            dk.seal_field("profiles", "bio", &id, &a.bio),
            a.settings.visibility.as_str(),
            a.settings.availability.as_str(),
            a.settings.paused_until,
            a.settings.notifications.as_str(),
            a.hourly_rate_minor,
            a.now
        ],
    )
    .await?;
    Ok(())
}

/// Replaces what a sign-up chose (kind, legal name, password, profile text and settings) on an
/// account nobody has confirmed yet: a new sign-up of the same address wins over the earlier
/// one, since neither proved to own the address. The id, address and data key stay.
pub async fn replace_signup(tx: &mut Tx, keys: &Keyring, a: &NewAccount) -> StoreResult<()> {
    let id = a.id.to_text();
    let dk = get(tx, a.id).await?.data_key(keys)?;
    tx.exec(
        "UPDATE accounts SET kind = $2, legal_name_enc = $3, password_hash = $4, failed_logins = 0, locked_until = NULL, data_changed_at = $5 WHERE id = $1",
        args![
            id.clone(),
            a.kind.as_str(),
            dk.seal_field("accounts", "legal_name", &id, &a.legal_name),
            a.password_hash.clone(),
            a.now
        ],
    )
    .await?;
    tx.exec(
        "UPDATE profiles SET display_name_enc = $2, headline_enc = $3, bio_enc = $4, visibility = $5, availability = $6, paused_until = $7, notifications = $8, updated_at = $9 WHERE account_id = $1",
        args![
            id.clone(),
            dk.seal_field("profiles", "display_name", &id, &a.display_name),
            dk.seal_field("profiles", "headline", &id, &a.headline),
            dk.seal_field("profiles", "bio", &id, &a.bio),
            a.settings.visibility.as_str(),
            a.settings.availability.as_str(),
            a.settings.paused_until,
            a.settings.notifications.as_str(),
            a.now
        ],
    )
    .await?;
    Ok(())
}

/// An account by id.
pub async fn get(tx: &mut Tx, id: AccountId) -> StoreResult<AccountRow> {
    tx.one(
        "SELECT id, kind, role, state, password_hash, data_key_wrapped, failed_logins, locked_until, deletion_due_at, data_changed_at, state_changed_at, created_at FROM accounts WHERE id = $1",
        args![id.to_text()],
    )
    .await
}

/// An account by id, locking the row on PostgreSQL so concurrent transitions serialize
/// (SQLite's `BEGIN IMMEDIATE` already serializes writers).
pub async fn get_for_update(tx: &mut Tx, id: AccountId) -> StoreResult<AccountRow> {
    match tx.backend() {
        crate::db::Backend::Sqlite => get(tx, id).await,
        crate::db::Backend::Postgres => {
            tx.one(
                "SELECT id, kind, role, state, password_hash, data_key_wrapped, failed_logins, locked_until, deletion_due_at, data_changed_at, state_changed_at, created_at FROM accounts WHERE id = $1 FOR UPDATE",
                args![id.to_text()],
            )
            .await
        }
    }
}

/// The account registered under an email address, if any: searched under every epoch live
/// accounts are recorded under (remembered for a few seconds, see
/// [`Keyring::lookup_epochs`]), so the same work is done for every address.
pub async fn find_by_email(
    tx: &mut Tx,
    keys: &Keyring,
    email: &Email,
) -> StoreResult<Option<AccountRow>> {
    let live = match keys.lookup_epochs() {
        Some(live) => live,
        None => live_lookup_epochs(tx, keys).await?,
    };
    find_by_lookups(tx, &keys.email_lookups(&live, email.as_str())).await
}

/// The epochs live accounts are recorded under, read from the database (and remembered).
pub(crate) async fn live_lookup_epochs(
    tx: &mut Tx,
    keys: &Keyring,
) -> StoreResult<Vec<Option<u64>>> {
    let live: Vec<Option<u64>> = crate::key_epochs::live(tx)
        .await?
        .into_iter()
        .map(|e| e.and_then(|e| u64::try_from(e).ok()))
        .collect();
    keys.remember_lookup_epochs(live.clone());
    Ok(live)
}

/// The account stored under any of `lookups`. One statement text per number of lookups
/// (they are few: one per live epoch, plus the current and the next).
pub(crate) async fn find_by_lookups(
    tx: &mut Tx,
    lookups: &[Vec<u8>],
) -> StoreResult<Option<AccountRow>> {
    let mut sql = String::from(
        "SELECT id, kind, role, state, password_hash, data_key_wrapped, failed_logins, locked_until, deletion_due_at, data_changed_at, state_changed_at, created_at FROM accounts WHERE email_lookup IN (",
    );
    for i in 1..=lookups.len() {
        if i > 1 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("${i}"));
    }
    sql.push_str(") ORDER BY created_at, id LIMIT 1");
    let args = lookups.iter().map(|l| Arg::from(l.clone())).collect();
    Ok(tx.all_dyn(&sql, args).await?.into_iter().next())
}

/// The contact email and legal name, decrypted.
pub async fn contact(tx: &mut Tx, keys: &Keyring, id: AccountId) -> StoreResult<(Email, String)> {
    #[derive(sqlx::FromRow)]
    struct ContactRow {
        email_enc: Option<Vec<u8>>,
        legal_name_enc: Option<Vec<u8>>,
        data_key_wrapped: Option<Vec<u8>>,
    }
    let idt = id.to_text();
    let r: ContactRow = tx
        .one(
            "SELECT email_enc, legal_name_enc, data_key_wrapped FROM accounts WHERE id = $1",
            args![idt.clone()],
        )
        .await?;
    let dk = keys.unwrap_data_key(&idt, r.data_key_wrapped.as_deref())?;
    let email = dk.open_field(
        "accounts",
        "email",
        &idt,
        r.email_enc.as_deref().ok_or(StoreError::KeyDestroyed)?,
    )?;
    let name = dk.open_field(
        "accounts",
        "legal_name",
        &idt,
        r.legal_name_enc
            .as_deref()
            .ok_or(StoreError::KeyDestroyed)?,
    )?;
    let email = Email::parse(&email).map_err(|_| StoreError::Corrupt("stored email".into()))?;
    Ok((email, name))
}

/// The contact email and legal name, each decrypted on its own: erasure goes on when one of
/// them (or the data key) is already gone or no longer opens, and says which.
pub async fn contact_each(
    tx: &mut Tx,
    keys: &Keyring,
    id: AccountId,
) -> StoreResult<(StoreResult<Email>, StoreResult<String>)> {
    #[derive(sqlx::FromRow)]
    struct ContactRow {
        email_enc: Option<Vec<u8>>,
        legal_name_enc: Option<Vec<u8>>,
        data_key_wrapped: Option<Vec<u8>>,
    }
    let idt = id.to_text();
    let r: ContactRow = tx
        .one(
            "SELECT email_enc, legal_name_enc, data_key_wrapped FROM accounts WHERE id = $1",
            args![idt.clone()],
        )
        .await?;
    let dk = match keys.unwrap_data_key(&idt, r.data_key_wrapped.as_deref()) {
        Ok(dk) => dk,
        Err(e) => {
            let again = || match &e {
                StoreError::KeyDestroyed => StoreError::KeyDestroyed,
                other => StoreError::Corrupt(other.to_string()),
            };
            return Ok((Err(again()), Err(again())));
        }
    };
    let open = |field: &str, sealed: Option<&[u8]>| -> StoreResult<String> {
        dk.open_field(
            "accounts",
            field,
            &idt,
            sealed.ok_or(StoreError::KeyDestroyed)?,
        )
    };
    let email = open("email", r.email_enc.as_deref())
        .and_then(|e| Email::parse(&e).map_err(|_| StoreError::Corrupt("stored email".into())));
    let name = open("legal_name", r.legal_name_enc.as_deref());
    Ok((email, name))
}

/// Sets the lifecycle state (and the deletion date for `deletion_scheduled`).
pub async fn set_state(
    tx: &mut Tx,
    id: AccountId,
    state: AccountState,
    deletion_due_at: Option<Micros>,
    now: Micros,
) -> StoreResult<()> {
    let n = tx
        .exec(
            "UPDATE accounts SET state = $2, deletion_due_at = $3, state_changed_at = $4 WHERE id = $1",
            args![id.to_text(), state.as_str(), deletion_due_at, now],
        )
        .await?;
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Records a failed login; locks the account for `lock_for` after `max_failures`.
pub async fn record_login_failure(
    tx: &mut Tx,
    id: AccountId,
    max_failures: i64,
    now: Micros,
    lock_for: Micros,
) -> StoreResult<()> {
    tx.exec(
        "UPDATE accounts SET failed_logins = failed_logins + 1, \
         locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END WHERE id = $1",
        args![id.to_text(), max_failures, now + lock_for],
    )
    .await?;
    Ok(())
}

/// Clears the failure count after a successful login.
pub async fn reset_login_failures(tx: &mut Tx, id: AccountId) -> StoreResult<()> {
    tx.exec(
        "UPDATE accounts SET failed_logins = 0, locked_until = NULL WHERE id = $1",
        args![id.to_text()],
    )
    .await?;
    Ok(())
}

/// Replaces the password hash.
pub async fn set_password_hash(tx: &mut Tx, id: AccountId, hash: &str) -> StoreResult<()> {
    tx.exec(
        "UPDATE accounts SET password_hash = $2 WHERE id = $1",
        args![id.to_text(), hash.to_string()],
    )
    .await?;
    Ok(())
}

/// Marks that the member's data changed, so an earlier export is no longer current.
///
/// The rows are updated in the order of their ids, as [`lock_in_order`] takes them, so two
/// transactions that touch the same two members never wait on each other crosswise (a
/// deadlock on PostgreSQL).
pub async fn touch_data(tx: &mut Tx, ids: &[&AccountId], now: Micros) -> StoreResult<()> {
    let mut ids: Vec<String> = ids.iter().map(|id| id.to_text()).collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        tx.exec(
            "UPDATE accounts SET data_changed_at = $2 WHERE id = $1",
            args![id, now],
        )
        .await?;
    }
    Ok(())
}

/// Whether `a`'s row is locked before `b`'s when a transaction locks both: by id, the order
/// [`touch_data`] updates them in.
pub fn lock_in_order(a: AccountId, b: AccountId) -> bool {
    a.to_text() <= b.to_text()
}

/// Number of accounts per state.
pub async fn count_by_state(tx: &mut Tx) -> StoreResult<Vec<(String, i64)>> {
    tx.all(
        // Pseudonym accounts stand in for erased members in others' records; the erased
        // member is counted once, by their tombstone.
        "SELECT state, COUNT(*) FROM accounts WHERE pseudonym IS NULL GROUP BY state ORDER BY state",
        args![],
    )
    .await
}

/// Whether rows may still be attached to an account (outbox events, mail, cancel links,
/// webhook deliveries, jobs, sessions, audit events): not once its erasure has begun, or the
/// erasure, which cleans each table once, would leave them behind naming the tombstone.
///
/// On PostgreSQL the account row stays locked `FOR SHARE` until the caller's transaction
/// ends. The erasure's first step locks it `FOR UPDATE` and marks it deleted, so either the
/// caller commits first (and its rows are there for the erasure to clean) or the caller sees
/// the account deleted and attaches nothing. SQLite has one writer at a time: a read in the
/// caller's write transaction sees the latest state. Pseudonym accounts (deleted too) keep
/// their retained records' events. An id with no account is not a tombstone either.
pub async fn attachable(tx: &mut Tx, id: &str) -> StoreResult<bool> {
    #[derive(sqlx::FromRow)]
    struct S {
        state: String,
        pseudonym: Option<String>,
    }
    let row: Option<S> = match tx.backend() {
        crate::db::Backend::Sqlite => {
            tx.opt(
                "SELECT state, pseudonym FROM accounts WHERE id = $1",
                args![id.to_string()],
            )
            .await?
        }
        crate::db::Backend::Postgres => {
            tx.opt(
                "SELECT state, pseudonym FROM accounts WHERE id = $1 FOR SHARE",
                args![id.to_string()],
            )
            .await?
        }
    };
    Ok(row.is_none_or(|r| r.state != "deleted" || r.pseudonym.is_some()))
}

/// Whether `id` is the tombstone an erased member left: deleted, and not one of the pseudonym
/// accounts that stand in for erased members in others' records.
pub async fn is_tombstone(tx: &mut Tx, id: AccountId) -> StoreResult<bool> {
    let n: i64 = tx
        .scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM accounts WHERE id = $1 AND state = 'deleted' AND pseudonym IS NULL",
            args![id.to_text()],
        )
        .await?;
    Ok(n > 0)
}
