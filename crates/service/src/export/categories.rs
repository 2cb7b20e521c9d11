//! The categories that are more than a page of records: the account, the profile and the
//! people the member dealt with, and the messages (one viewer part per thread).

use super::builder::{Builder, CHUNK, PAGE, csv_record, io};
use super::pipe::{Piece, Spool};
use crate::error::ServiceResult;
use hiatus_archive::Compression;
use hiatus_store::export_data::{self as ed, Record};
use schemars::JsonSchema;
use serde::Serialize;

/// The account as exported.
#[derive(Serialize, JsonSchema)]
pub(super) struct AccountRecord {
    pub(super) id: String,
    pub(super) kind: String,
    pub(super) role: String,
    pub(super) state: String,
    pub(super) email: String,
    pub(super) legal_name: String,
    pub(super) phone: Option<String>,
    pub(super) created_at: String,
    pub(super) state_changed_at: String,
    pub(super) deletion_due_at: Option<String>,
}

/// The profile as exported.
#[derive(Serialize, JsonSchema)]
pub(super) struct ProfileRecord {
    pub(super) display_name: String,
    pub(super) headline: String,
    pub(super) bio: String,
    pub(super) visibility: String,
    pub(super) availability: String,
    pub(super) paused_until: Option<String>,
    pub(super) notifications: String,
    pub(super) away_message: Option<String>,
    pub(super) hourly_rate_minor: Option<i64>,
    pub(super) currency: String,
    /// The profile photo, one of the `files`.
    pub(super) photo_file_id: Option<String>,
}

/// A person the member dealt with, by the name the member saw.
#[derive(Serialize, JsonSchema)]
pub(super) struct PersonRecord {
    pub(super) id: String,
    pub(super) display_name: String,
    /// `self` or `counterparty`.
    pub(super) relation: String,
}

/// Messages: `data/messages.json` straight to the part, the viewer's parts (one thread, up to
/// 500 messages each) to the viewer's part, the CSV spooled.
pub(super) async fn messages(b: &mut Builder<'_>) -> ServiceResult<()> {
    let mut csv = csv::Writer::from_writer(Spool::new(&b.spool_dir).map_err(io)?);
    csv.write_record(ed::MessageRecord::CSV.expect("messages have a CSV"))
        .map_err(|e| io(std::io::Error::other(e)))?;
    b.send(Piece::Entry {
        path: "data/messages.json".into(),
        category: "data",
        compression: Compression::Deflate,
    })
    .await?;
    let mut buf = Vec::with_capacity(CHUNK + 4096);
    buf.push(b'[');
    let mut n = 0u64;
    let mut after_thread = String::new();
    loop {
        let threads =
            ed::thread_ids_page(&mut b.tx, b.member, &after_thread, PAGE, b.since).await?;
        let Some(last) = threads.last() else { break };
        after_thread = last.clone();
        let last_page = threads.len() < PAGE as usize;
        for thread in threads {
            let (mut at, mut aid) = (b.since - 1, String::new());
            let mut part = 0u64;
            loop {
                let msgs =
                    ed::messages_of_thread(&mut b.tx, &thread, at, &aid, ed::MESSAGES_PER_PART)
                        .await?;
                let Some(m) = msgs.last() else { break };
                (at, aid) = (m.created_at, m.id.clone());
                let count = msgs.len();
                let mut view = format!("HIATUS.messages({thread:?}, {part}, [").into_bytes();
                for (i, m) in msgs.iter().enumerate() {
                    if n > 0 {
                        buf.push(b',');
                    }
                    buf.push(b'\n');
                    let at = buf.len();
                    serde_json::to_writer(&mut buf, m).map_err(|e| io(e.into()))?;
                    if i > 0 {
                        view.extend_from_slice(b",\n");
                    }
                    view.extend_from_slice(&buf[at..]);
                    csv_record(&mut csv, &m.csv_row())?;
                    n += 1;
                    if buf.len() >= CHUNK {
                        b.send(Piece::Bytes(std::mem::take(&mut buf))).await?;
                        buf.reserve(CHUNK + 4096);
                    }
                }
                view.extend_from_slice(b"]);\n");
                b.send_viewer(Piece::Entry {
                    path: format!("viewer/messages/{thread}-{part}.js"),
                    category: "viewer",
                    compression: Compression::Deflate,
                })
                .await?;
                b.send_viewer(Piece::Bytes(view)).await?;
                b.send_viewer(Piece::End).await?;
                part += 1;
                b.tick(count as u64).await?;
                if count < ed::MESSAGES_PER_PART as usize {
                    break;
                }
            }
        }
        if last_page {
            break;
        }
    }
    buf.extend_from_slice(b"\n]\n");
    b.send(Piece::Bytes(buf)).await?;
    b.send(Piece::End).await?;
    b.exported.insert("messages".into(), n);
    let spool = csv
        .into_inner()
        .map_err(|e| io(std::io::Error::other(e.to_string())))?;
    b.send_spooled("data/messages.csv".into(), spool).await
}
