use super::*;
use crate::db::Backend;
use std::collections::{BTreeMap, BTreeSet};

#[test]
fn the_shipped_policy_is_valid_and_classifies_every_rule_column() {
    let p = Policy::shipped();
    assert!(p.tables.len() >= 25);
    assert!(!p.export_exclusions().is_empty());
    for c in p.compile(Backend::Sqlite) {
        assert!(c.batch_sql.contains(&c.rule.table));
    }
}

fn edit(from: &str, to: &str) -> String {
    assert!(DEFAULT_POLICY.contains(from), "{from}");
    DEFAULT_POLICY.replacen(from, to, 1)
}

#[test]
fn inconsistent_policies_are_refused_with_the_reason() {
    let cases = [
        (
            edit(
                "author_id = { erase = \"pseudonymize\", export = \"include\" }\nbody",
                "author_id = { erase = \"keep\", export = \"include\" }\nbody",
            ),
            "classified Keep",
        ),
        (
            edit(
                "password_hash = { erase = \"delete\", export = \"exclude\", reason = \"secrets\", not_personal = true }",
                "password_hash = { erase = \"delete\", export = \"exclude\", not_personal = true }",
            ),
            "without a reason",
        ),
        (
            edit("reason = \"secrets\" }", "reason = \"nope\" }"),
            "not in [exclusions]",
        ),
        (
            edit("period = \"tax\"", "period = \"forever\""),
            "not in [retention]",
        ),
        (edit("version = 1", "version = 2"), "not supported"),
        (
            edit(
                "noun = \"job posts\"",
                "noun = \"job posts\"\nkey = \"nope\"",
            ),
            "does not classify",
        ),
        (
            edit(
                "table = \"messages\"\nmember = \"author_id\"",
                "table = \"messages\"\nmember = \"body\"",
            ),
            "classified Keep",
        ),
        (
            edit(
                "member = \"opened_by\"\naction = \"pseudonymize\"",
                "member = \"opened_by\"\naction = \"delete\"",
            ),
            "disputes.opened_by is classified Pseudonymize but no rule does it",
        ),
        (
            edit("erase = \"keep\"", "erase = \"forget\""),
            "unknown variant",
        ),
    ];
    for (text, expect) in cases {
        let e = Policy::parse(&text).expect_err(expect).to_string();
        assert!(e.contains(expect), "{expect:?} not in {e}");
    }
}

#[test]
fn schema_mismatches_are_listed() {
    let p = Policy::shipped();
    let mut live: BTreeMap<String, BTreeSet<String>> = p
        .tables
        .iter()
        .map(|(t, tp)| (t.clone(), tp.columns.keys().cloned().collect()))
        .collect();
    p.check_schema(&live).unwrap();
    live.get_mut("messages").unwrap().insert("mood".into());
    live.get_mut("files").unwrap().remove("sha256");
    live.insert("stickers".into(), ["id".to_string()].into());
    live.insert("_sqlx_migrations".into(), ["version".to_string()].into());
    let e = p.check_schema(&live).unwrap_err().to_string();
    assert!(e.contains("column messages.mood is not classified"), "{e}");
    assert!(
        e.contains("classifies files.sha256, which the database does not have"),
        "{e}"
    );
    assert!(
        e.contains("table stickers is not in the erasure policy"),
        "{e}"
    );
    assert!(!e.contains("_sqlx_migrations"), "{e}");
}

/// The declared types of a schema that matches the shipped policy: ids and codes as text,
/// sealed values as bytes.
fn types_of(p: &Policy) -> BTreeMap<String, BTreeMap<String, String>> {
    p.tables
        .iter()
        .map(|(t, tp)| {
            let cols = tp
                .columns
                .iter()
                .map(|(c, cp)| {
                    let ty = if cp.sealed || c.ends_with("_enc") || c == "pdf" {
                        "BLOB"
                    } else {
                        "TEXT"
                    };
                    (c.clone(), ty.to_string())
                })
                .collect();
            (t.clone(), cols)
        })
        .collect()
}

#[test]
fn an_unsealed_text_column_that_erasure_deletes_is_refused_by_name() {
    let text = edit(
        "display_name_enc = { erase = \"delete\", export = \"include\", sealed = true }",
        "display_name_enc = { erase = \"delete\", export = \"include\" }\ndisplay_name = { erase = \"delete\", export = \"include\" }",
    );
    let p = Policy::parse(&text).unwrap();
    let mut types = types_of(&p);
    let e = p.check_sealed(&types).unwrap_err().to_string();
    assert!(
        e.contains("profiles.display_name is classified delete and holds TEXT in plaintext"),
        "{e}"
    );
    assert!(
        e.contains("profiles.display_name_enc is classified delete and holds BLOB in plaintext"),
        "the marker is what counts, not the name: {e}"
    );
    // A redacted column is held to the same rule; an integer column is not.
    types
        .get_mut("profiles")
        .unwrap()
        .insert("display_name".into(), "BIGINT".into());
    let e = p.check_sealed(&types).unwrap_err().to_string();
    assert!(!e.contains("profiles.display_name is"), "{e}");
    // A column marked sealed must hold bytes.
    let p = Policy::parse(&edit(
        "bio_enc = { erase = \"delete\", export = \"include\", sealed = true }",
        "bio_enc = { erase = \"delete\", export = \"include\", sealed = true }",
    ))
    .unwrap();
    let mut types = types_of(&p);
    types
        .get_mut("profiles")
        .unwrap()
        .insert("bio_enc".into(), "text".into());
    let e = p.check_sealed(&types).unwrap_err().to_string();
    assert!(
        e.contains("profiles.bio_enc is marked sealed but its type \"text\""),
        "{e}"
    );
    // Both markers at once, or not_personal on a kept column, are contradictions.
    let e = Policy::parse(&edit(
        "bio_enc = { erase = \"delete\", export = \"include\", sealed = true }",
        "bio_enc = { erase = \"delete\", export = \"include\", sealed = true, not_personal = true }",
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("both sealed and not_personal"), "{e}");
}

#[test]
fn statements_bind_every_value() {
    let p = Policy::shipped();
    let rules = p.compile(Backend::Postgres);
    let files = rules
        .iter()
        .find(|c| c.rule.table == "files" && c.rule.when.iter().any(|w| w.is_in.is_some()))
        .unwrap();
    assert_eq!(files.when_values, ["photo", "private"]);
    assert!(
        files
            .batch_sql
            .starts_with("DELETE FROM files WHERE owner_id = $1 AND kind IN ($2, $3)"),
        "{}",
        files.batch_sql
    );
    assert!(files.count_sql.contains("kind IN ($2, $3)"));
    let msgs = rules.iter().find(|c| c.rule.table == "messages").unwrap();
    assert!(
        msgs.batch_sql
            .starts_with("UPDATE messages SET author_id = $2 WHERE author_id = $1"),
        "{}",
        msgs.batch_sql
    );
    let audit = rules
        .iter()
        .find(|c| c.rule.action == Action::Redact)
        .unwrap();
    assert!(
        audit.batch_sql.contains("SET detail = $2") && audit.batch_sql.contains("NOT IN ($3)"),
        "{}",
        audit.batch_sql
    );
    let sqlite = p.compile(Backend::Sqlite);
    let msgs = sqlite.iter().find(|c| c.rule.table == "messages").unwrap();
    assert_eq!(
        msgs.batch_sql,
        format!(
            "UPDATE messages SET author_id = $2 WHERE rowid IN (SELECT rowid FROM messages WHERE author_id = $1 LIMIT {BATCH})"
        )
    );
    let jobs = rules.iter().find(|c| c.rule.table == "jobs").unwrap();
    assert_eq!(jobs.member_arg("abc"), "%\"account_id\":\"abc\"%");
    assert!(
        !rules.iter().any(|c| c.batch_sql.contains('\'')),
        "values are bound, never inlined"
    );
}
