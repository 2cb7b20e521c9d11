//! Test support shared by every crate of hiatus (a dev-dependency only):
//!
//! - [`ScratchDb`]: a throwaway SQLite file or PostgreSQL database, migrated or not;
//! - [`on_both!`]: runs test bodies once on SQLite and once on PostgreSQL;
//! - the test tiers: the full tier (what CI runs) needs PostgreSQL and fails without it, the
//!   fast tier (`HIATUS_TEST_TIER=fast`, set by `scripts/test --fast`) skips the PostgreSQL
//!   halves with a note;
//! - [`dump`]: every row of every table, canonical, for before/after comparisons;
//! - [`actor`] and [`member_actor`]: the `Actor` a logged-in session would give;
//! - [`sha256_hex`], [`files_under`] and the attack table ([`report_attack!`]).

#![forbid(unsafe_code)]

pub mod attacks;
pub mod dump;
mod scratch;

pub use dump::{Dump, dump, dump_diff, dump_with};
/// The store itself, for the tests of crates above the service that must set up a state no
/// request can create (a crashed worker's export, a balance at its bound, a known
/// confirmation token). Those crates depend on the service only; their tests reach below it
/// through the kit, in plain sight.
pub use hiatus_store as store;
/// The named queries tests inspect (or tamper with) rows through: the only SQL of the suite
/// outside the store's own tests.
pub use hiatus_store::testing;
pub use scratch::{ScratchDb, admin_url, with_database};

use hiatus_domain::{AccountId, AccountKind, AccountState, Role};
use hiatus_service::{Actor, Hiatus};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// Which database a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `Postgres` when `postgres` is true.
    pub fn postgres_if(postgres: bool) -> Backend {
        if postgres {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// The backend's name in test output.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Tests written as `async fn name(postgres: bool)` run under [`on_both!`] too.
impl From<Backend> for bool {
    fn from(b: Backend) -> bool {
        b == Backend::Postgres
    }
}

/// The variable that selects the test tier; `fast` is the only value besides the default.
pub const TIER_VAR: &str = "HIATUS_TEST_TIER";

/// True in the fast tier (`HIATUS_TEST_TIER=fast`, see `scripts/test --fast`).
pub fn fast_tier() -> bool {
    std::env::var(TIER_VAR).is_ok_and(|t| t == "fast")
}

/// Whether a test on PostgreSQL is skipped: in the fast tier it is, with a note on the test's
/// output; in the full tier never (a missing server then fails the test, see [`admin_url`]).
/// Every test that runs on PostgreSQL starts with it (or runs under [`on_both!`]).
#[must_use]
pub fn skip_postgres() -> bool {
    if fast_tier() {
        eprintln!("note: skipped on PostgreSQL ({TIER_VAR}=fast)");
        true
    } else {
        false
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every file under `dir`, by path relative to it, with the SHA-256 of its bytes (empty when
/// `dir` does not exist).
pub fn files_under(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.expect("a folder entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .expect("under the root")
                    .to_string_lossy()
                    .to_string();
                out.insert(rel, sha256_hex(&std::fs::read(&p).expect("a file")));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The actor of an account, as after a login with the password entered just now: role, kind
/// and state as stored.
pub async fn actor(h: &Hiatus, id: AccountId, session_id: &str) -> Actor {
    let mut tx = h.db.read().await.expect("read transaction");
    let row = hiatus_store::accounts::get(&mut tx, id)
        .await
        .expect("the account exists");
    tx.commit().await.expect("commit");
    Actor {
        account: id,
        session_id: session_id.into(),
        role: row.role().expect("role"),
        kind: row.kind().expect("kind"),
        state: row.state().expect("state"),
        reauth_at: h.now(),
    }
}

/// The actor of an active member of `kind` signed up just now, without reading the database.
pub fn member_actor(h: &Hiatus, id: AccountId, kind: AccountKind) -> Actor {
    Actor {
        account: id,
        session_id: String::new(),
        role: Role::Member,
        kind,
        state: AccountState::Active,
        reauth_at: h.now(),
    }
}

/// Runs each listed test body once per backend, as `sqlite::<name>` and `postgres::<name>`;
/// the PostgreSQL half is skipped in the fast tier (see [`skip_postgres`]).
///
/// - `on_both!(a, b)`: `async fn a(backend)` in the calling module, where `backend` is a
///   [`Backend`] or a `bool` (true on PostgreSQL);
/// - `on_both!(#[tokio::test(flavor = "multi_thread")] a, b)`: with another test attribute;
/// - `on_both!(|backend, body| { … }; a, b)`: through a harness that starts what the body
///   needs (write paths from the crate root: the tests sit in modules of their own);
/// - `on_both!(mod sqlite_mail, postgres_mail; |backend, body| { … }; a, b)`: in modules of
///   other names, to use the macro twice in one file.
#[macro_export]
macro_rules! on_both {
    (mod $sqlite:ident, $postgres:ident; #[$attr:meta] |$b:ident, $f:ident| $run:block; $($name:ident),* $(,)?) => {
        mod $sqlite {
            $(
                #[$attr]
                async fn $name() {
                    let $b = $crate::Backend::Sqlite;
                    let $f = super::$name;
                    $run
                }
            )*
        }
        mod $postgres {
            $(
                #[$attr]
                async fn $name() {
                    if $crate::skip_postgres() {
                        return;
                    }
                    let $b = $crate::Backend::Postgres;
                    let $f = super::$name;
                    $run
                }
            )*
        }
    };
    (mod $sqlite:ident, $postgres:ident; |$b:ident, $f:ident| $run:block; $($name:ident),* $(,)?) => {
        $crate::on_both!(mod $sqlite, $postgres; #[tokio::test] |$b, $f| $run; $($name),*);
    };
    (|$b:ident, $f:ident| $run:block; $($name:ident),* $(,)?) => {
        $crate::on_both!(mod sqlite, postgres; #[tokio::test] |$b, $f| $run; $($name),*);
    };
    (#[$attr:meta] $($name:ident),* $(,)?) => {
        $crate::on_both!(mod sqlite, postgres; #[$attr] |backend, body| {
            body(backend.into()).await
        }; $($name),*);
    };
    ($($name:ident),* $(,)?) => {
        $crate::on_both!(#[tokio::test] $($name),*);
    };
}
