//! What a build writes, in order: the account, the invoices (their PDFs render meanwhile), the
//! files (the archive writer copies them meanwhile), every other category, the viewer and the
//! schemas, then the parts and the signed manifest.
use super::Lease;
use super::builder::{BEAT, Builder, PAGE, io};
use super::categories::{AccountRecord, PersonRecord, ProfileRecord, messages};
use super::files::{files, sealed_files};
use super::invoices::{Rendered, queue_pdf, render_all};
use super::pipe::{Piece, Spool, Writers};
use crate::Hiatus;
use crate::error::ServiceResult;
use hiatus_archive::{Compression, Exclusion, FORMAT_VERSION, Manifest, SafeNames};
use hiatus_domain::{AccountId, Micros};
use hiatus_store::export_data::{self as ed, Record, rfc3339};
use hiatus_store::exports::Progress;
use hiatus_store::{StoreError, accounts, invoice_pdfs};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::sync::mpsc;

/// One build's export and the means to write it: the writer threads, a folder for temporary
/// files, the counter of file bytes the writers share and the job's lease.
pub(super) struct Build<'a> {
    pub(super) export_id: &'a str,
    pub(super) member: AccountId,
    pub(super) since: Option<Micros>,
    pub(super) writers: Writers,
    pub(super) spool_dir: &'a Path,
    pub(super) file_bytes: Arc<AtomicU64>,
    pub(super) lease: Option<Lease>,
}

impl Hiatus {
    /// Writes the archive of one build; returns the records written and the final progress.
    pub(super) async fn produce(&self, build: Build<'_>) -> ServiceResult<(i64, Progress)> {
        let Build {
            export_id,
            member,
            since,
            writers,
            spool_dir,
            file_bytes,
            lease,
        } = build;
        let started = Instant::now();
        let phase = |name: &str| tracing::debug!(export = %export_id, phase = name, ms = started.elapsed().as_millis() as u64, "export phase done");
        let mut tx = self.db.read().await?;
        let s = since.unwrap_or(0);

        // The account, the profile and the people the member dealt with.
        let acct = accounts::get(&mut tx, member).await?;
        let (email, legal_name) = accounts::contact(&mut tx, &self.keys, member).await?;
        let phone = accounts::phone(&mut tx, &self.keys, member).await?;
        let profile = accounts::profile(&mut tx, &self.keys, member).await?;
        let mut people = HashMap::new();
        people.insert(member.to_text(), profile.display_name.clone());
        let mut person_list = vec![PersonRecord {
            id: member.to_text(),
            display_name: profile.display_name.clone(),
            relation: "self".into(),
        }];
        let mut after = String::new();
        loop {
            let page = ed::counterparties_page(&mut tx, member, &after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.0.clone();
            let done = page.len() < PAGE as usize;
            for (id, wrapped, name_enc, pseudonym) in page {
                let name = match (wrapped, name_enc) {
                    _ if pseudonym.is_some() => pseudonym.unwrap_or_default(),
                    (Some(w), Some(n)) => self
                        .keys
                        .unwrap_data_key(&id, Some(&w))
                        .and_then(|dk| dk.open_field("profiles", "display_name", &id, &n))
                        .unwrap_or_else(|_| crate::FORMER_MEMBER.into()),
                    _ => crate::FORMER_MEMBER.into(),
                };
                people.insert(id.clone(), name.clone());
                person_list.push(PersonRecord {
                    id,
                    display_name: name,
                    relation: "counterparty".into(),
                });
            }
            if done {
                break;
            }
        }

        let mut b = Builder {
            h: self,
            export_id: export_id.to_string(),
            lease,
            member,
            since: s,
            tx,
            to_writer: writers.to_writer,
            to_viewer: writers.to_viewer,
            to_archive: writers.to_archive,
            spool_dir: spool_dir.to_path_buf(),
            exported: BTreeMap::new(),
            held: BTreeMap::new(),
            // Counted once the archive writer has work (below).
            progress: Progress {
                records_done: 0,
                records_total: 0,
                bytes_done: 0,
                bytes_total: 0,
            },
            totals_known: false,
            file_bytes,
            last_beat: Instant::now(),
            pdfs: None,
            to_keep: Vec::new(),
            people,
            renamed: Vec::new(),
        };

        let account = AccountRecord {
            id: member.to_text(),
            kind: acct.kind.clone(),
            role: acct.role.clone(),
            state: acct.state.clone(),
            email: email.as_str().to_string(),
            legal_name,
            phone,
            created_at: rfc3339(acct.created_at),
            state_changed_at: rfc3339(acct.state_changed_at),
            deletion_due_at: acct.deletion_due_at.map(rfc3339),
        };
        let prof = ProfileRecord {
            display_name: profile.display_name.clone(),
            headline: profile.headline.clone(),
            bio: profile.bio.clone(),
            visibility: profile.settings.visibility.as_str().into(),
            availability: profile.settings.availability.as_str().into(),
            paused_until: profile.settings.paused_until.map(rfc3339),
            notifications: profile.settings.notifications.as_str().into(),
            away_message: profile.away_message.clone(),
            hourly_rate_minor: profile.hourly_rate_minor,
            currency: profile.currency.clone(),
            photo_file_id: ed::photo_file_id(&mut b.tx, member).await?,
        };
        for (cat, json) in [
            ("account", serde_json::to_vec_pretty(&account)),
            ("profile", serde_json::to_vec_pretty(&prof)),
            ("people", serde_json::to_vec_pretty(&person_list)),
        ] {
            let json = json.map_err(|e| io(e.into()))?;
            let mut js = format!("HIATUS.load({cat:?}, ").into_bytes();
            js.extend_from_slice(&json);
            js.extend_from_slice(b");\n");
            b.entry(&format!("data/{cat}.json"), "data", json).await?;
            b.send_viewer(Piece::Entry {
                path: format!("viewer/data/{cat}.js"),
                category: "viewer",
                compression: Compression::Deflate,
            })
            .await?;
            b.send_viewer(Piece::Bytes(js)).await?;
            b.send_viewer(Piece::End).await?;
        }
        b.exported.insert("account".into(), 1);
        b.held.insert("account".into(), 1);
        b.exported.insert("people".into(), person_list.len() as u64);
        b.held.insert("people".into(), person_list.len() as u64);
        drop(person_list);

        // Invoices first: their PDFs render on another thread while the rest is written. An
        // invoice whose PDF was kept by an earlier export, for the same content, is not
        // rendered again: its kept bytes are copied.
        let kept: HashMap<String, String> = invoice_pdfs::hashes_of(&mut b.tx, member)
            .await?
            .into_iter()
            .map(|c| (c.invoice_id, c.content_hash))
            .collect();
        let mut invoice_spool = Spool::new(spool_dir).map_err(io)?;
        let mut hit_spool = Spool::new(spool_dir).map_err(io)?;
        let mut pdf_names = SafeNames::default();
        {
            let spool = &mut invoice_spool;
            let hits = &mut hit_spool;
            let kept = &kept;
            let people = b.people.clone();
            let mut side =
                |r: &ed::InvoiceRecord| queue_pdf(r, &people, kept, &mut *hits, &mut *spool);
            b.category::<ed::InvoiceRecord>(
                |r, _| r.pdf = format!("invoices/{}", pdf_names.name(&format!("{}.pdf", r.number))),
                async |_, _| Ok(()),
                Some(&mut side),
            )
            .await?;
        }
        drop(kept);
        let (invoices, _) = invoice_spool.into_shared().map_err(io)?;
        let (pdf_tx, pdf_rx) = mpsc::channel::<Rendered>(16);
        let renderer = tokio::task::spawn_blocking(move || render_all(invoices, pdf_tx));
        b.pdfs = Some(pdf_rx);
        let (hits, _) = hit_spool.into_shared().map_err(io)?;
        // The archive writer's work, first the kept PDFs, then the files' bytes: it reads,
        // hashes and writes them while the rest is read from the database and deflated into
        // the part.
        b.write_kept_pdfs(hits).await?;
        phase("invoices");
        let (files_done, mut files_written) = tokio::sync::oneshot::channel();
        let sealed = files(&mut b, files_done).await?;
        phase("files_listed");

        // What the database holds, counted in the same snapshot the records are read from.
        let held = ed::held_counts(&mut b.tx, member, s).await?;
        b.progress.bytes_total = ed::file_bytes(&mut b.tx, member, s).await?;
        b.progress.records_total = held.values().sum::<u64>() as i64;
        b.held.extend(held);
        b.totals_known = true;
        b.last_beat = Instant::now() - BEAT;
        b.tick(0).await?;

        b.category::<ed::ContractRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::MilestoneRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::PaymentRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::PayoutRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::BalanceRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::DisputeRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::JobPostRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        // Sealed values: cover letters under their senders' keys, notices and closure notes
        // under the member's.
        // (Opened record by record: a failure is kept and returned after the category.)
        let keys = b.h.keys.clone();
        let dk = accounts::get(&mut b.tx, member)
            .await?
            .data_key(&b.h.keys)?;
        let mut failed: Option<StoreError> = None;
        b.category::<ed::ProposalRecord>(
            |r, _| {
                if let Err(e) = r.open(&keys) {
                    failed.get_or_insert(e);
                }
            },
            async |_, _| Ok(()),
            None,
        )
        .await?;
        b.category::<ed::SubmissionRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::ReviewRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::AuditRecord>(
            |r, _| {
                if let Err(e) = r.open(&dk) {
                    failed.get_or_insert(e);
                }
            },
            async |_, _| Ok(()),
            None,
        )
        .await?;
        b.category::<ed::ClientNoticeRecord>(
            |r, _| {
                if let Err(e) = r.open(&dk) {
                    failed.get_or_insert(e);
                }
            },
            async |_, _| Ok(()),
            None,
        )
        .await?;
        // What the member wrote to support is sealed under their key.
        b.category::<ed::RestorationRecord>(
            |r, _| {
                r.explanation = r.explanation_enc.as_deref().and_then(|e| {
                    dk.open_field("restoration_requests", "explanation", &r.id, e)
                        .ok()
                });
                r.decision_note = r.decision_note_enc.as_deref().and_then(|e| {
                    dk.open_field("restoration_requests", "decision_note", &r.id, e)
                        .ok()
                });
            },
            async |_, _| Ok(()),
            None,
        )
        .await?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        let member_for_threads = member;
        b.category::<ed::ThreadRecord>(
            // A subject that names someone by reference shows their name as the archive
            // knows them (the pseudonym of an erased member).
            |t, people| {
                if let Some(named) = &t.named_id {
                    let name = people
                        .get(named)
                        .map(String::as_str)
                        .unwrap_or(crate::FORMER_MEMBER);
                    t.subject = t.subject.replace(hiatus_store::market::NAMED, name);
                }
            },
            async move |tx, page| {
                ed::thread_participants(tx, member_for_threads, page).await?;
                Ok(())
            },
            None,
        )
        .await?;
        phase("records");
        messages(&mut b).await?;
        phase("messages");
        sealed_files(&mut b, sealed).await?;

        for (path, bytes) in hiatus_archive::viewer_assets() {
            b.entry(path, "viewer", bytes.to_vec()).await?;
        }
        macro_rules! schemas {
            ($($t:ty),*) => {$( b.schema::<Vec<$t>>(<$t>::CATEGORY).await?; )*};
        }
        hiatus_store::for_each_export_record!(schemas);
        b.schema::<AccountRecord>("account").await?;
        b.schema::<ProfileRecord>("profile").await?;
        b.schema::<Vec<PersonRecord>>("people").await?;
        phase("copies");
        b.write_pdfs(true).await?;
        renderer
            .await
            .map_err(|e| io(std::io::Error::other(e.to_string())))?
            .map_err(|e| io(std::io::Error::other(e)))?;
        phase("rendered");
        b.send(Piece::EndPart).await?;
        b.send_viewer(Piece::EndPart).await?;

        // The archive writer's files, then the kept PDFs, then the part.
        b.wait_ticking(&mut files_written)
            .await?
            .map_err(|_| io(std::io::Error::other("the archive writer stopped")))?;
        phase("files_written");
        for mut part in [writers.part, writers.viewer] {
            let (part, entries) = b
                .wait_ticking(&mut part)
                .await?
                .map_err(|e| io(std::io::Error::other(e.to_string())))?
                .map_err(|e| io(std::io::Error::other(e)))?;
            b.send_archive(Piece::Part(part, entries)).await?;
        }
        phase("part");
        let records = b.progress.records_done;
        b.progress.bytes_done = b.file_bytes.load(Ordering::Relaxed) as i64;
        let progress = b.progress;
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            account_id: member.to_text(),
            created_at: rfc3339(self.now()),
            since: since.map(rfc3339),
            files: Vec::new(),
            exported: std::mem::take(&mut b.exported),
            held: std::mem::take(&mut b.held),
            excluded: self
                .config
                .policy
                .export_exclusions()
                .into_iter()
                .map(|r| Exclusion {
                    what: r.what.clone(),
                    why: r.why.clone(),
                })
                .collect(),
            renamed: std::mem::take(&mut b.renamed),
        };
        b.send_archive(Piece::Finish(Box::new(manifest))).await?;
        let Builder { tx, .. } = b;
        tx.commit().await?;
        Ok((records, progress))
    }
}
