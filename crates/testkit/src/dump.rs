//! A canonical dump of a database: every row of every table as sorted JSON text, by table,
//! for comparing a database before and after something that must (or must not) change it.

use hiatus_store::Db;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Rows (each a JSON object with sorted keys, blobs as hex), sorted, by table.
pub type Dump = BTreeMap<String, Vec<String>>;

/// Every row of every table of `db`.
pub async fn dump(db: &Db) -> Dump {
    dump_with(db, |_, _| {}).await
}

/// Like [`dump`], with each row passed through `canonical(table, row)` first (to replace the
/// values that are random per run).
pub async fn dump_with(
    db: &Db,
    mut canonical: impl FnMut(&str, &mut BTreeMap<String, Value>),
) -> Dump {
    let tables = hiatus_store::testing::all_rows(db)
        .await
        .expect("every row of every table");
    tables
        .into_iter()
        .map(|(t, rows)| {
            let mut rows: Vec<String> = rows
                .into_iter()
                .map(|mut row| {
                    canonical(&t, &mut row);
                    serde_json::to_string(&row).expect("a row as JSON")
                })
                .collect();
            rows.sort();
            (t, rows)
        })
        .collect()
}

/// The differences between dumps `a` and `b`, in words (empty when equal): per table, how
/// many rows only one side has and up to `examples` of them, sides named `names`.
pub fn dump_diff(a: &Dump, b: &Dump, names: (&str, &str), examples: usize) -> String {
    let (na, nb) = names;
    let mut out = String::new();
    let tables: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for t in tables {
        let ra: BTreeSet<&String> = a.get(t).map(|v| v.iter().collect()).unwrap_or_default();
        let rb: BTreeSet<&String> = b.get(t).map(|v| v.iter().collect()).unwrap_or_default();
        let only_a: Vec<_> = ra.difference(&rb).take(examples).collect();
        let only_b: Vec<_> = rb.difference(&ra).take(examples).collect();
        if !only_a.is_empty() || !only_b.is_empty() {
            out.push_str(&format!(
                "\n{t}: {} row(s) only {na}, {} only {nb}; {na} e.g. {only_a:?}; {nb} e.g. {only_b:?}",
                ra.difference(&rb).count(),
                rb.difference(&ra).count()
            ));
        }
    }
    out
}
