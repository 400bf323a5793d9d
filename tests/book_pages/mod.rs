//! The book's pages as the book tests read them: `book/src/*.md`, found
//! from the repository root. Shared by `tests/book_facts.rs` and
//! `tests/book_build.rs`.

use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every page of the book but SUMMARY.md, as (file name, text).
pub fn pages() -> Vec<(String, String)> {
    let dir = root().join("book/src");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .filter(|p| p.file_name().unwrap() != "SUMMARY.md")
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                read(&p),
            )
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 10,
        "expected the book's pages in {}",
        dir.display()
    );
    out
}

pub fn page(name: &str) -> String {
    read(&root().join("book/src").join(name))
}
