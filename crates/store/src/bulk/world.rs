//! The generated marketplace: first a skeleton (who exists, which contracts join whom, how
//! many payments, messages and files each contract has), then one pass per table that turns
//! the skeleton into rows. Parents are sent before children, so foreign keys hold at every
//! statement on both backends.
//!
//! Ids a later pass refers to are not kept: the later pass replays the parent table's
//! [`IdGen`] in the same order, which gives the same ids for no memory.

mod rows;

use super::rng::{IdGen, Rng};
use super::writer::Table;
use super::{GENERATED_DOMAIN, GeneratedMember, Plan};
use hiatus_domain::{AccountKind, DAY_MICROS, Micros};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

const YEAR: Micros = 365 * DAY_MICROS;

/// Who an account is in the generated world.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    Background,
    Member,
    Client,
}

struct Person {
    id: Arc<str>,
    email: String,
    kind: AccountKind,
    group: Group,
    deactivated: bool,
    created_at: Micros,
    first: u16,
    last: u16,
}

struct Contract {
    id: Arc<str>,
    client: u32,
    freelancer: u32,
    created_at: Micros,
    /// `None` while the contract is live.
    ended_at: Option<Micros>,
    currency: &'static str,
    /// A typical payment under this contract, in minor units.
    rate: i64,
    payments: u32,
    invoices: u32,
    thread: bool,
    messages: u32,
    /// Files per submission.
    submissions: Vec<u32>,
    review: bool,
    dispute: bool,
}

impl Contract {
    /// The end of the contract's activity: its end, or now while it runs.
    fn until(&self, now: Micros) -> Micros {
        self.ended_at.unwrap_or(now)
    }
}

struct Member {
    account: u32,
    clients: Range<u32>,
    /// Nothing blocks deactivation: all contracts ended, all money settled.
    free_to_leave: bool,
}

/// The skeleton of a load.
pub(crate) struct World {
    plan: Plan,
    people: Vec<Person>,
    contracts: Vec<Contract>,
    members: Vec<Member>,
    /// Sizes of the members' submission files, in generation order.
    file_sizes: Vec<u64>,
    /// Status, kind and currency codes, allocated once and shared by every row.
    codes: HashMap<&'static str, Arc<str>>,
}

/// Every code the rows carry (with the content types of [`FILE_TYPES`]).
const CODES: &[&str] = &[
    "member",
    "active",
    "deactivated",
    "freelancer",
    "client",
    "both",
    "public",
    "members_only",
    "private",
    "available",
    "paused",
    "all",
    "digest",
    "muted",
    "USD",
    "EUR",
    "settled",
    "proposal",
    "open",
    "accepted",
    "declined",
    "withdrawn",
    "ended",
    "funded",
    "approved",
    "in_escrow",
    "refunded",
    "released",
    "unpaid",
    "void",
    "paid",
    "resolved",
    "submission",
];

/// Splits `total` over `n` parts with random weights between 0.5 and 1.5.
fn distribute(r: &mut Rng, total: u64, n: usize) -> Vec<u64> {
    if n == 0 {
        return Vec::new();
    }
    let w: Vec<f64> = (0..n).map(|_| 0.5 + r.unit()).collect();
    let sum: f64 = w.iter().sum();
    let mut out: Vec<u64> = w
        .iter()
        .map(|x| (total as f64 * x / sum).floor() as u64)
        .collect();
    let mut left = total - out.iter().sum::<u64>();
    while left > 0 {
        let i = r.below(n as u64) as usize;
        out[i] += 1;
        left -= 1;
    }
    out
}

fn email(local: String) -> String {
    format!("{local}@{GENERATED_DOMAIN}")
}

/// The email of background member `i` of `seed`.
pub(crate) fn background_email(seed: u64, i: u64) -> String {
    email(format!("bg{i}.seed{seed}"))
}

/// The email of generated member `k` of `seed`.
pub(crate) fn member_email(seed: u64, k: u32) -> String {
    email(format!("member{k}.seed{seed}"))
}

impl World {
    /// Draws the skeleton. Cheap next to the rows: no text, no encryption.
    pub(crate) fn new(plan: &Plan) -> Self {
        let seed = plan.seed;
        let now = plan.now;
        let mut r = Rng::stream(seed, "world");
        let mut ids = IdGen::new(seed, "accounts");
        let mut people = Vec::new();

        // Background members joined over ten years, oldest first.
        let n = plan.background;
        let span = 10 * YEAR;
        for i in 0..n {
            let roll = r.unit();
            let kind = if roll < 0.45 {
                AccountKind::Freelancer
            } else if roll < 0.85 {
                AccountKind::Client
            } else {
                AccountKind::Both
            };
            let slot = span / n.max(1) as i64;
            people.push(Person {
                id: ids.next_id(),
                email: background_email(seed, i),
                kind,
                group: Group::Background,
                deactivated: r.chance(0.02),
                created_at: now - span + i as i64 * slot + r.range(0, slot.max(1)),
                first: r.below(1 << 16) as u16,
                last: r.below(1 << 16) as u16,
            });
        }
        let mut contracts = Vec::new();
        let mut contract_ids = IdGen::new(seed, "contracts");
        Self::background_contracts(&mut r, &mut contract_ids, now, &people, &mut contracts);

        let shape = plan.shape;
        let mut members = Vec::new();
        let mut file_sizes = Vec::new();
        for k in 0..plan.members {
            let joined = now - shape.years * YEAR - 30 * DAY_MICROS;
            let account = people.len() as u32;
            people.push(Person {
                id: ids.next_id(),
                email: member_email(seed, k),
                kind: AccountKind::Freelancer,
                group: Group::Member,
                deactivated: false,
                created_at: joined,
                first: r.below(1 << 16) as u16,
                last: r.below(1 << 16) as u16,
            });
            let first_client = people.len() as u32;
            for j in 0..shape.clients {
                people.push(Person {
                    id: ids.next_id(),
                    email: email(format!("client{j}.member{k}.seed{seed}")),
                    kind: if r.chance(0.9) {
                        AccountKind::Client
                    } else {
                        AccountKind::Both
                    },
                    group: Group::Client,
                    deactivated: false,
                    created_at: joined - r.range(0, YEAR),
                    first: r.below(1 << 16) as u16,
                    last: r.below(1 << 16) as u16,
                });
            }
            let clients = first_client..people.len() as u32;
            let free_to_leave = k == 0;
            Self::member_contracts(
                &mut r,
                &mut contract_ids,
                now,
                plan,
                account,
                clients.clone(),
                free_to_leave,
                &mut contracts,
                &mut file_sizes,
            );
            members.push(Member {
                account,
                clients,
                free_to_leave,
            });
        }
        World {
            plan: plan.clone(),
            people,
            contracts,
            members,
            file_sizes,
            codes: CODES
                .iter()
                .chain(FILE_TYPES.iter().map(|(_, content_type)| content_type))
                .map(|c| (*c, Arc::from(*c)))
                .collect(),
        }
    }

    /// One contract per two background members, between a random client and a random
    /// freelancer, mostly ended; each with a milestone, its payment, an invoice and a short
    /// thread.
    fn background_contracts(
        r: &mut Rng,
        ids: &mut IdGen,
        now: Micros,
        people: &[Person],
        out: &mut Vec<Contract>,
    ) {
        let hirers: Vec<u32> = (0..people.len() as u32)
            .filter(|i| people[*i as usize].kind.hires())
            .collect();
        let workers: Vec<u32> = (0..people.len() as u32)
            .filter(|i| people[*i as usize].kind.freelances())
            .collect();
        if hirers.is_empty() || workers.is_empty() || people.len() < 2 {
            return;
        }
        for _ in 0..people.len() / 2 {
            let client = r.pick(&hirers);
            let mut freelancer = r.pick(&workers);
            if freelancer == client {
                match workers.iter().find(|w| **w != client) {
                    Some(w) => freelancer = *w,
                    None => continue,
                }
            }
            let start = people[client as usize]
                .created_at
                .max(people[freelancer as usize].created_at);
            let created_at = start + ((now - start) as f64 * r.unit()) as i64;
            let end = created_at + r.range(3, 120) * DAY_MICROS;
            let ended_at = (end < now).then_some(end);
            out.push(Contract {
                id: ids.next_id(),
                client,
                freelancer,
                created_at,
                ended_at,
                currency: if r.chance(0.8) { "USD" } else { "EUR" },
                rate: r.range(50, 2_000) * 100,
                payments: 1,
                invoices: 1,
                thread: true,
                messages: r.range(1, 8) as u32,
                submissions: Vec::new(),
                review: ended_at.is_some() && r.chance(0.6),
                dispute: false,
            });
        }
    }

    /// A member's years of work: contracts spread over the years with a few clients
    /// coming back again and again, and the profile's payments, messages and files spread
    /// over them.
    #[allow(clippy::too_many_arguments)]
    fn member_contracts(
        r: &mut Rng,
        ids: &mut IdGen,
        now: Micros,
        plan: &Plan,
        member: u32,
        clients: Range<u32>,
        free_to_leave: bool,
        out: &mut Vec<Contract>,
        file_sizes: &mut Vec<u64>,
    ) {
        let s = plan.shape;
        let n = s.contracts as usize;
        if n == 0 || clients.is_empty() {
            return;
        }
        // Every client hired at least once, then repeat business favouring the first clients.
        let nc = clients.len() as u64;
        let mut who: Vec<u32> = (0..n as u64)
            .map(|i| {
                if i < nc {
                    clients.start + i as u32
                } else {
                    let u = r.unit();
                    clients.start + ((u * u * nc as f64) as u64).min(nc - 1) as u32
                }
            })
            .collect();
        r.shuffle(&mut who);
        let from = now - s.years * YEAR;
        let mut starts: Vec<Micros> = (0..n).map(|_| r.range(from, now - DAY_MICROS)).collect();
        starts.sort_unstable();
        let payments = distribute(r, u64::from(s.payments), n);
        let invoices = distribute(r, u64::from(s.invoices), n);
        let threads = (s.threads as usize).min(n);
        let messages = distribute(r, u64::from(s.messages), threads);
        let submissions = distribute(r, u64::from(s.submissions), n);
        let mut files = distribute(r, u64::from(s.files), s.submissions as usize).into_iter();
        file_sizes.extend(distribute(r, s.file_bytes, s.files as usize));
        let mut reviewed: Vec<bool> = (0..n).map(|i| i < s.reviews as usize).collect();
        r.shuffle(&mut reviewed);
        let mut disputed: Vec<bool> = (0..n).map(|i| i < s.disputes as usize).collect();
        r.shuffle(&mut disputed);
        for i in 0..n {
            let created_at = starts[i];
            let live = !free_to_leave && i + 3 >= n;
            let ended_at = (!live)
                .then(|| (created_at + r.range(7, 180) * DAY_MICROS).min(now - DAY_MICROS / 2));
            out.push(Contract {
                id: ids.next_id(),
                client: who[i],
                freelancer: member,
                created_at,
                ended_at,
                currency: if r.chance(0.9) { "USD" } else { "EUR" },
                rate: r.range(200, 5_000) * 100,
                payments: payments[i] as u32,
                invoices: invoices[i] as u32,
                thread: i < threads,
                messages: messages.get(i).copied().unwrap_or(0) as u32,
                submissions: (0..submissions[i])
                    .map(|_| files.next().unwrap_or(0) as u32)
                    .collect(),
                review: reviewed[i] && ended_at.is_some(),
                dispute: disputed[i] && ended_at.is_some(),
            });
        }
    }

    /// The generated members, for the summary.
    pub(crate) fn generated_members(&self) -> Vec<GeneratedMember> {
        self.members
            .iter()
            .map(|m| {
                let p = &self.people[m.account as usize];
                GeneratedMember {
                    id: p.id.to_string(),
                    email: p.email.clone(),
                    free_to_leave: m.free_to_leave,
                }
            })
            .collect()
    }

    /// Rows per table, exactly as [`World::generate`] will send them.
    pub(crate) fn planned_rows(&self) -> Vec<(Table, u64)> {
        let c = &self.contracts;
        let sum = |f: &dyn Fn(&Contract) -> u64| c.iter().map(f).sum::<u64>();
        let people = self.people.len() as u64;
        let members = self.members.len() as u64;
        let threads = sum(&|c| u64::from(c.thread));
        let s = self.plan.shape;
        Table::ALL
            .iter()
            .map(|t| {
                let n = match t {
                    Table::Accounts | Table::Profiles => people,
                    Table::Balances => members,
                    Table::Proposals => members * (u64::from(s.proposals) + OPEN_PROPOSALS),
                    Table::Contracts => c.len() as u64,
                    Table::Milestones | Table::Payments => sum(&|c| u64::from(c.payments)),
                    Table::Invoices => sum(&|c| u64::from(c.invoices)),
                    Table::Payouts => members * u64::from(s.payouts),
                    Table::Disputes => sum(&|c| u64::from(c.dispute)),
                    Table::Threads => threads,
                    Table::ThreadParticipants => 2 * threads,
                    Table::Messages => sum(&|c| u64::from(c.messages)),
                    Table::Submissions => sum(&|c| c.submissions.len() as u64),
                    Table::Files => sum(&|c| c.submissions.iter().map(|f| u64::from(*f)).sum()),
                    Table::Reviews => sum(&|c| u64::from(c.review)),
                };
                (*t, n)
            })
            .collect()
    }

    /// File bytes the load writes (none without files).
    pub(crate) fn planned_file_bytes(&self) -> u64 {
        if self.plan.files {
            self.file_sizes.iter().sum()
        } else {
            0
        }
    }
}

/// Open proposals every member has: they only warn, and deactivation withdraws them.
const OPEN_PROPOSALS: u64 = 2;

const FILE_TYPES: [(&str, &str); 4] = [
    ("pdf", "application/pdf"),
    ("png", "image/png"),
    ("zip", "application/zip"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
];
