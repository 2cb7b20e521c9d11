//! The passes for what happens between a client and a freelancer: contracts and their
//! milestones, payments, invoices and disputes, message threads, submissions with their
//! files, and reviews.

use super::super::{Contract, FILE_TYPES, World};
use crate::blobs::Blobs;
use crate::bulk::rng::{IdGen, Rng};
use crate::bulk::text;
use crate::bulk::writer::{Sink, Stopped, Table, Work};
use hiatus_domain::{DAY_MICROS, Micros};
use sha2::{Digest, Sha256};

impl World {
    pub(super) fn contracts(&self, sink: &mut Sink) -> Result<(), Stopped> {
        let mut r = self.rng(Table::Contracts);
        for c in &self.contracts {
            let status = match c.ended_at {
                Some(_) => "ended",
                None if r.chance(0.9) => "open",
                None => "paused",
            };
            sink.row(
                Table::Contracts,
                [
                    c.id.clone().into(),
                    self.id(c.client).into(),
                    self.id(c.freelancer).into(),
                    text::title(&mut r).into(),
                    self.code(status),
                    self.code(c.currency),
                    c.created_at.into(),
                    c.ended_at.into(),
                ],
            )?;
        }
        sink.flush(Table::Contracts)
    }

    /// When the `j`-th of `n` events of a contract happens: evenly through its life.
    pub(super) fn moment(&self, c: &Contract, j: u32, n: u32) -> Micros {
        let span = c.until(self.plan.now) - c.created_at;
        c.created_at + span * (2 * i64::from(j) + 1) / (2 * i64::from(n.max(1)))
    }

    /// The amount of payment `j` of a contract (milestone and payment agree).
    pub(super) fn amount(&self, c: &Contract, j: u32) -> i64 {
        let mut r = Rng::item(self.plan.seed, &c.id, u64::from(j));
        c.rate / 2 + r.range(0, c.rate.max(2))
    }

    pub(super) fn milestones_and_payments(&self, sink: &mut Sink) -> Result<(), Stopped> {
        let mut ids = IdGen::new(self.plan.seed, "milestones");
        for c in &self.contracts {
            for j in 0..c.payments {
                let waiting = c.ended_at.is_none() && j + 1 == c.payments;
                sink.row(
                    Table::Milestones,
                    [
                        ids.next_id().into(),
                        c.id.clone().into(),
                        format!("Milestone {}", j + 1).into(),
                        self.amount(c, j).into(),
                        self.code(c.currency),
                        self.code(if waiting { "funded" } else { "approved" }),
                        self.moment(c, j, c.payments).into(),
                    ],
                )?;
            }
        }
        sink.flush(Table::Milestones)?;

        let mut r = self.rng(Table::Payments);
        let mut milestone_ids = IdGen::new(self.plan.seed, "milestones");
        let mut ids = IdGen::new(self.plan.seed, "payments");
        for c in &self.contracts {
            for j in 0..c.payments {
                let waiting = c.ended_at.is_none() && j + 1 == c.payments;
                let status = if waiting {
                    "in_escrow"
                } else if r.chance(0.03) {
                    "refunded"
                } else {
                    "released"
                };
                let at = self.moment(c, j, c.payments);
                sink.row(
                    Table::Payments,
                    [
                        ids.next_id().into(),
                        c.id.clone().into(),
                        milestone_ids.next_id().into(),
                        self.id(c.client).into(),
                        self.id(c.freelancer).into(),
                        self.amount(c, j).into(),
                        self.code(c.currency),
                        self.code(status),
                        at.into(),
                        (at + r.range(1, 10) * DAY_MICROS).min(self.plan.now).into(),
                    ],
                )?;
            }
        }
        sink.flush(Table::Payments)
    }

    pub(super) fn invoices(&self, sink: &mut Sink) -> Result<(), Stopped> {
        let mut r = self.rng(Table::Invoices);
        let mut ids = IdGen::new(self.plan.seed, "invoices");
        let now = self.plan.now;
        for c in &self.contracts {
            for j in 0..c.invoices {
                let id = ids.next_id();
                // Like the service's numbers (`INV-<date>-<end of id>`), with the seed in
                // place of the date so the numbers do not depend on the day of generation.
                let number = format!("INV-G{:x}-{}", self.plan.seed, &id[24..]);
                let issued = self.moment(c, j, c.invoices);
                let unpaid = c.ended_at.is_none() && j + 1 == c.invoices;
                let (status, paid_at) = if unpaid {
                    ("unpaid", None)
                } else if r.chance(0.02) {
                    ("void", None)
                } else {
                    (
                        "paid",
                        Some((issued + r.range(1, 20) * DAY_MICROS).min(now)),
                    )
                };
                sink.row(
                    Table::Invoices,
                    [
                        id.into(),
                        number.into(),
                        c.id.clone().into(),
                        self.id(c.freelancer).into(),
                        self.id(c.client).into(),
                        format!("Work on contract, part {}", j + 1).into(),
                        self.amount(c, j).into(),
                        self.code(c.currency),
                        self.code(status),
                        issued.into(),
                        (issued + 14 * DAY_MICROS).into(),
                        paid_at.into(),
                    ],
                )?;
            }
        }
        sink.flush(Table::Invoices)
    }

    pub(super) fn disputes(&self, sink: &mut Sink) -> Result<(), Stopped> {
        let mut r = self.rng(Table::Disputes);
        let mut ids = IdGen::new(self.plan.seed, "disputes");
        for c in self.contracts.iter().filter(|c| c.dispute) {
            let at = self.moment(c, 1, 2);
            let by = if r.chance(0.5) {
                c.client
            } else {
                c.freelancer
            };
            sink.row(
                Table::Disputes,
                [
                    ids.next_id().into(),
                    c.id.clone().into(),
                    self.id(by).into(),
                    self.code("resolved"),
                    at.into(),
                    Some(at + r.range(2, 21) * DAY_MICROS).into(),
                ],
            )?;
        }
        sink.flush(Table::Disputes)
    }

    pub(super) fn threads(&self, sink: &mut Sink) -> Result<(), Stopped> {
        let mut ids = IdGen::new(self.plan.seed, "threads");
        let mut r = self.rng(Table::Threads);
        for c in self.contracts.iter().filter(|c| c.thread) {
            let last = if c.messages > 0 {
                self.moment(c, c.messages - 1, c.messages)
            } else {
                c.created_at
            };
            sink.row(
                Table::Threads,
                [
                    ids.next_id().into(),
                    c.id.clone().into(),
                    text::title(&mut r).into(),
                    c.created_at.into(),
                    last.into(),
                ],
            )?;
        }
        sink.flush(Table::Threads)?;
        let mut thread_ids = IdGen::new(self.plan.seed, "threads");
        for c in self.contracts.iter().filter(|c| c.thread) {
            let id = thread_ids.next_id();
            for who in [c.client, c.freelancer] {
                sink.row(
                    Table::ThreadParticipants,
                    [id.clone().into(), self.id(who).into()],
                )?;
            }
        }
        sink.flush(Table::ThreadParticipants)
    }

    pub(super) fn messages(&self, sink: &mut Sink) -> Result<(), Stopped> {
        let mut r = self.rng(Table::Messages);
        let mut thread_ids = IdGen::new(self.plan.seed, "threads");
        let mut ids = IdGen::new(self.plan.seed, "messages");
        for c in self.contracts.iter().filter(|c| c.thread) {
            let thread = thread_ids.next_id();
            let client = self.id(c.client);
            let freelancer = self.id(c.freelancer);
            for j in 0..c.messages {
                let author = if r.chance(0.5) { &client } else { &freelancer };
                sink.row(
                    Table::Messages,
                    [
                        ids.next_id().into(),
                        thread.clone().into(),
                        author.clone().into(),
                        text::sentence(&mut r, 4, 30).into(),
                        self.moment(c, j, c.messages).into(),
                    ],
                )?;
            }
        }
        sink.flush(Table::Messages)
    }

    pub(super) fn submissions_and_files(&self, sink: &mut Sink) -> Result<(), Stopped> {
        let mut r = self.rng(Table::Submissions);
        let mut ids = IdGen::new(self.plan.seed, "submissions");
        for c in &self.contracts {
            let n = c.submissions.len() as u32;
            for j in 0..n {
                sink.row(
                    Table::Submissions,
                    [
                        ids.next_id().into(),
                        c.id.clone().into(),
                        self.id(c.freelancer).into(),
                        text::sentence(&mut r, 5, 25).into(),
                        self.moment(c, j, n).into(),
                    ],
                )?;
            }
        }
        sink.flush(Table::Submissions)?;

        let mut r = self.rng(Table::Files);
        let mut submission_ids = IdGen::new(self.plan.seed, "submissions");
        let mut ids = IdGen::new(self.plan.seed, "files");
        let mut sizes = self.file_sizes.iter();
        let mut file_no: u64 = 0;
        for c in &self.contracts {
            let n = c.submissions.len() as u32;
            for (j, files) in c.submissions.iter().enumerate() {
                let submission = submission_ids.next_id();
                let at = self.moment(c, j as u32, n);
                for f in 0..*files {
                    let id = ids.next_id();
                    let key = Blobs::new_key(&id);
                    let size = sizes.next().copied().unwrap_or(0).max(1);
                    let (ext, content_type) = r.pick(&FILE_TYPES);
                    let sha256 = if self.plan.files {
                        let mut bytes = vec![0u8; size as usize];
                        Rng::item(self.plan.seed, "file bytes", file_no).fill(&mut bytes);
                        let h = hex::encode(Sha256::digest(&bytes));
                        sink.send(Work::Blob {
                            key: key.clone(),
                            bytes,
                        })?;
                        h
                    } else {
                        // No bytes are written, so there is nothing to hash: a placeholder of
                        // the right shape keeps the rows realistic for database benchmarks.
                        let mut b = [0u8; 32];
                        r.fill(&mut b);
                        hex::encode(b)
                    };
                    file_no += 1;
                    sink.row(
                        Table::Files,
                        [
                            id.into(),
                            self.id(c.freelancer).into(),
                            self.code("submission"),
                            submission.clone().into(),
                            key.into(),
                            Some(format!("deliverable-{}-{}.{ext}", j + 1, f + 1)).into(),
                            self.code(content_type),
                            (size as i64).into(),
                            sha256.into(),
                            false.into(),
                            at.into(),
                        ],
                    )?;
                }
            }
        }
        sink.flush(Table::Files)
    }

    pub(super) fn reviews(&self, sink: &mut Sink) -> Result<(), Stopped> {
        let mut r = self.rng(Table::Reviews);
        let mut ids = IdGen::new(self.plan.seed, "reviews");
        for c in self.contracts.iter().filter(|c| c.review) {
            let rating: i64 = match r.unit() {
                u if u < 0.6 => 5,
                u if u < 0.85 => 4,
                u if u < 0.95 => 3,
                _ => r.range(1, 3),
            };
            sink.row(
                Table::Reviews,
                [
                    ids.next_id().into(),
                    c.id.clone().into(),
                    self.id(c.client).into(),
                    self.id(c.freelancer).into(),
                    rating.into(),
                    text::sentence(&mut r, 6, 30).into(),
                    (c.until(self.plan.now) + r.range(0, 7 * DAY_MICROS))
                        .min(self.plan.now)
                        .into(),
                ],
            )?;
        }
        sink.flush(Table::Reviews)
    }
}
