//! The book's facts, kept true by reading the pages and the transcripts they
//! include. Needs no root: it reads `book/src/*.md` and `tests/snapshots/`.
//!
//! A page names a step of its transcript as `step N (`CALL`)` or
//! `steps N–M (`CALL`)`, or `#N (`CALL`)`, where CALL is how the snapshot's
//! step begins (`mount("proc"`, `mknodat`). For a range, one CALL covers every
//! step of it, or there is one per step, separated by commas. When a
//! transcript gains or loses a step, the numbers move and this test says
//! which page to correct.

mod book_pages;

use book_pages::{page, pages, read, root};
use regex::Regex;
use std::collections::BTreeMap;

/// The prose of a page: fenced blocks removed, every run of white space one
/// space, so that a reference broken over two lines is still one.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push_str(line);
            out.push(' ');
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The part of a page from the heading `heading` to the next heading of the
/// same or a higher level.
fn section(text: &str, heading: &str) -> String {
    let level = heading.chars().take_while(|c| *c == '#').count();
    let mut lines = text.lines().skip_while(|l| l.trim() != heading);
    assert!(lines.next().is_some(), "no heading {heading:?}");
    lines
        .take_while(|l| {
            let hashes = l.chars().take_while(|c| *c == '#').count();
            !(hashes > 0 && hashes <= level && l[hashes..].starts_with(' '))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Sentences of some prose (split after `. `), for claims that must hold
/// within one sentence.
fn sentences(prose: &str) -> Vec<String> {
    prose
        .split(". ")
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The snapshots a page includes, by path relative to the repository.
fn included_snapshots(text: &str) -> Vec<String> {
    let re = Regex::new(r"\{\{#include \.\./\.\./(tests/snapshots/[^:}]+)").unwrap();
    re.captures_iter(text).map(|c| c[1].to_string()).collect()
}

/// The journaled steps of a snapshot: number → the call as printed.
fn steps(snapshot: &str) -> BTreeMap<u32, String> {
    let re = Regex::new(r"^#(\d+) (.*)$").unwrap();
    read(&root().join(snapshot))
        .lines()
        .filter_map(|l| re.captures(l))
        .map(|c| (c[1].parse().unwrap(), c[2].to_string()))
        .collect()
}

fn snapshot_steps(name: &str) -> BTreeMap<u32, String> {
    steps(&format!("tests/snapshots/{name}"))
}

/// A step reference in prose: the numbers, the calls it claims, and the text
/// as written.
struct StepRef {
    first: u32,
    last: u32,
    calls: Vec<String>,
    written: String,
}

fn step_refs(prose: &str) -> Result<Vec<StepRef>, String> {
    let number = Regex::new(r"(?:\b[Ss]teps?\s+|#)(\d+)(?:\s*[–-]\s*(\d+))?").unwrap();
    let calls = Regex::new(r"^\s*,?\s*\(((?:`[^`]+`\s*,?\s*)+)\)").unwrap();
    let tick = Regex::new(r"`([^`]+)`").unwrap();
    let mut out = Vec::new();
    for m in number.captures_iter(prose) {
        let whole = m.get(0).unwrap();
        let first: u32 = m[1].parse().unwrap();
        let last: u32 = m.get(2).map_or(first, |x| x.as_str().parse().unwrap());
        let rest = &prose[whole.end()..];
        let Some(c) = calls.captures(rest) else {
            let shown: String = prose[whole.start()..].chars().take(60).collect();
            return Err(format!(
                "{shown:?}… names a step without the call it makes: write `step N (`CALL`)`"
            ));
        };
        let claimed: Vec<String> = tick
            .captures_iter(&c[1])
            .map(|t| t[1].to_string())
            .collect();
        let written = format!("{}{}", whole.as_str(), c.get(0).unwrap().as_str());
        out.push(StepRef {
            first,
            last,
            calls: claimed,
            written,
        });
    }
    Ok(out)
}

/// What is wrong with the step references of one page, checked against the
/// snapshots it includes; empty when all are right.
fn check_step_refs(name: &str, text: &str) -> Vec<String> {
    let refs = match step_refs(&prose(text)) {
        Ok(r) => r,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    if refs.is_empty() {
        return vec![];
    }
    let with_steps: Vec<String> = included_snapshots(text)
        .into_iter()
        .filter(|s| !steps(s).is_empty())
        .collect();
    let snap = match with_steps.as_slice() {
        [one] => one,
        [] => return vec![format!("{name} names steps but includes no transcript")],
        _ => {
            return vec![format!(
                "{name} includes several transcripts; which one do its steps mean?"
            )]
        }
    };
    let journal = steps(snap);
    let mut errors = Vec::new();
    for r in refs {
        if r.last < r.first {
            errors.push(format!("{name}: {:?}: the range runs backwards", r.written));
            continue;
        }
        let count = (r.last - r.first + 1) as usize;
        if r.calls.len() != 1 && r.calls.len() != count {
            errors.push(format!(
                "{name}: {:?} names {} calls for {count} steps",
                r.written,
                r.calls.len()
            ));
            continue;
        }
        for (i, n) in (r.first..=r.last).enumerate() {
            let claimed = if r.calls.len() == 1 {
                &r.calls[0]
            } else {
                &r.calls[i]
            };
            match journal.get(&n) {
                Some(call) if call.starts_with(claimed.as_str()) => {}
                Some(call) => errors.push(format!(
                    "{name}: {:?} says step {n} is `{claimed}…`, but {snap} has #{n} {call}",
                    r.written
                )),
                None => errors.push(format!(
                    "{name}: {:?} names step {n}, which {snap} does not have",
                    r.written
                )),
            }
        }
    }
    errors
}

#[test]
fn every_included_snapshot_exists() {
    for (name, text) in pages() {
        for snap in included_snapshots(&text) {
            assert!(
                root().join(&snap).is_file(),
                "{name} includes {snap}, which does not exist"
            );
        }
    }
}

#[test]
fn every_step_a_page_names_is_that_step_of_its_transcript() {
    let errors: Vec<String> = pages()
        .iter()
        .flat_map(|(name, text)| check_step_refs(name, text))
        .collect();
    assert!(
        errors.is_empty(),
        "step references out of date:\n{}",
        errors.join("\n")
    );
}

#[test]
fn the_step_checker_catches_a_wrong_step() {
    let page =
        "```text\n{{#include ../../tests/snapshots/ch02_namespaces__ch02_explain.snap:5:}}\n```\n";
    let right = format!("Proc is step 5 (`mount(\"proc\"`).\n{page}");
    assert!(check_step_refs("right", &right).is_empty());
    let moved = format!("Proc is step 6 (`mount(\"proc\"`).\n{page}");
    assert_eq!(check_step_refs("moved", &moved).len(), 1);
    let range = format!("Steps 9–10 (`umount2`, `chdir(\"/\"`) end it.\n{page}");
    assert!(check_step_refs("range", &range).is_empty());
    let bare = format!("Proc is step 5, as said.\n{page}");
    assert_eq!(check_step_refs("bare", &bare).len(), 1);
    let past = format!("See #99 (`execve`).\n{page}");
    assert_eq!(check_step_refs("past", &past).len(), 1);
    let nowhere = "Proc is step 5 (`mount`).\n";
    assert_eq!(check_step_refs("nowhere", nowhere).len(), 1);
}

#[test]
fn chapter_02_mounts_proc_before_it_swaps_the_root() {
    let text = page("02-namespaces.md");
    let journal = snapshot_steps("ch02_namespaces__ch02_explain.snap");
    let step_of = |prefix: &str| {
        journal
            .iter()
            .find(|(_, call)| call.starts_with(prefix))
            .map(|(n, _)| *n)
            .unwrap_or_else(|| panic!("no {prefix} step in chapter 02's transcript"))
    };
    let proc_step = step_of("mount(\"proc\"");
    assert!(
        proc_step < step_of("pivot_root("),
        "the transcript no longer mounts proc first"
    );
    let refs = step_refs(&prose(&text)).unwrap();
    assert!(
        refs.iter()
            .any(|r| r.first == proc_step && r.calls.iter().any(|c| c.contains("proc"))),
        "02-namespaces.md should name the proc mount by its step"
    );
    assert!(!prose(&text).contains("Finally a fresh `proc`"));
}

#[test]
fn runtime_diagram_puts_cri_between_the_kubelet_and_the_engine() {
    let text = page("runtime.md");
    let block = text
        .split("```text")
        .nth(1)
        .expect("runtime.md has a diagram");
    let block = block.split("```").next().unwrap();
    // Each edge: CALLER ── WHAT IT SPEAKS ──► CALLEE
    let edge = Regex::new(r"^\s*(\S.*?)\s+──\s*(.*?)\s*─*►\s*(.*)$").unwrap();
    let edges: Vec<(String, String, String)> = block
        .lines()
        .filter_map(|l| edge.captures(l))
        .map(|c| (c[1].to_string(), c[2].to_string(), c[3].to_string()))
        .collect();
    assert!(
        edges.len() >= 5,
        "the diagram's edges are not in the form A ── what ──► B"
    );
    let cri: Vec<_> = edges
        .iter()
        .filter(|(_, what, _)| what.contains("CRI"))
        .collect();
    assert_eq!(cri.len(), 1, "CRI is exactly one edge: {edges:?}");
    let (from, _, to) = cri[0];
    assert_eq!(from, "kubelet", "CRI is spoken by the kubelet");
    assert!(
        to.contains("containerd") && to.contains("CRI-O"),
        "CRI reaches containerd/CRI-O"
    );
    let into_runc: Vec<_> = edges
        .iter()
        .filter(|(_, _, to)| to.starts_with("runc"))
        .collect();
    assert_eq!(into_runc.len(), 1);
    assert_eq!(into_runc[0].0, "shim", "runc is started by the shim");
    assert!(
        into_runc[0].1.contains("OCI"),
        "the shim hands runc an OCI bundle"
    );
    assert!(
        edges
            .iter()
            .any(|(f, _, t)| f == "containerd" && t.contains("shim")),
        "containerd reaches runc through its shim"
    );
    assert!(
        !edges
            .iter()
            .any(|(f, w, _)| f.contains("docker") && w.contains("CRI")),
        "Docker does not speak CRI"
    );
}

#[test]
fn runc_gets_a_ready_rootfs_from_the_snapshotter() {
    let text = page("runtime.md");
    let all = prose(&text);
    let exactly = Regex::new(r"exactly[^.]*0?1\s*[–-]\s*0?7").unwrap();
    assert!(!exactly.is_match(&all), "runc does not do every chapter");
    let runc = prose(&section(&text, "## runc"));
    for needed in ["snapshotter", "chapter 05", "bundle", "init layer"] {
        assert!(
            runc.contains(needed),
            "the runc section should say {needed:?}"
        );
    }
}

#[test]
fn docker_init_layer_holds_placeholders_and_the_real_files_are_bind_mounted() {
    let text = page("07-volumes.md");
    let init = prose(&section(&text, "### The init layer"));
    for needed in [
        "placeholders",
        "empty files",
        "bind-mounted over the placeholders",
        "/var/lib/docker/containers/",
    ] {
        assert!(
            init.contains(needed),
            "the init layer section should say {needed:?}"
        );
    }
    // What the page says of wharf's own init layer is what the transcript does.
    let journal = snapshot_steps("ch07_volumes__ch07_explain.snap");
    assert!(
        journal
            .values()
            .any(|c| c.starts_with("mount(\"overlay\"") && c.contains("/init:")),
        "chapter 07's overlay should have its init layer as the top lower dir"
    );
}

#[test]
fn cgroup_v2_differs_in_more_than_file_names() {
    let text = page("04-cgroups.md");
    let all = prose(&text);
    assert!(
        !all.contains("differs only"),
        "04-cgroups.md: v2 is not v1 renamed"
    );
    for named in [
        "cgroup.subtree_control",
        "memory.swap.max",
        "memory.memsw.limit_in_bytes",
    ] {
        assert!(
            all.contains(&format!("`{named}`")),
            "04-cgroups.md should name {named}"
        );
    }
    let hybrid = snapshot_steps("ch04_cgroups__ch04_explain_hybrid.snap");
    let v2 = snapshot_steps("ch04_cgroups__ch04_explain_v2.snap");
    let writes = |j: &BTreeMap<u32, String>, file: &str| {
        j.values()
            .filter(|c| c.starts_with("write(") && c.contains(&format!("/{file}\"")))
            .count()
    };
    assert_eq!(
        writes(&v2, "cgroup.subtree_control"),
        1,
        "v2 enables controllers for its subtree"
    );
    assert_eq!(writes(&hybrid, "cgroup.subtree_control"), 0);
    assert_eq!(writes(&v2, "memory.swap.max"), 1);
    assert_eq!(writes(&hybrid, "memory.memsw.limit_in_bytes"), 1);
    assert_eq!(
        writes(&v2, "cgroup.procs"),
        1,
        "one hierarchy: one cgroup.procs on v2"
    );
    // "four trees below: `cpu`, `cpuacct`, `memory`, `pids`"
    let trees = Regex::new(r#"^write\("/sys/fs/cgroup/([a-z_,]+)/.*/cgroup\.procs""#).unwrap();
    let mut controllers: Vec<String> = hybrid
        .values()
        .filter_map(|c| trees.captures(c).map(|m| m[1].to_string()))
        .collect();
    controllers.sort();
    assert_eq!(controllers, ["cpu", "cpuacct", "memory", "pids"]);
    assert!(all.contains("four trees below: `cpu`, `cpuacct`, `memory`, `pids`"));
    assert!(
        hybrid.len() > v2.len(),
        "the v2 transcript is the shorter one"
    );
}

#[test]
fn overlay_stacks_several_lowerdirs_since_linux_4_0() {
    let text = page("05-union.md");
    let said = sentences(&prose(&text));
    let several = |s: &str| {
        ["any number", "several", "colon-separated", "stacking"]
            .iter()
            .any(|w| s.contains(w))
    };
    for s in said.iter().filter(|s| s.contains("3.18")) {
        assert!(
            !several(s) || s.contains("4.0"),
            "3.18 had one lowerdir: {s:?}"
        );
    }
    assert!(
        said.iter()
            .any(|s| several(s) && s.contains("Linux 4.0") && s.contains("lowerdir")),
        "05-union.md should date several lowerdirs to Linux 4.0"
    );
    // The chapter's own transcript stacks more than one.
    let journal = snapshot_steps("ch05_union__ch05_explain.snap");
    assert!(journal.values().any(|c| c.starts_with("mount(\"overlay\"")
        && c.split("lowerdir=").nth(1).is_some_and(|l| l
            .split(',')
            .next()
            .unwrap()
            .contains(':'))));
}

#[test]
fn workdir_adds_a_layer() {
    let text = page("docker.md");
    let row = text
        .lines()
        .find(|l| l.starts_with("| `WORKDIR"))
        .expect("docker.md has a WORKDIR row");
    let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
    let layer = cells.last().unwrap();
    assert!(
        layer.starts_with("yes"),
        "WORKDIR makes a layer entry, not only config: {row}"
    );
    assert!(
        layer.contains("empty"),
        "say that it is empty when the directory exists: {row}"
    );
}

/// Commands that the runtime chapter (issue 12: the lifecycle) and the build
/// chapter (issue 14: build and distribution) are adding while the course is
/// written. docker-commands.md may name them before they exist, marked
/// `*(coming in the runtime chapter)*` or `*(coming in the build chapter)*`.
/// When one lands, the test below fails until its mark goes from the page
/// and its name from this list.
const COMING: &[&str] = &["attach"];

/// One `wharf …` span of a page: the words before the first argument (a
/// flag, an upper-case placeholder, a path), and whether the page marks it
/// as coming.
#[derive(Debug, PartialEq)]
struct Named {
    words: Vec<String>,
    coming: bool,
}

fn wharf_commands(text: &str) -> Vec<Named> {
    let span = Regex::new(r"`wharf( [^`]*)?`(\s*\*\(coming in the (?:runtime|build) chapter\)\*)?")
        .unwrap();
    span.captures_iter(text)
        .map(|c| {
            let rest = c.get(1).map_or("", |m| m.as_str());
            let mut words: Vec<String> = rest
                .split_whitespace()
                .take_while(|w| w.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-'))
                .take_while(|w| !w.starts_with('-'))
                .map(str::to_string)
                .collect();
            if words.is_empty() {
                // `wharf --version`: the flag itself is the command.
                words = rest
                    .split_whitespace()
                    .take(1)
                    .map(str::to_string)
                    .collect();
            }
            Named {
                words,
                coming: c.get(2).is_some(),
            }
        })
        .collect()
}

/// Does `wharf WORDS --help` (or `wharf --FLAG`) succeed?
fn wharf_has(words: &[String]) -> Result<(), String> {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"));
    cmd.args(words);
    if !words.iter().any(|w| w.starts_with('-')) {
        cmd.arg("--help");
    }
    let out = cmd.output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// What is wrong with the commands a page names, given which exist.
fn command_problems(
    named: &[Named],
    exists: impl Fn(&[String]) -> Result<(), String>,
) -> Vec<String> {
    let mut errors = Vec::new();
    let mut seen: Vec<&Named> = Vec::new();
    for n in named {
        if seen.contains(&n) {
            continue;
        }
        seen.push(n);
        let shown = format!("`wharf {}`", n.words.join(" "));
        let first = n.words.first().map_or("", String::as_str);
        match (exists(&n.words), n.coming) {
            (Ok(()), false) => {}
            (Ok(()), true) => errors.push(format!(
                "{shown} exists now: drop its *(coming …)* mark from the page and {first:?} from COMING"
            )),
            (Err(_), true) if COMING.contains(&first) => {}
            (Err(_), true) => errors.push(format!(
                "{shown} is marked as coming, but {first:?} is not in COMING (tests/book_facts.rs)"
            )),
            (Err(e), false) => errors.push(format!("{shown} fails: {}", e.trim())),
        }
    }
    errors
}

#[test]
fn every_wharf_command_the_docker_page_names_exists_or_is_marked_coming() {
    let named = wharf_commands(&page("docker-commands.md"));
    assert!(
        named.iter().filter(|n| !n.coming).count() >= 8,
        "expected the page to name wharf's commands: {named:?}"
    );
    let errors = command_problems(&named, wharf_has);
    assert!(
        errors.is_empty(),
        "docker-commands.md:\n{}",
        errors.join("\n")
    );
}

#[test]
fn the_command_check_catches_a_missing_or_a_stale_mark() {
    let names = |text: &str| wharf_commands(text);
    let exists = |w: &[String]| {
        if w[0] == "images" {
            Ok(())
        } else {
            Err("unrecognized subcommand".to_string())
        }
    };
    let ok = names("`wharf images -a` and `wharf attach C` *(coming in the runtime chapter)*");
    assert_eq!(ok.len(), 2);
    assert!(command_problems(&ok, exists).is_empty());
    let unmarked = names("`wharf attach C`");
    assert_eq!(command_problems(&unmarked, exists).len(), 1);
    let stale = names("`wharf images` *(coming in the build chapter)*");
    assert_eq!(command_problems(&stale, exists).len(), 1);
    let unlisted = names("`wharf frobnicate` *(coming in the build chapter)*");
    assert_eq!(command_problems(&unlisted, exists).len(), 1);
}

#[test]
fn the_docker_page_covers_every_command_of_the_seed_notes() {
    let text = page("docker-commands.md");
    let named = Regex::new(r"`docker ([a-z]+)").unwrap();
    let covered: std::collections::BTreeSet<String> = named
        .captures_iter(&text)
        .map(|c| c[1].to_string())
        .collect();
    let listed = "search pull images rmi run ps start restart stop kill rm top attach exec cp \
                  logs inspect history commit diff export import save load build push login \
                  logout version info";
    let missing: Vec<&str> = listed
        .split(' ')
        .filter(|c| !c.is_empty() && !covered.contains(*c))
        .collect();
    assert!(missing.is_empty(), "docker-commands.md lacks: {missing:?}");
    for flag in [
        "-it",
        "-d",
        "-v",
        "-p",
        "-P",
        "--name",
        "--cpu-period",
        "-f",
        "-t",
        "--tail",
    ] {
        assert!(
            text.contains(&format!("`{flag}")) || text.contains(&format!(" {flag}")),
            "flag {flag}"
        );
    }
    assert!(text.contains("ctrl-p ctrl-q"), "attach's detach keys");
}

#[test]
fn the_book_strips_the_lab_markers_from_the_code_it_shows() {
    let toml = read(&root().join("book/book.toml"));
    assert!(
        toml.contains("[preprocessor.strip-lab-markers]"),
        "book.toml runs the stripper"
    );
    assert!(
        toml.contains("after = [\"links\"]"),
        "…after the includes are resolved"
    );
    // Every chapter's code, as a page would hold it once included.
    let mut code = String::new();
    for dir in std::fs::read_dir(root().join("chapters")).unwrap() {
        let main = dir.unwrap().path().join("src/main.rs");
        if main.is_file() {
            code.push_str(&read(&main));
        }
    }
    let before = code.matches("lab:solution-").count();
    assert!(
        before > 0,
        "the chapters carry lab markers, so the stripper has work"
    );
    let chapter = |name: &str, content: &str, sub: Vec<serde_json::Value>| {
        serde_json::json!({"Chapter": {"name": name, "content": content, "number": null,
            "sub_items": sub, "path": format!("{name}.md"), "source_path": format!("{name}.md"),
            "parent_names": []}})
    };
    let nested = chapter("sub", "x\n    // lab:solution-end\n", vec![]);
    let items = vec![
        chapter("code", &code, vec![nested]),
        serde_json::json!("Separator"),
    ];
    let input = serde_json::json!([{"root": "."}, {"items": items}]).to_string();
    let mut child = std::process::Command::new("python3")
        .arg(root().join("book/preprocessors/strip-lab-markers.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs the book's preprocessor");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let book = String::from_utf8(out.stdout).unwrap();
    assert!(
        !book.contains("lab:solution-"),
        "a lab marker survived the stripper"
    );
    assert!(book.contains("fn main"), "the code itself is kept");
    // And the built book, when there is one, shows none.
    let built = root().join("book/build/print.html");
    if built.is_file() {
        // Only the code blocks: labs.md explains the markers in its prose.
        let html = read(&built);
        let mut blocks = html
            .split("<pre>")
            .skip(1)
            .map(|b| b.split("</pre>").next().unwrap());
        assert!(
            !blocks.any(|b| b.contains("lab:solution-")),
            "the built book's code shows lab markers"
        );
    }
}

#[test]
fn the_dockerfile_table_has_maintainer_and_onbuild() {
    let text = page("docker.md");
    let row = |instr: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("| `{instr}")))
            .unwrap_or_else(|| panic!("docker.md has no {instr} row"))
            .to_string()
    };
    let maintainer = row("MAINTAINER");
    assert!(
        maintainer.contains("deprecated") && maintainer.contains("LABEL"),
        "{maintainer}"
    );
    assert!(
        row("ONBUILD").contains("FROM"),
        "ONBUILD runs in a build FROM this image"
    );
    assert!(row("LABEL").contains("config"));
}

#[test]
fn chapter_06_names_the_lessons_own_calls_as_the_transcript_has_them() {
    let text = prose(&page("06-whiteouts.md"));
    for said in [
        "(`unshare`, `mount`, `mount`, `umount2`)",
        "six `mknodat` calls into `.applied…/dev`",
        "(`full`, `null`, `random`, `tty`, `urandom`, `zero`)",
        "Only the last two calls, the apply onto `restored-upper/`",
    ] {
        assert!(
            text.contains(said),
            "06-whiteouts.md no longer says {said:?}"
        );
    }
    let journal: Vec<String> = snapshot_steps("ch06_whiteouts__ch06_explain.snap")
        .into_values()
        .collect();
    let calls: Vec<&str> = journal
        .iter()
        .map(|c| c.split('(').next().unwrap())
        .collect();
    let wait = calls
        .iter()
        .position(|c| *c == "wait4")
        .expect("the container is waited for");
    let after: Vec<&str> = calls[wait + 1..]
        .iter()
        .copied()
        .filter(|c| *c != "rmdir")
        .collect();
    assert_eq!(
        &after[..4],
        ["unshare", "mount", "mount", "umount2"],
        "the merged view is read again"
    );
    let dev: Vec<&String> = journal
        .iter()
        .filter(|c| c.starts_with("mknodat(") && c.contains(".applied") && c.contains("/dev>"))
        .collect();
    let names: Vec<&str> = dev.iter().map(|c| c.split('"').nth(1).unwrap()).collect();
    assert_eq!(names, ["full", "null", "random", "tty", "urandom", "zero"]);
    assert!(
        dev.iter().all(|c| !c.contains("makedev(0x0, 0x0)")),
        "no whiteout in applied/"
    );
    let last_two = &journal[journal.len() - 2..];
    assert!(last_two[0].starts_with("fsetxattr(") && last_two[0].contains(".restored-upper"));
    assert!(last_two[0].contains("/etc/config>") && last_two[0].contains("trusted.overlay.opaque"));
    assert!(last_two[1].starts_with("mknodat(") && last_two[1].contains(".restored-upper"));
    assert!(last_two[1].contains("\"motd\"") && last_two[1].contains("makedev(0x0, 0x0)"));
}

#[test]
fn wharf_oci_sits_where_runc_does_and_the_test_that_says_so_exists() {
    let text = prose(&section(&page("runtime.md"), "## Where wharf sits"));
    for needed in [
        "wharf-oci",
        "containerd-shim-runc-v2",
        "CRI",
        "--runc-binary",
    ] {
        assert!(
            text.contains(needed),
            "runtime.md's wharf section should say {needed:?}"
        );
    }
    // The page cites the interop test by name and flag; both must be true.
    let test = read(&root().join("tests/oci_containerd.rs"));
    assert!(text.contains("tests/oci_containerd.rs") && test.contains("--runc-binary"));
}
