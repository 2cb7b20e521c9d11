//! No plaintext personal data at rest: a member's email, names, profile text, password and
//! private file never appear in the bytes of the SQLite database, its write-ahead log, or
//! the blob folder — checked while the server runs and again after the pool is closed.

mod support;

use base64::Engine;
use serde_json::json;
use std::path::Path;
use support::{Backend, TestApp};

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The canaries found in any of `files`, with the file they were found in.
fn found_in(files: &[std::path::PathBuf], canaries: &[String]) -> Vec<String> {
    let mut hits = Vec::new();
    for f in files {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        for c in canaries {
            // Also as upper and lower case, in case something normalises before storing.
            for form in [c.clone(), c.to_lowercase(), c.to_uppercase()] {
                if contains(&bytes, form.as_bytes()) {
                    hits.push(format!(
                        "{form} in {}",
                        f.file_name().unwrap().to_string_lossy()
                    ));
                }
            }
        }
    }
    hits.sort();
    hits.dedup();
    hits
}

#[tokio::test]
async fn no_plaintext_personal_data_in_database_wal_or_blobs() {
    let mut t = TestApp::start(Backend::Sqlite).await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let canary = |what: &str| format!("canary{what}{}", &tag[..12]);
    let email = format!("{}@example.test", canary("mail"));
    let password = canary("Password");
    let legal = canary("LegalName");
    let display = canary("DisplayName");
    let headline = canary("Headline");
    let bio = canary("Bio");
    let away = canary("AwayMessage");
    let file_name = format!("{}.txt", canary("FileName"));
    let file_bytes = canary("FileBytes").repeat(50);
    let photo_bytes = canary("PhotoBytes").repeat(10);
    // Stored in plaintext on purpose (job post titles are not personal data): it proves the
    // scan reads the files where rows end up.
    let control = canary("JobTitle");

    t.post(
        None,
        "/api/v1/accounts",
        json!({"email": email, "password": password, "legal_name": legal, "display_name": display,
               "kind": "both", "headline": headline, "bio": bio}),
    )
    .await
    .expect(202);
    let session = t
        .post(
            None,
            "/api/v1/sessions",
            json!({"email": email, "password": password}),
        )
        .await
        .expect(200);
    let id = session["account_id"].as_str().unwrap().to_string();
    let token = session["token"].as_str().unwrap().to_string();
    let me = support::Member {
        id,
        email: email.clone(),
        token,
    };
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let uploaded = t
        .post(
            Some(&me),
            "/api/v1/files",
            json!({"kind": "private", "name": file_name, "content_type": "text/plain", "data_base64": b64(file_bytes.as_bytes())}),
        )
        .await
        .expect(201);
    t.post(
        Some(&me),
        "/api/v1/files",
        json!({"kind": "photo", "name": "me.png", "content_type": "image/png", "data_base64": b64(photo_bytes.as_bytes())}),
    )
    .await
    .expect(201);
    t.patch(
        Some(&me),
        "/api/v1/me/profile",
        json!({"away_message": away}),
    )
    .await
    .expect(200);
    t.post(Some(&me), "/api/v1/job-posts", json!({"title": control}))
        .await
        .expect(201);

    // The data is really there, readable through the API by its owner.
    let view = t.get(Some(&me), "/api/v1/me").await.expect(200);
    assert_eq!(
        (
            view["email"].as_str(),
            view["legal_name"].as_str(),
            view["bio"].as_str()
        ),
        (
            Some(email.as_str()),
            Some(legal.as_str()),
            Some(bio.as_str())
        )
    );
    let file_id = uploaded["id"].as_str().unwrap();
    let back = t.get(Some(&me), &format!("/api/v1/files/{file_id}")).await;
    assert_eq!(back.status, 200);
    assert_eq!(back.text, file_bytes);

    let canaries = vec![
        email.clone(),
        canary("mail"),
        password,
        legal,
        display,
        headline,
        bio,
        away,
        file_name,
        canary("FileBytes"),
        canary("PhotoBytes"),
    ];
    let db = t.sqlite_path.clone().expect("a SQLite file");
    let wal = db.with_file_name(format!("{}-wal", db.file_name().unwrap().to_string_lossy()));
    let db_files = || vec![db.clone(), wal.clone()];

    // While the server runs, recent writes sit in the write-ahead log.
    assert!(
        wal.exists(),
        "the database runs in WAL mode, so the log must exist"
    );
    assert!(
        !found_in(&db_files(), std::slice::from_ref(&control)).is_empty(),
        "the scan must see a plaintext column written through the API"
    );
    assert_eq!(found_in(&db_files(), &canaries), Vec::<String>::new());
    let blobs = files_under(&t.blob_dir);
    assert_eq!(blobs.len(), 2, "one private file and one photo: {blobs:?}");
    assert_eq!(found_in(&blobs, &canaries), Vec::<String>::new());

    // Closing the pool checkpoints the log into the database file.
    t.stop().await;
    assert!(
        !found_in(&db_files(), std::slice::from_ref(&control)).is_empty(),
        "the plaintext control must survive the checkpoint"
    );
    assert_eq!(found_in(&db_files(), &canaries), Vec::<String>::new());
    let mut all = files_under(t.dir.path());
    all.retain(|p| p.is_file());
    assert_eq!(found_in(&all, &canaries), Vec::<String>::new());
}
