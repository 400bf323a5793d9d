//! DESIGN.md's layers, checked: the mechanism and kernel modules never
//! import the faces (src/cli) and never use clap (flags belong to the
//! faces). No root needed: it reads the source.

use std::path::{Path, PathBuf};

const BELOW_THE_FACES: [&str; 10] = [
    "ns", "rootfs", "cgroup", "union", "layer", "volume", "security", "net", "sys", "probe",
];
const FORBIDDEN: [&str; 3] = ["crate::cli", "use clap", "clap::"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// Every `file:line: text` in the mechanism and kernel layers that
/// reaches up into the faces.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for module in BELOW_THE_FACES {
        let dir = src.join(module);
        assert!(
            dir.is_dir(),
            "{} is missing: update BELOW_THE_FACES",
            dir.display()
        );
        rust_files(&dir, &mut files);
    }
    assert!(
        !files.is_empty(),
        "no source files found under {}",
        src.display()
    );
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read source file");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if FORBIDDEN.iter().any(|f| code.contains(f)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn mechanism_and_kernel_never_reach_up_into_the_faces() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "mechanism/kernel modules must not import src/cli or clap (DESIGN.md: imports point down only):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_finds_what_it_looks_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    for module in BELOW_THE_FACES {
        std::fs::create_dir_all(dir.path().join(module)).expect("mkdir");
    }
    std::fs::write(
        dir.path().join("ns/bad.rs"),
        "use crate::cli::lesson;\n// clap:: in a comment is fine\n#[derive(clap::Args)]\n",
    )
    .unwrap();
    let found = violations(dir.path());
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].ends_with("bad.rs:1: use crate::cli::lesson;"),
        "{found:?}"
    );
    assert!(found[1].contains("bad.rs:3:"), "{found:?}");
}
