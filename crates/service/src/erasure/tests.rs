use super::schedule::pseudonym_label;
use super::*;
use crate::clock::format_date;
use hiatus_domain::fmt::thousands;

#[test]
fn numbers_and_dates_read_well() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(1204), "1,204");
    assert_eq!(thousands(1_000_000), "1,000,000");
    let leap = jiff::Timestamp::from_second(1_709_164_800).unwrap(); // 2024-02-29
    let t = add_years(leap.as_microsecond(), 7);
    assert_eq!(format_date(t), "2031-02-28");
    assert_eq!(sub_years(add_years(1_000_000, 2), 2), 1_000_000);
}

#[test]
fn pseudonyms_are_random_and_say_who() {
    let a = pseudonym_label(AccountKind::Freelancer, 6);
    let b = pseudonym_label(AccountKind::Freelancer, 6);
    assert!(a.starts_with("Former freelancer #") && a.len() == "Former freelancer #".len() + 6);
    assert_ne!(a, b);
    assert!(pseudonym_label(AccountKind::Client, 6).starts_with("Former client #"));
}

#[test]
fn the_plan_reads_as_sentences() {
    let items = vec![
        PlanItem {
            table: "messages".into(),
            what: "messages you wrote".into(),
            action: Action::Pseudonymize,
            count: 1204,
            retained_until: None,
            basis: None,
            kept_by_others: false,
            in_summary: true,
            what_one: String::new(),
        },
        PlanItem {
            table: "invoices".into(),
            what: "invoices you issued".into(),
            action: Action::Retain,
            count: 38,
            retained_until: Some(add_years(0, 63)),
            basis: Some("tax and bookkeeping law".into()),
            kept_by_others: false,
            in_summary: true,
            what_one: String::new(),
        },
        PlanItem {
            table: "files".into(),
            what: "private files".into(),
            action: Action::Delete,
            count: 0,
            retained_until: None,
            basis: None,
            kept_by_others: false,
            in_summary: true,
            what_one: String::new(),
        },
    ];
    let s = plan_sentences(&items, Some("Former freelancer #7F3A2C"), 7, false);
    assert_eq!(s.len(), 3, "{s:?}");
    assert!(s[0].starts_with("7 people"));
    assert!(
        s[1].contains("1,204 messages you wrote stay visible")
            && s[1].contains("Former freelancer #7F3A2C")
    );
    assert!(
        s[2].contains(
            "38 invoices you issued are kept until 2033-01-01 for tax and bookkeeping law"
        ),
        "{}",
        s[2]
    );
}
