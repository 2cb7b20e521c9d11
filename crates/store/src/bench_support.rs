//! The SQL the erasure benchmark (`hiatus-bench erase`) runs beside the executor: the floor
//! it measures the executor against (`scripts/bench-erase-floor.sql`, the executor's row
//! changes written by hand), the blockers it settles by hand before scheduling the deletion,
//! the end-state counts every run must reach, and the copies of a PostgreSQL database each
//! run starts from. Compiled only with the `generator` feature: none of it is part of the
//! product.

use crate::args;
use crate::db::{Arg, Backend, Tx};
use crate::error::{StoreError, StoreResult};
use crate::policy::Policy;
use std::collections::{BTreeMap, BTreeSet};

/// The floor of the erasure benchmark: the executor's row changes, by hand, one statement
/// after the other, with `:name` placeholders.
pub const ERASE_FLOOR: &str = include_str!("../../../scripts/bench-erase-floor.sql");

/// What redacted history entries hold (the policy's placeholder).
pub const REDACTED: &str = "{\"redacted\":true}";

/// One statement of the floor script, with numbered parameters.
pub struct FloorStatement {
    /// The statement as written, on one line.
    pub text: String,
    /// With `$1`, `$2`, … in place of the names.
    sql: String,
    /// The names, in parameter order.
    pub names: Vec<String>,
}

impl FloorStatement {
    /// Runs the statement with one value per name (in the order of [`FloorStatement::names`]);
    /// returns the rows it changed.
    pub async fn run(&self, tx: &mut Tx, values: Vec<Arg>) -> StoreResult<u64> {
        tx.exec_dyn(&self.sql, values).await
    }
}

/// Splits a floor script into statements (a `;` ends one; `--` lines are comments) and numbers
/// the `:name` placeholders of each.
pub fn parse_floor(script: &str) -> StoreResult<Vec<FloorStatement>> {
    let body: String = script
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    for raw in body.split(';') {
        let text = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            continue;
        }
        let mut sql = String::new();
        let mut names: Vec<String> = Vec::new();
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                quoted = !quoted;
            }
            if c == ':' && !quoted && chars.peek().is_some_and(|n| n.is_ascii_lowercase()) {
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_lowercase() || n.is_ascii_digit() || n == '_' {
                        name.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                let i = match names.iter().position(|x| *x == name) {
                    Some(i) => i,
                    None => {
                        names.push(name);
                        names.len() - 1
                    }
                };
                sql.push_str(&format!("${}", i + 1));
            } else {
                sql.push(c);
            }
        }
        if quoted {
            return Err(StoreError::Config(format!(
                "unterminated quote in the floor script: {text}"
            )));
        }
        out.push(FloorStatement { text, sql, names });
    }
    if out.is_empty() {
        return Err(StoreError::Config(
            "the floor script has no statements".into(),
        ));
    }
    Ok(out)
}

/// Settles what blocks the member's deletion, directly in the database: contracts ended,
/// money released, payouts settled, the balance emptied, invoices paid, disputes resolved.
const SETTLE: [&str; 6] = [
    "UPDATE contracts SET status = 'ended', ended_at = COALESCE(ended_at, $2) \
     WHERE (freelancer_id = $1 OR client_id = $1) AND status <> 'ended'",
    "UPDATE payments SET status = 'released', updated_at = $2 \
     WHERE (payer_id = $1 OR payee_id = $1) AND status IN ('in_escrow', 'pending_release')",
    "UPDATE payouts SET status = 'settled', settles_at = $2 WHERE account_id = $1 AND status = 'scheduled'",
    "UPDATE balances SET available_minor = 0, debt_minor = 0, updated_at = $2 WHERE account_id = $1",
    "UPDATE invoices SET status = 'paid', paid_at = $2 WHERE recipient_id = $1 AND status = 'unpaid'",
    "UPDATE disputes SET status = 'resolved', resolved_at = $2 WHERE status = 'open' AND contract_id IN \
     (SELECT id FROM contracts WHERE freelancer_id = $1 OR client_id = $1)",
];

/// Settles every blocker of the member's deletion by direct SQL (see [`SETTLE`]).
pub async fn settle_blockers(tx: &mut Tx, member: &str, now: i64) -> StoreResult<()> {
    for sql in SETTLE {
        tx.exec(sql, args![member, now]).await?;
    }
    Ok(())
}

/// The size of the database in bytes on PostgreSQL; 0 on SQLite (measure the file there).
pub async fn database_bytes(tx: &mut Tx) -> StoreResult<i64> {
    match tx.backend() {
        Backend::Postgres => {
            tx.scalar("SELECT pg_database_size(current_database())", args![])
                .await
        }
        Backend::Sqlite => Ok(0),
    }
}

/// Renews the executor's lease on a running erasure held by `holder`, as the executor does
/// before each batch; returns the rows changed (1 while the lease is held).
pub async fn renew_erasure_lease(
    tx: &mut Tx,
    member: &str,
    holder: &str,
    until: i64,
) -> StoreResult<u64> {
    tx.exec(
        "UPDATE erasures SET locked_until = $3 WHERE account_id = $1 AND locked_by = $2 AND status = 'running'",
        args![member, holder, until],
    )
    .await
}

/// Row counts after an erasure: every table of the policy; every member column of the rules,
/// for the member's and for the pseudonym's id; redacted history entries; jobs still naming
/// the member; the tombstone; the finished erasure row. Two runs that end alike have equal
/// counts.
pub async fn end_state(
    tx: &mut Tx,
    policy: &Policy,
    member: &str,
    pseudonym: &str,
) -> StoreResult<BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    for t in policy.tables.keys() {
        let n: i64 = tx
            .scalar_dyn(&format!("SELECT COUNT(*) FROM {t}"), vec![])
            .await?;
        out.insert(format!("{t}: rows"), n);
    }
    let cols: BTreeSet<(String, String)> = policy
        .rules
        .iter()
        .filter_map(|r| r.member.clone().map(|c| (r.table.clone(), c)))
        .collect();
    for (t, c) in cols {
        for (who, id) in [("member", member), ("pseudonym", pseudonym)] {
            let n: i64 = tx
                .scalar_dyn(
                    &format!("SELECT COUNT(*) FROM {t} WHERE {c} = $1"),
                    vec![Arg::from(id)],
                )
                .await?;
            out.insert(format!("{t}.{c} = {who}"), n);
        }
    }
    let checks: [(&str, &'static str, Vec<Arg>); 4] = [
        (
            "audit_events: redacted",
            "SELECT COUNT(*) FROM audit_events WHERE detail = $1",
            args![REDACTED],
        ),
        (
            "jobs: naming the member",
            "SELECT COUNT(*) FROM jobs WHERE payload LIKE $1",
            args![format!("%\"account_id\":\"{member}\"%")],
        ),
        (
            "accounts: the tombstone, cleared",
            "SELECT COUNT(*) FROM accounts WHERE id = $1 AND state = 'deleted' AND email_enc IS NULL \
             AND legal_name_enc IS NULL AND data_key_wrapped IS NULL AND password_hash IS NULL",
            args![member],
        ),
        (
            "erasures: done, unlinked",
            "SELECT COUNT(*) FROM erasures WHERE account_id = $1 AND status = 'done' AND pseudonym_id IS NULL",
            args![member],
        ),
    ];
    for (key, sql, args) in checks {
        out.insert(key.to_string(), tx.scalar::<i64>(sql, args).await?);
    }
    Ok(out)
}

/// Copies of a PostgreSQL database, made with `CREATE DATABASE … TEMPLATE` on the server
/// `admin_url` points at (a database URL of that server, e.g. its `postgres` database).
/// `CREATE DATABASE` cannot run in a transaction, so these statements run on a connection of
/// their own.
pub mod postgres_copies {
    use crate::error::{StoreError, StoreResult};
    use sqlx::Connection;

    /// Names go into the statements as they are: plain lower-case names only.
    fn plain(name: &str) -> StoreResult<()> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(StoreError::Config(format!(
                "the database name {name:?} is not a plain lower-case name"
            )));
        }
        Ok(())
    }

    async fn run(admin_url: &str, sql: String) -> StoreResult<()> {
        let mut c = sqlx::PgConnection::connect(admin_url).await?;
        let done = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await;
        c.close().await?;
        done?;
        Ok(())
    }

    /// Makes `name` a fresh copy of `template` (dropping an older `name` first), with nothing
    /// left to write out afterwards.
    pub async fn copy(admin_url: &str, template: &str, name: &str) -> StoreResult<()> {
        plain(template)?;
        drop(admin_url, name).await?;
        // FILE_COPY checkpoints before and after the copy: the timed run starts with nothing
        // left to write out. (Before PostgreSQL 15: the default.)
        let file_copy = format!("CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY");
        if run(admin_url, file_copy).await.is_err() {
            run(
                admin_url,
                format!("CREATE DATABASE {name} TEMPLATE {template}"),
            )
            .await?;
            let _ = run(admin_url, "CHECKPOINT".into()).await;
        }
        Ok(())
    }

    /// Drops the database `name` if it exists, closing its connections.
    pub async fn drop(admin_url: &str, name: &str) -> StoreResult<()> {
        plain(name)?;
        run(
            admin_url,
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_script_parses_and_numbers_its_placeholders() {
        let s = parse_floor(ERASE_FLOOR).unwrap();
        assert!(s.len() > 30, "{}", s.len());
        let msgs = s
            .iter()
            .find(|s| s.text.starts_with("UPDATE messages"))
            .unwrap();
        assert_eq!(
            msgs.sql,
            "UPDATE messages SET author_id = $1 WHERE author_id = $2"
        );
        assert_eq!(msgs.names, ["pseudonym", "member"]);
        assert!(
            s.iter().all(|s| !s.sql.contains(':')),
            "every name replaced"
        );
    }

    #[test]
    fn a_script_without_statements_or_with_an_open_quote_is_refused() {
        assert!(parse_floor("-- nothing\n").is_err());
        assert!(parse_floor("UPDATE t SET a = 'x WHERE b = :member;").is_err());
    }
}
