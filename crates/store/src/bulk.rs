//! Deterministic synthetic data at scale, for benchmarks and load tests: a heavy member (or a
//! typical one) with years of contracts, payments, invoices, messages and files, among as many
//! background members as asked for.
//!
//! The same seed gives the same rows and ids on every run and both backends; only ciphertexts
//! differ (every value is sealed with a fresh nonce under a fresh data key, exactly as
//! [`crate::accounts::insert`] seals it) and times, which count back from the `now` given.
//! Two generator threads draw the rows while the loader writes them: multi-row `INSERT`s as
//! large as the backend's parameter limit allows, in one transaction. For the duration of the
//! load SQLite skips fsyncs and foreign-key lookups (`SqliteTuning`) and PostgreSQL checks
//! foreign keys once at the end instead of per row (`PgForeignKeys`).

mod rng;
mod text;
mod tuning;
mod world;
mod writer;

pub use writer::Table;

use crate::blobs::Blobs;
use crate::crypto::Keyring;
use crate::db::{Db, EncodedArgs, Tx};
use crate::error::{StoreError, StoreResult};
use hiatus_domain::Micros;
use serde::Serialize;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tuning::{PgForeignKeys, SqliteTuning};
use world::World;
use writer::{Sink, Statements, Work};

/// The password of every generated account. Synthetic data only: the loader stores one
/// precomputed hash of it for every account, so logins work without hashing per account.
pub const GENERATED_PASSWORD: &str = "hiatus-generated-password";

/// The mail domain of generated accounts (reserved `.test`, never delivered).
pub const GENERATED_DOMAIN: &str = "generated.hiatus.test";

/// How much history one generated member has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub years: i64,
    pub contracts: u32,
    pub clients: u32,
    pub payments: u32,
    pub invoices: u32,
    /// Message threads, one per contract from the oldest on.
    pub threads: u32,
    pub messages: u32,
    pub submissions: u32,
    pub files: u32,
    pub file_bytes: u64,
    pub reviews: u32,
    pub payouts: u32,
    pub disputes: u32,
    pub proposals: u32,
}

impl Shape {
    /// A typical member: 40 contracts, 2,000 messages, 100 files of about 50 MiB in all.
    pub const M: Shape = Shape {
        years: 3,
        contracts: 40,
        clients: 15,
        payments: 160,
        invoices: 120,
        threads: 40,
        messages: 2_000,
        submissions: 50,
        files: 100,
        file_bytes: 50 << 20,
        reviews: 30,
        payouts: 36,
        disputes: 1,
        proposals: 60,
    };

    /// A heavy member over ten years: 2,000 contracts with 600 clients, 8,000 payments,
    /// 6,000 invoices, 200,000 messages in 2,000 threads, 5,000 submission files of about
    /// 1 GiB in all, 1,500 reviews.
    pub const L: Shape = Shape {
        years: 10,
        contracts: 2_000,
        clients: 600,
        payments: 8_000,
        invoices: 6_000,
        threads: 2_000,
        messages: 200_000,
        submissions: 2_500,
        files: 5_000,
        file_bytes: 1 << 30,
        reviews: 1_500,
        payouts: 120,
        disputes: 12,
        proposals: 400,
    };
}

/// What to generate.
#[derive(Clone)]
pub struct Plan {
    pub seed: u64,
    pub shape: Shape,
    /// Members of that shape. The first has nothing blocking deactivation; the others have a
    /// few live contracts, money in escrow and an available balance.
    pub members: u32,
    /// Background members, each with an account and a profile, and one contract for every
    /// two of them.
    pub background: u64,
    /// Write file bytes to the blob store (without, `files` rows point at missing blobs).
    pub files: bool,
    /// Times count back from here.
    pub now: Micros,
    /// The hash of [`GENERATED_PASSWORD`] every account gets.
    pub password_hash: String,
}

/// A generated member one can log in as (with [`GENERATED_PASSWORD`]).
#[derive(Clone, Debug, Serialize)]
pub struct GeneratedMember {
    pub id: String,
    pub email: String,
    /// Nothing blocks deactivation.
    pub free_to_leave: bool,
}

/// What a load wrote.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Rows per table, in load order.
    pub tables: Vec<(&'static str, u64)>,
    pub rows: u64,
    pub files_written: u64,
    pub file_bytes: u64,
    pub seconds: f64,
    pub members: Vec<GeneratedMember>,
}

impl Summary {
    /// Rows written per second of the whole load.
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.seconds.max(1e-9)
    }
}

/// Hears how a load advances (the CLI draws progress bars with it).
pub trait Progress: Sync {
    /// The load's size, known before the first row.
    fn start(&self, _rows: u64, _file_bytes: u64) {}
    /// `n` more rows of `table` are written.
    fn rows(&self, _table: &'static str, _n: u64) {}
    /// `n` more file bytes are stored.
    fn file_bytes(&self, _n: u64) {}
}

/// Hears nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Batches drawn ahead of the database: enough to keep it busy, few enough that memory
/// stays small (a batch is at most one statement's worth of values).
const BATCHES_AHEAD: usize = 4;
/// File writes in flight at once.
const BLOB_WRITES: usize = 8;

/// Generates the plan's data into `db` (and its file bytes into `blobs`, when the plan asks
/// for files). A second load of the same seed into the same database is refused: its ids and
/// emails already exist.
pub async fn load(
    db: &Db,
    keys: &Keyring,
    blobs: Option<&Blobs>,
    plan: &Plan,
    progress: &dyn Progress,
) -> StoreResult<Summary> {
    if plan.files && blobs.is_none() {
        return Err(StoreError::Config(
            "a load with files needs a blob store".into(),
        ));
    }
    let started = Instant::now();
    refuse_second_load(db, keys, plan).await?;
    let tuning = SqliteTuning::apply(db).await?;
    let loaded = write(db, keys, blobs, plan, progress).await;
    if let Some(t) = tuning {
        t.restore(db).await?;
    }
    let (tables, files_written, file_bytes, members) = loaded?;
    Ok(Summary {
        rows: tables.iter().map(|(_, n)| n).sum(),
        tables,
        files_written,
        file_bytes,
        seconds: started.elapsed().as_secs_f64(),
        members,
    })
}

async fn refuse_second_load(db: &Db, keys: &Keyring, plan: &Plan) -> StoreResult<()> {
    let mut tx = db.read().await?;
    let live = crate::accounts::live_lookup_epochs(&mut tx, keys).await?;
    let mut found = false;
    for email in [
        world::member_email(plan.seed, 0),
        world::background_email(plan.seed, 0),
    ] {
        let lookups = keys.email_lookups(&live, &email);
        found |= crate::accounts::find_by_lookups(&mut tx, &lookups)
            .await?
            .is_some();
    }
    tx.commit().await?;
    if found {
        return Err(StoreError::Conflict(format!(
            "this database already holds the data of seed {}: use another seed or a fresh database",
            plan.seed
        )));
    }
    Ok(())
}

type Written = (Vec<(&'static str, u64)>, u64, u64, Vec<GeneratedMember>);

/// A batch whose values are encoded, waiting for the statement before it.
struct Ready {
    table: Table,
    rows: usize,
    sql: String,
    args: EncodedArgs,
}

async fn write(
    db: &Db,
    keys: &Keyring,
    blobs: Option<&Blobs>,
    plan: &Plan,
    progress: &dyn Progress,
) -> StoreResult<Written> {
    let backend = db.backend();
    let (main_out, mut main) = mpsc::channel(BATCHES_AHEAD);
    let (side_out, mut side) = mpsc::channel(BATCHES_AHEAD);
    let generator = {
        let keys = keys.clone();
        let plan = plan.clone();
        tokio::task::spawn_blocking(move || {
            let world = World::new(&plan);
            let main = Sink::new(main_out, backend);
            let side = Sink::new(side_out, backend);
            // A send fails only when the loader has stopped; it reports why.
            let _ = world.generate(&keys, main, side);
            world.generated_members()
        })
    };
    let mut tx: Tx = db.begin().await?;
    let foreign_keys = PgForeignKeys::suspend(&mut tx).await?;
    let mut statements = Statements::default();
    let mut counts = vec![0u64; Table::ALL.len()];
    let mut writes: JoinSet<StoreResult<u64>> = JoinSet::new();
    let (mut files_written, mut file_bytes) = (0u64, 0u64);
    let mut finished = |n: u64| {
        files_written += 1;
        file_bytes += n;
        progress.file_bytes(n);
    };
    let mut ready: Option<Ready> = None;
    let mut lanes = Lanes::default();
    let mut planned = 0u64;
    loop {
        let (lane, w) = tokio::select! {
            w = main.recv(), if lanes.readable(MAIN) => match w {
                Some(w) => (MAIN, w),
                None => { lanes.close(MAIN); continue; }
            },
            w = side.recv(), if lanes.readable(SIDE) => match w {
                Some(w) => (SIDE, w),
                None => { lanes.close(SIDE); continue; }
            },
            else => break,
        };
        match w {
            Work::Planned { rows, file_bytes } => {
                planned = rows;
                progress.start(rows, file_bytes);
            }
            Work::Barrier => lanes.barrier(lane),
            Work::Rows { table, rows, args } => {
                let sql = statements.insert(backend, table, rows);
                let encode = move || EncodedArgs::encode(backend, args);
                let args = match ready.take() {
                    None => encode()?,
                    Some(prev) => {
                        // The database executes one statement while this thread encodes
                        // the next one's values.
                        let (done, args) =
                            tokio::join!(execute(&mut tx, prev), async move { encode() });
                        let (t, n) = done?;
                        counts[t as usize] += n;
                        progress.rows(t.name(), n);
                        args?
                    }
                };
                ready = Some(Ready {
                    table,
                    rows,
                    sql,
                    args,
                });
            }
            Work::Blob { key, bytes } => {
                let Some(blobs) = blobs.cloned() else {
                    continue;
                };
                while writes.len() >= BLOB_WRITES {
                    if let Some(done) = writes.join_next().await {
                        finished(joined(done)?);
                    }
                }
                writes.spawn(async move {
                    blobs.put(&key, &bytes).await?;
                    Ok(bytes.len() as u64)
                });
            }
        }
    }
    if lanes.open.iter().any(|o| *o) {
        return Err(StoreError::Config(
            "the data generator's lanes wait for each other".into(),
        ));
    }
    if let Some(last) = ready.take() {
        let (t, n) = execute(&mut tx, last).await?;
        counts[t as usize] += n;
        progress.rows(t.name(), n);
    }
    let members = generator
        .await
        .map_err(|e| StoreError::Config(format!("the data generator failed: {e}")))?;
    let written: u64 = counts.iter().sum();
    if written != planned {
        return Err(StoreError::Config(format!(
            "the data generator stopped early: {written} of {planned} rows"
        )));
    }
    while let Some(done) = writes.join_next().await {
        finished(joined(done)?);
    }
    foreign_keys.restore(&mut tx).await?;
    tx.commit().await?;
    let tables = Table::ALL
        .iter()
        .map(|t| (t.name(), counts[*t as usize]))
        .collect();
    Ok((tables, files_written, file_bytes, members))
}

const MAIN: usize = 0;
const SIDE: usize = 1;

/// The generator's two lanes as the loader reads them: open until their sender is gone,
/// held at a barrier until the other lane reaches its own barrier or ends.
struct Lanes {
    open: [bool; 2],
    held: [bool; 2],
}

impl Default for Lanes {
    fn default() -> Self {
        Self {
            open: [true; 2],
            held: [false; 2],
        }
    }
}

impl Lanes {
    fn readable(&self, lane: usize) -> bool {
        self.open[lane] && !self.held[lane]
    }
    fn barrier(&mut self, lane: usize) {
        let other = 1 - lane;
        if self.held[other] || !self.open[other] {
            self.held = [false; 2];
        } else {
            self.held[lane] = true;
        }
    }
    fn close(&mut self, lane: usize) {
        self.open[lane] = false;
        self.held[1 - lane] = false;
    }
}

async fn execute(tx: &mut Tx, b: Ready) -> StoreResult<(Table, u64)> {
    tx.exec_built(b.sql, b.args).await.inspect_err(|e| {
        tracing::error!(
            table = b.table.name(),
            rows = b.rows,
            "bulk insert failed: {e}"
        );
    })?;
    Ok((b.table, b.rows as u64))
}

fn joined(r: Result<StoreResult<u64>, tokio::task::JoinError>) -> StoreResult<u64> {
    r.map_err(|e| StoreError::Config(format!("a file write failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_wait_for_each_other_at_the_barrier() {
        let mut l = Lanes::default();
        l.barrier(MAIN);
        assert!(!l.readable(MAIN) && l.readable(SIDE));
        l.barrier(SIDE);
        assert!(l.readable(MAIN) && l.readable(SIDE));

        // A lane that ends releases the one waiting for it, in either order.
        let mut l = Lanes::default();
        l.barrier(SIDE);
        l.close(MAIN);
        assert!(l.readable(SIDE) && !l.readable(MAIN));
        let mut l = Lanes::default();
        l.close(SIDE);
        l.barrier(MAIN);
        assert!(l.readable(MAIN));
    }
}
