//! Rows in, multi-row `INSERT` statements out. The generator fills one buffer per table and
//! hands over a full batch at a time; the loader turns each batch into one statement with as
//! many rows as the backend's bound-parameter limit allows.

use crate::db::{Arg, Backend};
use std::collections::HashMap;
use tokio::sync::mpsc;

/// The tables the generator fills, parents before children.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Accounts,
    Profiles,
    Balances,
    Proposals,
    Contracts,
    Milestones,
    Payments,
    Invoices,
    Payouts,
    Disputes,
    Threads,
    ThreadParticipants,
    Messages,
    Submissions,
    Files,
    Reviews,
}

impl Table {
    /// Every table, in load order.
    pub const ALL: [Table; 16] = [
        Table::Accounts,
        Table::Profiles,
        Table::Balances,
        Table::Proposals,
        Table::Contracts,
        Table::Milestones,
        Table::Payments,
        Table::Invoices,
        Table::Payouts,
        Table::Disputes,
        Table::Threads,
        Table::ThreadParticipants,
        Table::Messages,
        Table::Submissions,
        Table::Files,
        Table::Reviews,
    ];

    /// The table's name in the schema.
    pub fn name(self) -> &'static str {
        match self {
            Table::Accounts => "accounts",
            Table::Profiles => "profiles",
            Table::Balances => "balances",
            Table::Proposals => "proposals",
            Table::Contracts => "contracts",
            Table::Milestones => "milestones",
            Table::Payments => "payments",
            Table::Invoices => "invoices",
            Table::Payouts => "payouts",
            Table::Disputes => "disputes",
            Table::Threads => "threads",
            Table::ThreadParticipants => "thread_participants",
            Table::Messages => "messages",
            Table::Submissions => "submissions",
            Table::Files => "files",
            Table::Reviews => "reviews",
        }
    }

    /// The columns the generator writes, in the order its rows list them.
    pub(crate) fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Accounts => &[
                "id",
                "kind",
                "role",
                "state",
                "email_lookup",
                "email_enc",
                "legal_name_enc",
                "data_key_wrapped",
                "key_epoch",
                "password_hash",
                "data_changed_at",
                "state_changed_at",
                "created_at",
            ],
            Table::Profiles => &[
                "account_id",
                "display_name_enc",
                "headline_enc",
                "bio_enc",
                "visibility",
                "availability",
                "notifications",
                "break_prev_visibility",
                "break_prev_notifications",
                "hourly_rate_minor",
                "updated_at",
            ],
            Table::Balances => &[
                "account_id",
                "currency",
                "available_minor",
                "debt_minor",
                "updated_at",
            ],
            Table::Proposals => &[
                "id",
                "kind",
                "freelancer_id",
                "client_id",
                "sender_id",
                "cover_letter_enc",
                "status",
                "created_at",
            ],
            Table::Contracts => &[
                "id",
                "client_id",
                "freelancer_id",
                "title",
                "status",
                "currency",
                "created_at",
                "ended_at",
            ],
            Table::Milestones => &[
                "id",
                "contract_id",
                "title",
                "amount_minor",
                "currency",
                "status",
                "created_at",
            ],
            Table::Payments => &[
                "id",
                "contract_id",
                "milestone_id",
                "payer_id",
                "payee_id",
                "amount_minor",
                "currency",
                "status",
                "created_at",
                "updated_at",
            ],
            Table::Invoices => &[
                "id",
                "number",
                "contract_id",
                "issuer_id",
                "recipient_id",
                "description",
                "amount_minor",
                "currency",
                "status",
                "issued_at",
                "due_at",
                "paid_at",
            ],
            Table::Payouts => &[
                "id",
                "account_id",
                "amount_minor",
                "currency",
                "status",
                "created_at",
                "settles_at",
            ],
            Table::Disputes => &[
                "id",
                "contract_id",
                "opened_by",
                "status",
                "created_at",
                "resolved_at",
            ],
            Table::Threads => &[
                "id",
                "contract_id",
                "subject",
                "created_at",
                "last_message_at",
            ],
            Table::ThreadParticipants => &["thread_id", "account_id"],
            Table::Messages => &["id", "thread_id", "author_id", "body", "created_at"],
            Table::Submissions => &["id", "contract_id", "freelancer_id", "note", "created_at"],
            Table::Files => &[
                "id",
                "owner_id",
                "kind",
                "submission_id",
                "blob_key",
                "name",
                "content_type",
                "size_bytes",
                "sha256",
                "encrypted",
                "created_at",
            ],
            Table::Reviews => &[
                "id",
                "contract_id",
                "author_id",
                "subject_id",
                "rating",
                "body",
                "created_at",
            ],
        }
    }
}

impl Table {
    /// The tables this one's foreign keys point at (among those the generator fills).
    pub(crate) fn parents(self) -> &'static [Table] {
        use Table::*;
        match self {
            Accounts => &[],
            Profiles | Balances | Payouts | Proposals | Contracts => &[Accounts],
            Milestones => &[Contracts],
            Payments => &[Contracts, Milestones, Accounts],
            Invoices | Disputes | Submissions | Reviews => &[Contracts, Accounts],
            Threads => &[Contracts],
            ThreadParticipants | Messages => &[Threads, Accounts],
            Files => &[Submissions, Accounts],
        }
    }
}

/// The most bound parameters one statement may carry: SQLite's default
/// `SQLITE_MAX_VARIABLE_NUMBER` (32,766) and PostgreSQL's 16-bit parameter count (65,535).
pub(crate) fn max_params(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 32_766,
        Backend::Postgres => 65_535,
    }
}

/// Rows per statement for a table: as many as the parameter limit allows.
pub(crate) fn rows_per_statement(backend: Backend, table: Table) -> usize {
    max_params(backend) / table.columns().len()
}

/// Work for the loader, in the order it must be done.
pub(crate) enum Work {
    /// The size of the whole load, known before the first row.
    Planned { rows: u64, file_bytes: u64 },
    /// `rows` rows of `table`, their values row after row.
    Rows {
        table: Table,
        rows: usize,
        args: Vec<Arg>,
    },
    /// The bytes of one file.
    Blob { key: String, bytes: Vec<u8> },
    /// The lane waits here until the other lane reaches its barrier too (or ends): rows
    /// after the barrier may refer to rows either lane sent before it.
    Barrier,
}

/// The loader went away (it failed); the generator stops quietly and the loader reports why.
#[derive(Debug)]
pub(crate) struct Stopped;

struct Buffer {
    args: Vec<Arg>,
    rows: usize,
    capacity: usize,
}

/// The generator's end of the pipe: one buffer per table, sent on when full.
pub(crate) struct Sink {
    out: mpsc::Sender<Work>,
    buffers: Vec<Buffer>,
}

impl Sink {
    pub(crate) fn new(out: mpsc::Sender<Work>, backend: Backend) -> Self {
        let buffers = Table::ALL
            .iter()
            .map(|t| Buffer {
                args: Vec::new(),
                rows: 0,
                capacity: rows_per_statement(backend, *t),
            })
            .collect();
        Self { out, buffers }
    }

    pub(crate) fn send(&mut self, w: Work) -> Result<(), Stopped> {
        self.out.blocking_send(w).map_err(|_| Stopped)
    }

    /// Adds one row; its values must follow [`Table::columns`].
    pub(crate) fn row<const N: usize>(
        &mut self,
        t: Table,
        values: [Arg; N],
    ) -> Result<(), Stopped> {
        debug_assert_eq!(N, t.columns().len(), "{}", t.name());
        // A child batch may fill up before its parents' batch does; buffered parents would
        // then reach the database after their children.
        debug_assert!(
            t.parents()
                .iter()
                .all(|p| self.buffers[*p as usize].rows == 0),
            "flush the parents of {} before writing its rows",
            t.name()
        );
        let b = &mut self.buffers[t as usize];
        if b.args.is_empty() {
            b.args.reserve_exact(b.capacity * N);
        }
        b.args.extend(values);
        b.rows += 1;
        if b.rows == b.capacity {
            self.flush(t)?;
        }
        Ok(())
    }

    /// Sends what is buffered for a table. Call it before generating rows that reference
    /// the table, so parents always reach the database before their children.
    pub(crate) fn flush(&mut self, t: Table) -> Result<(), Stopped> {
        let b = &mut self.buffers[t as usize];
        if b.rows == 0 {
            return Ok(());
        }
        let args = std::mem::take(&mut b.args);
        let rows = std::mem::replace(&mut b.rows, 0);
        self.send(Work::Rows {
            table: t,
            rows,
            args,
        })
    }

    /// Sends everything still buffered, parents first.
    pub(crate) fn flush_all(&mut self) -> Result<(), Stopped> {
        for t in Table::ALL {
            self.flush(t)?;
        }
        Ok(())
    }
}

/// Builds (and remembers) the `INSERT` text for a number of rows of a table.
#[derive(Default)]
pub(crate) struct Statements {
    cache: HashMap<(Table, usize), String>,
}

impl Statements {
    pub(crate) fn insert(&mut self, backend: Backend, t: Table, rows: usize) -> String {
        self.cache
            .entry((t, rows))
            .or_insert_with(|| insert_sql(backend, t, rows))
            .clone()
    }
}

/// `INSERT INTO t (a, b) VALUES (?, ?), (?, ?)…`. SQLite gets anonymous `?` placeholders:
/// it resolves each numbered `$n` by a linear search over the names seen so far, which
/// turns a 30,000-parameter statement into a noticeable prepare. PostgreSQL needs `$n`.
pub(crate) fn insert_sql(backend: Backend, t: Table, rows: usize) -> String {
    use std::fmt::Write;
    let cols = t.columns();
    let mut s = String::with_capacity(64 + rows * cols.len() * 8);
    let verb = match backend {
        Backend::Sqlite => "INSERT OR ROLLBACK",
        Backend::Postgres => "INSERT",
    };
    let _ = write!(s, "{verb} INTO {} ({}) VALUES ", t.name(), cols.join(", "));
    let mut n = 0usize;
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push('(');
        for c in 0..cols.len() {
            if c > 0 {
                s.push(',');
            }
            n += 1;
            match backend {
                Backend::Sqlite => s.push('?'),
                Backend::Postgres => {
                    let _ = write!(s, "${n}");
                }
            }
        }
        s.push(')');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_fit_the_parameter_limits() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            for t in Table::ALL {
                let rows = rows_per_statement(backend, t);
                assert!(rows * t.columns().len() <= max_params(backend));
                assert!(rows > 100, "{} gets only {rows} rows", t.name());
            }
        }
    }

    #[test]
    fn sql_lists_every_placeholder() {
        assert_eq!(
            insert_sql(Backend::Postgres, Table::ThreadParticipants, 2),
            "INSERT INTO thread_participants (thread_id, account_id) VALUES ($1,$2),($3,$4)"
        );
        assert_eq!(
            insert_sql(Backend::Sqlite, Table::ThreadParticipants, 2),
            "INSERT OR ROLLBACK INTO thread_participants (thread_id, account_id) VALUES (?,?),(?,?)"
        );
    }
}
