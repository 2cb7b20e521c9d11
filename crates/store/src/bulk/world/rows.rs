//! The passes that turn the skeleton into rows, one table (or two independent ones) at a
//! time.

use super::{Group, OPEN_PROPOSALS, Person, World, YEAR};
use crate::bulk::rng::{IdGen, Rng};
use crate::bulk::text;
use crate::bulk::writer::{Sink, Stopped, Table, Work};
use crate::crypto::{DataKey, Keyring, LookupKey};
use crate::db::Arg;
use hiatus_domain::DAY_MICROS;
use std::sync::Arc;

mod contracts;

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
}
