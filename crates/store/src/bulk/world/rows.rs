//! The passes that turn the skeleton into rows, one table (or two independent ones) at a
//! time.

use super::{Contract, FILE_TYPES, Group, OPEN_PROPOSALS, Person, World, YEAR};
use crate::blobs::Blobs;
use crate::bulk::rng::{IdGen, Rng};
use crate::bulk::text;
use crate::bulk::writer::{Sink, Stopped, Table, Work};
use crate::crypto::{DataKey, Keyring, LookupKey};
use crate::db::Arg;
use hiatus_domain::{DAY_MICROS, Micros};
use sha2::{Digest, Sha256};
use std::sync::Arc;

impl World {
    /// Sends every row, table by table, on two lanes (two threads) that the loader merges.
    /// Sealing personal fields is the generator's one expensive step, so the accounts are
    /// split between the lanes; after a barrier, the side lane seals the profiles (nothing
    /// refers to them) while the main lane sends the marketplace tables.
    pub(crate) fn generate(
        &self,
        keys: &Keyring,
        mut main: Sink,
        mut side: Sink,
    ) -> Result<(), Stopped> {
        let rows = self.planned_rows().iter().map(|(_, n)| n).sum();
        main.send(Work::Planned {
            rows,
            file_bytes: self.planned_file_bytes(),
        })?;
        let split = self.people.len() / 2;
        let (keys_out, keys_in) = std::sync::mpsc::channel::<Vec<DataKey>>();
        // The marketplace seals cover letters under their senders' keys, so each lane gets
        // the other's keys.
        let (theirs_out, theirs_in) = std::sync::mpsc::channel::<Vec<DataKey>>();
        std::thread::scope(|s| {
            let side_lane = s.spawn(move || {
                let theirs = self.accounts(keys, &self.people[split..], &mut side)?;
                theirs_out.send(theirs.clone()).map_err(|_| Stopped)?;
                side.send(Work::Barrier)?;
                let mut all = keys_in.recv().map_err(|_| Stopped)?;
                all.extend(theirs);
                self.profiles(&all, &mut side)
            });
            let mut main_lane = || {
                let ours = self.accounts(keys, &self.people[..split], &mut main)?;
                keys_out.send(ours.clone()).map_err(|_| Stopped)?;
                let mut all = ours;
                all.extend(theirs_in.recv().map_err(|_| Stopped)?);
                main.send(Work::Barrier)?;
                self.marketplace(&all, &mut main)
            };
            let done = main_lane();
            drop(main);
            let side_done = side_lane
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            done.and(side_done)
        })
    }

    fn marketplace(&self, keys_of: &[DataKey], sink: &mut Sink) -> Result<(), Stopped> {
        self.balances_and_payouts(sink)?;
        self.proposals(keys_of, sink)?;
        self.contracts(sink)?;
        self.milestones_and_payments(sink)?;
        self.invoices(sink)?;
        self.disputes(sink)?;
        self.threads(sink)?;
        self.messages(sink)?;
        self.submissions_and_files(sink)?;
        self.reviews(sink)?;
        sink.flush_all()
    }

    fn code(&self, c: &'static str) -> Arg {
        match self.codes.get(c) {
            Some(shared) => Arg::Shared(shared.clone()),
            None => {
                debug_assert!(false, "{c} is missing from CODES");
                c.into()
            }
        }
    }

    fn rng(&self, table: Table) -> Rng {
        Rng::stream(self.plan.seed, &format!("rows:{}", table.name()))
    }

    fn id(&self, i: u32) -> Arc<str> {
        self.people[i as usize].id.clone()
    }

    fn accounts(
        &self,
        keys: &Keyring,
        people: &[Person],
        sink: &mut Sink,
    ) -> Result<Vec<DataKey>, Stopped> {
        let mut out = Vec::with_capacity(people.len());
        let password_hash: Arc<str> = Arc::from(self.plan.password_hash.as_str());
        // Lookups are hashed under the epoch each data key is wrapped under, as sign-up does;
        // its lookup key is derived once (again only if a new epoch begins mid-load).
        let mut lookup_key: Option<(Option<u64>, LookupKey)> = None;
        for p in people {
            let (dk, wrapped) = keys.new_data_key(&p.id);
            let epoch = crate::crypto::wrapped_epoch(&wrapped);
            let lookup = match &lookup_key {
                Some((e, k)) if *e == epoch => k.hash(&p.email),
                _ => {
                    let k = keys
                        .lookup_key(epoch)
                        .expect("the current epoch is never retired");
                    let h = k.hash(&p.email);
                    lookup_key = Some((epoch, k));
                    h
                }
            };
            let epoch = epoch.map(|e| e as i64);
            let state = if p.deactivated {
                "deactivated"
            } else {
                "active"
            };
            let legal_name = text::full_name(p.first, p.last);
            sink.row(
                Table::Accounts,
                [
                    p.id.clone().into(),
                    self.code(p.kind.as_str()),
                    self.code("member"),
                    self.code(state),
                    lookup.into(),
                    dk.seal_field("accounts", "email", &p.id, &p.email).into(),
                    dk.seal_field("accounts", "legal_name", &p.id, &legal_name)
                        .into(),
                    wrapped.into(),
                    epoch.into(),
                    password_hash.clone().into(),
                    p.created_at.into(),
                    p.created_at.into(),
                    p.created_at.into(),
                ],
            )?;
            out.push(dk);
        }
        sink.flush(Table::Accounts)?;
        Ok(out)
    }

    fn profiles(&self, keys_of: &[DataKey], sink: &mut Sink) -> Result<(), Stopped> {
        let mut r = self.rng(Table::Profiles);
        for (p, dk) in self.people.iter().zip(keys_of) {
            let role = if p.kind.freelances() {
                text::headline(&mut r)
            } else {
                "Hiring"
            };
            let visibility = match (p.group, r.unit()) {
                (Group::Member, _) => "public",
                (_, u) if u < 0.8 => "public",
                (_, u) if u < 0.95 => "members_only",
                _ => "private",
            };
            let notifications = match r.unit() {
                u if u < 0.85 => "all",
                u if u < 0.95 => "digest",
                _ => "muted",
            };
            // A few background members are on an open-ended break; they remember the
            // settings to return to, as a break started through the service would.
            let paused = p.group == Group::Background && r.chance(0.03);
            let (shown, prev_vis, prev_notes) = if paused {
                ("private", Some(visibility), Some(notifications))
            } else {
                (visibility, None, None)
            };
            let rate = p.kind.freelances().then(|| r.range(20, 150) * 100);
            sink.row(
                Table::Profiles,
                [
                    p.id.clone().into(),
                    dk.seal_field(
                        "profiles",
                        "display_name",
                        &p.id,
                        &text::display_name(p.first, p.last),
                    )
                    .into(),
                    dk.seal_field("profiles", "headline", &p.id, role).into(),
                    dk.seal_field("profiles", "bio", &p.id, &text::bio(&mut r, role))
                        .into(),
                    self.code(shown),
                    self.code(if paused { "paused" } else { "available" }),
                    self.code(notifications),
                    prev_vis.map(str::to_string).into(),
                    prev_notes.map(str::to_string).into(),
                    rate.into(),
                    p.created_at.into(),
                ],
            )?;
        }
        sink.flush(Table::Profiles)
    }

    fn balances_and_payouts(&self, sink: &mut Sink) -> Result<(), Stopped> {
        let mut r = self.rng(Table::Payouts);
        let mut ids = IdGen::new(self.plan.seed, "payouts");
        let now = self.plan.now;
        let s = self.plan.shape;
        for m in &self.members {
            let id = self.id(m.account);
            // Money left on the account blocks leaving, so only the blocked members have some.
            let available: i64 = if m.free_to_leave { 0 } else { 12_345 };
            sink.row(
                Table::Balances,
                [
                    id.clone().into(),
                    self.code("USD"),
                    available.into(),
                    0i64.into(),
                    now.into(),
                ],
            )?;
            let from = now - s.years * YEAR;
            let step = (s.years * YEAR) / i64::from(s.payouts.max(1));
            for i in 0..s.payouts {
                let at = from + i64::from(i) * step + r.range(0, DAY_MICROS);
                sink.row(
                    Table::Payouts,
                    [
                        ids.next_id().into(),
                        id.clone().into(),
                        (r.range(500, 20_000) * 100).into(),
                        self.code("USD"),
                        self.code("settled"),
                        at.into(),
                        (at + 3 * DAY_MICROS).into(),
                    ],
                )?;
            }
        }
        sink.flush(Table::Balances)?;
        sink.flush(Table::Payouts)
    }

    fn proposals(&self, keys_of: &[DataKey], sink: &mut Sink) -> Result<(), Stopped> {
        let mut r = self.rng(Table::Proposals);
        let mut ids = IdGen::new(self.plan.seed, "proposals");
        let now = self.plan.now;
        let s = self.plan.shape;
        for m in &self.members {
            let member = self.id(m.account);
            let dk = &keys_of[m.account as usize];
            let nc = m.clients.len() as u64;
            for i in 0..u64::from(s.proposals) + OPEN_PROPOSALS {
                let open = i >= u64::from(s.proposals);
                let client = m.clients.start + r.below(nc) as u32;
                let status = if open {
                    "open"
                } else {
                    match r.unit() {
                        u if u < 0.4 => "accepted",
                        u if u < 0.85 => "declined",
                        _ => "withdrawn",
                    }
                };
                let at = if open {
                    now - r.range(1, 14) * DAY_MICROS
                } else {
                    r.range(now - s.years * YEAR, now - 14 * DAY_MICROS)
                };
                let id = ids.next_id();
                let letter = text::sentence(&mut r, 12, 40);
                let sealed = dk.seal_field("proposals", "cover_letter", &id, &letter);
                sink.row(
                    Table::Proposals,
                    [
                        id.into(),
                        self.code("proposal"),
                        member.clone().into(),
                        self.id(client).into(),
                        member.clone().into(),
                        sealed.into(),
                        self.code(status),
                        at.into(),
                    ],
                )?;
            }
        }
        sink.flush(Table::Proposals)
    }

    fn contracts(&self, sink: &mut Sink) -> Result<(), Stopped> {
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
    fn moment(&self, c: &Contract, j: u32, n: u32) -> Micros {
        let span = c.until(self.plan.now) - c.created_at;
        c.created_at + span * (2 * i64::from(j) + 1) / (2 * i64::from(n.max(1)))
    }

    /// The amount of payment `j` of a contract (milestone and payment agree).
    fn amount(&self, c: &Contract, j: u32) -> i64 {
        let mut r = Rng::item(self.plan.seed, &c.id, u64::from(j));
        c.rate / 2 + r.range(0, c.rate.max(2))
    }

    fn milestones_and_payments(&self, sink: &mut Sink) -> Result<(), Stopped> {
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

    fn invoices(&self, sink: &mut Sink) -> Result<(), Stopped> {
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

    fn disputes(&self, sink: &mut Sink) -> Result<(), Stopped> {
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

    fn threads(&self, sink: &mut Sink) -> Result<(), Stopped> {
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

    fn messages(&self, sink: &mut Sink) -> Result<(), Stopped> {
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

    fn submissions_and_files(&self, sink: &mut Sink) -> Result<(), Stopped> {
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

    fn reviews(&self, sink: &mut Sink) -> Result<(), Stopped> {
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
