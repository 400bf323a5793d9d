//! Every chapter has a lab, the committed labs are current with their
//! chapters, and every checker accepts its chapter's own binary and rejects
//! the untouched skeleton with a message that names the TODO to finish. A
//! written lab's checker also accepts its reference solution and rejects
//! each of its wrong answers (labs/NN-topic/wrong/*.txt) on the kernel fact
//! the fixture names; its hints come one more at a time.
//!
//! A lab crate's compile is the slow part (its dependencies are built once,
//! in target/labs): one test per lab swaps skeleton, solution and wrong
//! answers through one work dir, so only the lab crate itself recompiles.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// `01-chroot`, `02-namespaces`, … as they exist in chapters/.
/// Chapters whose lab is still to be written: each is named here, so the
/// gap is visible and `every_chapter_is_a_lab_or_named_as_missing` fails
/// for any other chapter without one.
const NO_LAB_YET: &[&str] = &[];

fn chapters() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("chapters");
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("src/main.rs").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !NO_LAB_YET.contains(&name.as_str()))
        .collect();
    out.sort();
    out
}

#[test]
fn a_chapter_named_as_missing_its_lab_really_has_none() {
    for ch in NO_LAB_YET {
        let lab = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs").join(ch);
        assert!(!lab.exists(), "{ch} has a lab now: take it off NO_LAB_YET");
        eprintln!("NOTE: chapter {ch} has no lab yet");
    }
}

#[test]
fn committed_labs_are_current() {
    let out = std::process::Command::new(bin("wharf"))
        .args(["lab", "gen", "--check"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    for ch in chapters() {
        let lab = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs").join(&ch);
        // A generated lab's skeleton is src/main.rs; a written one's is
        // skeleton/main.rs (src/ is the learner's, not in git).
        let skeleton = ["src/main.rs", "skeleton/main.rs"].map(|f| lab.join(f));
        assert!(skeleton.iter().any(|f| f.is_file()), "chapter {ch} has no lab: write one (labs/README.md) or mark the chapter's solution regions and run `wharf lab gen`");
    }
}

/// Fresh skeletons in a temp dir, so a learner's work in labs/ is never
/// what the test judges.
fn fresh_labs(t: &TestRoot) -> PathBuf {
    let out_dir = t.path().join("labs");
    let out = t.run("wharf", &["lab", "gen", "--out", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    out_dir
}

/// `wharf lab check N` of the chapter's own binary passes.
fn accepts_the_chapter(t: &TestRoot, ch: &str, num: &str) {
    let reference = bin(&format!("ch{ch}"));
    let ok = t.run(
        "wharf",
        &["lab", "check", num, "--bin", reference.to_str().unwrap()],
    );
    assert!(
        ok.status.success(),
        "the checker rejects chapter {ch} itself:\n{}{}",
        stdout(&ok),
        stderr(&ok)
    );
    assert!(stdout(&ok).contains("passed"), "{}", stdout(&ok));
    assert!(!stdout(&ok).contains("FAIL"), "{}", stdout(&ok));
}

/// `wharf lab check N --dir DIR`: its exit code and what it printed.
fn check_dir(t: &TestRoot, num: &str, dir: &Path) -> (Option<i32>, String) {
    let out = t.run(
        "wharf",
        &["lab", "check", num, "--dir", dir.to_str().unwrap()],
    );
    (
        out.status.code(),
        format!("{}{}", stdout(&out), stderr(&out)),
    )
}

/// The untouched skeleton in `dir` fails, naming the TODO it reached and
/// what to do.
fn rejects_the_skeleton(t: &TestRoot, ch: &str, num: &str, dir: &Path) {
    let (code, said) = check_dir(t, num, dir);
    assert_eq!(
        code,
        Some(1),
        "the untouched skeleton of {ch} passed:\n{said}"
    );
    assert!(said.contains("FAIL"), "{said}");
    assert!(
        said.contains("reached a TODO: "),
        "the message does not name the TODO to finish:\n{said}"
    );
    assert!(
        said.contains("->"),
        "the message does not say what to do:\n{said}"
    );
}

fn accepts_reference_and_rejects_skeleton(ch: &str) {
    let t = TestRoot::new();
    let num = ch[..2].trim_start_matches('0').to_string();
    accepts_the_chapter(&t, ch, &num);
    let dir = fresh_labs(&t).join(ch);
    assert!(
        dir.join("src/main.rs").is_file(),
        "chapter {ch} generates no lab: mark its solution regions (labs/README.md)"
    );
    rejects_the_skeleton(&t, ch, &num, &dir);
}

/// A wrong answer: the solution with some lines replaced, and the checks
/// that must fail (`fail: CHECK`) and the words the output must show
/// (`shows: TEXT`). Its hunks read like a merge conflict:
/// `<<<<<<< solution`, the solution's lines, `=======`, the wrong lines,
/// `>>>>>>> wrong`.
struct Wrong {
    name: String,
    fails: Vec<String>,
    shows: Vec<String>,
    hunks: Vec<(String, String)>,
}

impl Wrong {
    fn read(path: &Path) -> Wrong {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (mut fails, mut shows, mut hunks) = (Vec::new(), Vec::new(), Vec::new());
        let mut side: Option<(String, Option<String>)> = None;
        for line in text.lines() {
            side = match (line, side) {
                ("<<<<<<< solution", None) => Some((String::new(), None)),
                ("=======", Some((old, None))) => Some((old, Some(String::new()))),
                (">>>>>>> wrong", Some((old, Some(new)))) => {
                    hunks.push((old, new));
                    None
                }
                (l, Some((mut old, None))) => {
                    old.push_str(&format!("{l}\n"));
                    Some((old, None))
                }
                (l, Some((old, Some(mut new)))) => {
                    new.push_str(&format!("{l}\n"));
                    Some((old, Some(new)))
                }
                (l, None) => {
                    if let Some(c) = l.strip_prefix("fail: ") {
                        fails.push(c.to_string());
                    } else if let Some(w) = l.strip_prefix("shows: ") {
                        shows.push(w.to_string());
                    }
                    None
                }
            };
        }
        assert!(side.is_none(), "{name}: a hunk is not closed");
        assert!(
            !hunks.is_empty() && !fails.is_empty(),
            "{name}: needs a hunk and a `fail:` line"
        );
        Wrong {
            name,
            fails,
            shows,
            hunks,
        }
    }

    /// The solution with this answer's hunks applied; each must match once.
    fn apply(&self, solution: &str) -> String {
        let mut text = solution.to_string();
        for (old, new) in &self.hunks {
            assert_eq!(
                text.matches(old.as_str()).count(),
                1,
                "{}: a hunk does not match the solution exactly once:\n{old}",
                self.name
            );
            text = text.replacen(old.as_str(), new, 1);
        }
        text
    }
}

/// A written lab, judged in one work dir: the chapter passes, the skeleton
/// fails at a TODO, the solution passes, every wrong answer fails on the
/// checks its fixture names with what the kernel showed, and `hint` gives
/// one more hint per call.
fn written_lab(ch: &str) {
    let t = TestRoot::new();
    let num = ch[..2].trim_start_matches('0').to_string();
    accepts_the_chapter(&t, ch, &num);
    let dir = fresh_labs(&t).join(ch);
    assert!(
        dir.join("skeleton/main.rs").is_file(),
        "{ch} is not a written lab"
    );
    rejects_the_skeleton(&t, ch, &num, &dir);

    let main = dir.join("src/main.rs");
    let solution = std::fs::read_to_string(dir.join("solution/main.rs")).unwrap();
    std::fs::write(&main, &solution).unwrap();
    let (code, said) = check_dir(&t, &num, &dir);
    assert_eq!(
        code,
        Some(0),
        "the checker rejects the reference solution of {ch}:\n{said}"
    );
    assert!(!said.contains("FAIL"), "{said}");

    let mut wrongs: Vec<PathBuf> = std::fs::read_dir(dir.join("wrong"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    wrongs.sort();
    assert!(
        wrongs.len() >= 2,
        "{ch} needs at least two wrong answers in wrong/"
    );
    for path in wrongs {
        let wrong = Wrong::read(&path);
        std::fs::write(&main, wrong.apply(&solution)).unwrap();
        let (code, said) = check_dir(&t, &num, &dir);
        assert_eq!(
            code,
            Some(1),
            "{ch}: the wrong answer {} passed:\n{said}",
            wrong.name
        );
        for check in &wrong.fails {
            let row = said
                .lines()
                .find(|l| l.contains(check.as_str()))
                .unwrap_or_else(|| panic!("{}: no {check:?} row:\n{said}", wrong.name));
            assert!(
                row.contains("FAIL"),
                "{}: {check:?} did not fail:\n{said}",
                wrong.name
            );
        }
        for words in &wrong.shows {
            assert!(
                said.contains(words.as_str()),
                "{}: the output does not show {words:?}:\n{said}",
                wrong.name
            );
        }
        assert!(
            said.contains("->"),
            "{}: no fix is named:\n{said}",
            wrong.name
        );
    }
    hints_come_one_at_a_time(&t, &num, &dir);
}

/// Each `wharf lab hint N` shows one hint more than the call before, up to
/// the last; the count is kept in the work dir.
fn hints_come_one_at_a_time(t: &TestRoot, num: &str, dir: &Path) {
    let hint = || {
        let out = t.run(
            "wharf",
            &["lab", "hint", num, "--dir", dir.to_str().unwrap()],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let first = hint();
    let total: usize = first
        .lines()
        .next()
        .and_then(|l| l.rsplit(" of ").next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `hint N of M` line:\n{first}"));
    assert!(total >= 3, "fewer than three hints:\n{first}");
    assert!(first.contains(": hint 1 of "), "{first}");
    assert!(
        !first.contains("\n2. "),
        "the first call shows more than one hint:\n{first}"
    );
    for n in 2..=total {
        let said = hint();
        assert!(said.contains(&format!(": hint {n} of {total}")), "{said}");
        assert!(said.contains(&format!("\n{n}. ")), "{said}");
    }
    let after = hint();
    assert!(
        after.contains(&format!(": hint {total} of {total}")),
        "{after}"
    );
    assert!(
        after.contains("solution"),
        "the last hint names the solution:\n{after}"
    );
}

#[test]
fn lab01_chroot() {
    written_lab("01-chroot");
}

#[test]
fn lab02_namespaces() {
    written_lab("02-namespaces");
}

#[test]
fn lab03_setns() {
    written_lab("03-setns");
}

#[test]
fn lab04_cgroups() {
    written_lab("04-cgroups");
}

#[test]
fn lab05_union() {
    written_lab("05-union");
}

#[test]
fn lab06_whiteouts() {
    accepts_reference_and_rejects_skeleton("06-whiteouts");
}

#[test]
fn lab07_volumes() {
    accepts_reference_and_rejects_skeleton("07-volumes");
}

#[test]
fn lab08_security() {
    accepts_reference_and_rejects_skeleton("08-security");
}

/// A lab half done: the capability sets written, the seccomp TODO only
/// deleted. The judge passes the first and fails the filter, naming it:
/// each of its checks can fail on its own.
#[test]
fn lab08_judge_fails_a_lab_without_the_filter() {
    let t = TestRoot::new();
    let dir = fresh_labs(&t).join("08-security");
    let main = dir.join("src/main.rs");
    let text = std::fs::read_to_string(&main).unwrap();
    let caps = "b = b.capabilities(security::caps::with_changes(&h.cap_add, &h.cap_drop)?);";
    let mut todos = 0;
    let half: Vec<String> = text
        .lines()
        .map(|l| match l.trim_start().starts_with("todo!(") {
            true => {
                todos += 1;
                if todos == 1 {
                    caps.to_string()
                } else {
                    String::new()
                }
            }
            false => l.to_string(),
        })
        .collect();
    assert_eq!(todos, 2, "lab 08 should have two TODOs:\n{text}");
    std::fs::write(&main, half.join("\n")).unwrap();
    // Its own package name, so it never replaces the skeleton another test
    // builds into the same target dir (shared, so only this crate compiles).
    let manifest = dir.join("Cargo.toml");
    let m = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, m.replace("\"lab08-security\"", "\"lab08-half\"")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock"),
        dir.join("Cargo.lock"),
    )
    .unwrap();
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/labs");
    let built = std::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()))
        .args(["build", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", stderr(&built));
    let half_bin = target.join("debug/lab08-half");
    let out = t.run(
        "wharf",
        &["lab", "check", "8", "--bin", half_bin.to_str().unwrap()],
    );
    let said = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{said}{}", stderr(&out));
    let line = |check: &str| {
        said.lines()
            .find(|l| l.contains(check))
            .unwrap_or_else(|| panic!("no {check:?} row:\n{said}"))
            .to_string()
    };
    assert!(line("bounding set").contains("ok "), "{said}");
    assert!(
        line("a seccomp filter is attached").contains("FAIL"),
        "{said}"
    );
    assert!(line("Seccomp: 0").contains("FAIL"), "{said}");
    assert!(
        said.contains("-> b.no_new_privileges"),
        "the fix names the call:\n{said}"
    );
}

#[test]
fn lab09_network() {
    accepts_reference_and_rejects_skeleton("09-network");
}

#[test]
fn every_chapter_has_a_checker_test() {
    let me = include_str!("labs.rs");
    for ch in chapters() {
        let test = format!("accepts_reference_and_rejects_skeleton(\"{ch}\")");
        let written = format!("written_lab(\"{ch}\")");
        assert!(
            me.contains(&test) || me.contains(&written),
            "chapter {ch} has no checker test in tests/labs.rs"
        );
    }
}

#[test]
fn an_unknown_lab_is_one_clear_error() {
    let out = std::process::Command::new(bin("wharf"))
        .args(["lab", "hint", "99"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no lab \"99\""), "{}", stderr(&out));
}

/// The book's internal links and its `{{#include}}`s all resolve: every
/// linked page exists, every included file exists, and every named anchor
/// is in the file (mdBook would otherwise render an empty code block).
#[test]
fn book_links_and_includes_resolve() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src");
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let page = entry.unwrap().path();
        if page.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&page).unwrap();
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        for inc in text
            .split("{{#include ")
            .skip(1)
            .filter_map(|s| s.split_once("}}"))
            .map(|(i, _)| i.trim())
        {
            let (file, anchor) = inc.split_once(':').unwrap_or((inc, ""));
            let target = src.join(file);
            match std::fs::read_to_string(&target) {
                Err(_) => problems.push(format!("{name}: includes missing file {file}")),
                Ok(body) => {
                    let named =
                        !anchor.is_empty() && !anchor.starts_with(|c: char| c.is_ascii_digit());
                    if named && !body.contains(&format!("ANCHOR: {anchor}")) {
                        problems.push(format!("{name}: anchor {anchor:?} not in {file}"));
                    }
                }
            }
        }
        for link in text
            .split("](")
            .skip(1)
            .filter_map(|s| s.split_once(')'))
            .map(|(l, _)| l)
        {
            let file = link.split('#').next().unwrap_or_default();
            if file.is_empty() || file.contains("://") || file.starts_with("mailto:") {
                continue;
            }
            if !src.join(file).is_file() {
                problems.push(format!("{name}: link to missing page {file}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken book links:\n{}",
        problems.join("\n")
    );
}
