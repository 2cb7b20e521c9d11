//! Plausible words for generated names, titles and messages. Invented, small, and the same
//! for every seed: only the choices among them come from the seed.

use super::rng::Rng;

pub(crate) const FIRST_NAMES: &[&str] = &[
    "Ada", "Amir", "Ana", "Arjun", "Beatriz", "Ben", "Carla", "Chen", "Dara", "David", "Elif",
    "Emeka", "Eva", "Farah", "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jae", "Jonas",
    "Kai", "Kofi", "Lara", "Leon", "Lina", "Luca", "Maya", "Mateo", "Mei", "Nadia", "Nico", "Noor",
    "Olga", "Omar", "Priya", "Rafael", "Rosa", "Sami", "Sara", "Tariq", "Tomas", "Uma", "Vera",
    "Wei", "Yara", "Yusuf", "Zoe", "Zane",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "Alves", "Andersen", "Bauer", "Bianchi", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia",
    "Haddad", "Ito", "Jensen", "Kaur", "Kowalski", "Laine", "Moreau", "Nakamura", "Novak",
    "Okafor", "Olsen", "Petrov", "Quinn", "Rossi", "Santos", "Schmidt", "Silva", "Tanaka",
    "Torres", "Usman", "Varga", "Weber", "Xu", "Yilmaz", "Zhang", "Ziegler",
];

const ROLES: &[&str] = &[
    "Brand designer",
    "Rust and PostgreSQL developer",
    "Copywriter",
    "Translator (EN, DE, FR)",
    "Mobile developer",
    "Data analyst",
    "Bookkeeper",
    "Illustrator",
    "Video editor",
    "UX researcher",
    "DevOps engineer",
    "Product photographer",
    "SEO consultant",
    "Technical writer",
    "Frontend developer",
];

const THINGS: &[&str] = &[
    "Landing page",
    "Mobile app",
    "Logo",
    "API integration",
    "Data pipeline",
    "Brand guide",
    "Blog series",
    "Product photos",
    "Website translation",
    "Quarterly bookkeeping",
    "Onboarding flow",
    "Newsletter",
    "Dashboard",
    "Pitch deck",
    "Checkout",
];

const WORK: &[&str] = &[
    "redesign",
    "build",
    "audit",
    "refresh",
    "migration",
    "maintenance",
    "first draft",
    "revisions",
    "launch",
    "prototype",
];

const WORDS: &[&str] = &[
    "thanks",
    "for",
    "the",
    "update",
    "I",
    "have",
    "attached",
    "a",
    "new",
    "version",
    "of",
    "draft",
    "could",
    "you",
    "take",
    "look",
    "at",
    "second",
    "section",
    "we",
    "should",
    "move",
    "deadline",
    "to",
    "next",
    "week",
    "invoice",
    "is",
    "on",
    "its",
    "way",
    "feedback",
    "from",
    "team",
    "looks",
    "good",
    "one",
    "small",
    "change",
    "colours",
    "copy",
    "call",
    "tomorrow",
    "morning",
    "works",
    "me",
    "files",
    "are",
    "in",
    "shared",
    "folder",
    "payment",
    "released",
    "milestone",
    "approved",
    "great",
    "work",
    "again",
    "let",
    "know",
    "if",
    "anything",
    "else",
    "comes",
    "up",
];

/// "Ana Alves".
pub(crate) fn full_name(first: u16, last: u16) -> String {
    format!(
        "{} {}",
        FIRST_NAMES[first as usize % FIRST_NAMES.len()],
        LAST_NAMES[last as usize % LAST_NAMES.len()]
    )
}

/// "Ana A.", the name shown on a profile.
pub(crate) fn display_name(first: u16, last: u16) -> String {
    let l = LAST_NAMES[last as usize % LAST_NAMES.len()];
    format!(
        "{} {}.",
        FIRST_NAMES[first as usize % FIRST_NAMES.len()],
        &l[..1]
    )
}

/// A profile headline.
pub(crate) fn headline(r: &mut Rng) -> &'static str {
    r.pick(ROLES)
}

/// A contract title: "Logo refresh".
pub(crate) fn title(r: &mut Rng) -> String {
    format!("{} {}", r.pick(THINGS), r.pick(WORK))
}

/// A sentence of `min..max` words.
pub(crate) fn sentence(r: &mut Rng, min: i64, max: i64) -> String {
    let n = r.range(min, max);
    let mut s = String::with_capacity(n as usize * 7);
    for i in 0..n {
        let w = r.pick(WORDS);
        if i == 0 {
            let mut c = w.chars();
            if let Some(f) = c.next() {
                s.extend(f.to_uppercase());
                s.push_str(c.as_str());
            }
        } else {
            s.push(' ');
            s.push_str(w);
        }
    }
    s.push('.');
    s
}

/// A short biography.
pub(crate) fn bio(r: &mut Rng, role: &str) -> String {
    format!(
        "{role} with {} years of experience. {}",
        r.range(2, 25),
        sentence(r, 8, 20)
    )
}
