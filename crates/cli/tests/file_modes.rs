//! What hiatus leaves on disk is for its own user only: after a demo start and a mail sent,
//! the database (and its -wal/-shm), the master key, the mail spool (whose messages carry live
//! reset and cancel links) and the files are 0600, their folders 0700 — whatever the umask of
//! the shell that started it.

#![cfg(unix)]

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hiatus"));
    c.current_dir(dir)
        .args(["--data-dir", "data", "--insecure-fast-passwords"])
        .args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("HIATUS_") {
            c.env_remove(k);
        }
    }
    // A permissive umask, as a careless login might have.
    // SAFETY: umask in the child between fork and exec touches nothing else.
    unsafe {
        c.pre_exec(|| {
            libc::umask(0o000);
            Ok(())
        });
    }
    c
}

fn hiatus(dir: &Path, args: &[&str]) -> Output {
    let out = command(dir, args).output().expect("run hiatus");
    assert!(
        out.status.success(),
        "hiatus {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Every file and folder under `root`, with its mode.
fn walk(root: &Path, out: &mut Vec<(std::path::PathBuf, bool, u32)>) {
    for e in std::fs::read_dir(root).unwrap().flatten() {
        let p = e.path();
        let dir = p.is_dir();
        out.push((p.clone(), dir, mode(&p)));
        if dir {
            walk(&p, out);
        }
    }
}

#[test]
fn the_data_folder_is_private_after_a_demo_start() {
    let dir = tempfile::tempdir().unwrap();
    hiatus(dir.path(), &["demo", "--no-serve"]);
    // A restoration request, so the embedded worker writes a mail (with its live code).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = command(dir.path(), &["serve", "--listen", &listen])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let data = dir.path().join("data");
    let started = Instant::now();
    let mut asked = false;
    let mut mailed = false;
    while started.elapsed() < Duration::from_secs(60) && !mailed {
        if !asked && let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let body = r#"{"email": "ana@demo.hiatus.test"}"#;
            write!(
                s,
                "POST /api/v1/restorations HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            let mut r = String::new();
            let _ = s.read_to_string(&mut r);
            asked = r.starts_with("HTTP/1.0 202") || r.starts_with("HTTP/1.1 202");
        }
        mailed = std::fs::read_dir(data.join("mail")).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "eml"))
        });
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(asked, "the restoration request was accepted");
    assert_eq!(mode(&data), 0o700, "the data folder");
    for name in ["hiatus.db", "master.key"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    let mut all = Vec::new();
    walk(&data, &mut all);
    let mails = all
        .iter()
        .filter(|(p, _, _)| p.extension().is_some_and(|x| x == "eml"))
        .count();
    assert!(mails > 0, "the worker wrote mail to check");
    let mut open = Vec::new();
    for (p, is_dir, m) in &all {
        let want = if *is_dir { 0o700 } else { 0o600 };
        if *m != want {
            open.push(format!("{} {m:o}", p.display()));
        }
    }
    assert!(open.is_empty(), "readable by others: {open:?}");
}
