use std::future::Future;
use std::path::PathBuf;

use sendwell_dns::{MockLookup, MockRecord, Txt};

/// A file under tests/data.
pub fn data(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("read {}: {e}", full.display()))
}

/// The file names in a tests/data folder, sorted.
pub fn files(dir: &str) -> Vec<String> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir);
    let mut names: Vec<String> = std::fs::read_dir(&full)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Run a future to completion on a current-thread runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

/// A DNS holding one single-string TXT record per (name, value).
pub fn mock(records: &[(&str, &str)]) -> MockLookup {
    let mut dns = MockLookup::new();
    for (name, value) in records {
        dns.add(name, MockRecord::Txt(Txt::new([value.as_bytes().to_vec()])));
    }
    dns
}

/// LF line endings to CRLF.
pub fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 20);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// The key record value of a dkimpy-style file (one line, maybe with a trailing newline).
pub fn record(path: &str) -> String {
    String::from_utf8(data(path)).unwrap().trim().to_string()
}
