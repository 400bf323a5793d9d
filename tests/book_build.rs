//! The book as a whole: it builds with mdBook, every internal link and
//! `#anchor` of the built HTML resolves, its code shows no lab markers, every `{{#include}}` finds its file
//! and anchor, every figure is a well-formed SVG that some page shows, the
//! chapter pages end with review questions, and the commands the pages show
//! run from PATH as the first page sets it up. Needs no root; needs mdbook
//! (`tests/setup.sh` installs it).

mod book_pages;

use book_pages::{page, pages, read, root};
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The figures issue 13 asks for; each must exist, whatever else is added.
const FIGURES: &[&str] = &[
    "container-vs-vm.svg",
    "client-engine-registry.svg",
    "container-rootfs.svg",
    "pid-namespace.svg",
    "cgroup-trees.svg",
    "network-path.svg",
];

fn mdbook() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("mdbook"))
            .find(|p| p.is_file())
    });
    let in_cargo = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|c| c.join("bin/mdbook"))
        .filter(|p| p.is_file());
    on_path.or(in_cargo).unwrap_or_else(|| {
        panic!("mdbook is not installed: `cargo install --locked mdbook@0.5.4` (tests/setup.sh does it)")
    })
}

/// Build the book into `out`; mdBook's complaints are failures too.
fn build(out: &Path) {
    let run = std::process::Command::new(mdbook())
        .args(["build", "--dest-dir"])
        .arg(out)
        .arg(root().join("book"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "mdbook build failed:\n{log}");
    let complaints: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    assert!(
        complaints.is_empty(),
        "mdbook warned:\n{}",
        complaints.join("\n")
    );
}

/// Every HTML file under `dir`, by its path relative to `dir`.
fn html_files(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "html") {
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), read(&p));
            }
        }
    }
    out
}

fn ids(html: &str) -> BTreeSet<String> {
    let id = Regex::new(r#"\sid="([^"]+)""#).unwrap();
    id.captures_iter(html).map(|c| c[1].to_string()).collect()
}

/// The links of a built book that lead nowhere: a relative `href` or `src`
/// whose file is missing, or whose `#fragment` is no id of that file.
fn broken_links(dir: &Path) -> Vec<String> {
    let files = html_files(dir);
    let ids: BTreeMap<&PathBuf, BTreeSet<String>> =
        files.iter().map(|(p, html)| (p, ids(html))).collect();
    let link = Regex::new(r#"\s(?:href|src)="([^"]*)""#).unwrap();
    let external = Regex::new(r"^[a-z][a-z0-9+.-]*:").unwrap();
    let mut broken = Vec::new();
    for (file, html) in &files {
        // print.html holds every page; its links are the pages' own.
        if file.as_os_str() == "print.html" {
            continue;
        }
        for c in link.captures_iter(html) {
            let target = c[1].replace("&amp;", "&");
            if target.is_empty() || external.is_match(&target) {
                continue;
            }
            let (path, fragment) = match target.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (target.as_str(), None),
            };
            let path = path.split('?').next().unwrap();
            let resolved = if path.is_empty() {
                file.clone()
            } else {
                normalize(&file.parent().unwrap().join(path))
            };
            if !dir.join(&resolved).exists() {
                broken.push(format!("{}: {target}: no such file", file.display()));
                continue;
            }
            if let Some(f) = fragment.filter(|f| !f.is_empty()) {
                if !ids.get(&resolved).is_some_and(|set| set.contains(f)) {
                    broken.push(format!("{}: {target}: no id {f:?} there", file.display()));
                }
            }
        }
    }
    broken
}

/// `a/./b/../c` → `a/c`, without touching the disk.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in p.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[test]
fn the_book_builds_and_every_internal_link_resolves() {
    let out = tempfile::tempdir().unwrap();
    build(out.path());
    let broken = broken_links(out.path());
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    // The code the pages show carries none of the labs' markers.
    let print = read(&out.path().join("print.html"));
    let code = print
        .split("<pre>")
        .skip(1)
        .map(|b| b.split("</pre>").next().unwrap());
    assert!(
        code.filter(|b| b.contains("lab:solution-")).count() == 0,
        "the built book's code shows lab markers"
    );
    // The figures reach the built book beside the pages that show them.
    for f in FIGURES {
        assert!(
            out.path().join("figures").join(f).is_file(),
            "{f} not copied"
        );
    }
}

#[test]
fn the_link_checker_finds_a_missing_page_and_a_missing_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let page = |name: &str, body: &str| {
        std::fs::write(
            dir.path().join(name),
            format!("<html><body>{body}</body></html>"),
        )
        .unwrap()
    };
    page(
        "a.html",
        r##"<h2 id="here">x</h2><a href="b.html#there">b</a><a href="#here">a</a>"##,
    );
    page(
        "b.html",
        r#"<h2 id="there">y</h2><a href="https://example.org/">out</a>"#,
    );
    assert!(broken_links(dir.path()).is_empty());
    page(
        "c.html",
        r##"<a href="b.html#gone">1</a><a href="d.html">2</a><img src="figures/x.svg">"##,
    );
    assert_eq!(broken_links(dir.path()).len(), 3);
}

/// The includes of a page: (path relative to book/src, anchor or lines).
fn includes(text: &str) -> Vec<(String, Option<String>)> {
    let re = Regex::new(r"\{\{#include ([^:}]+)(?::([^}]*))?\}\}").unwrap();
    re.captures_iter(text)
        .map(|c| {
            (
                c[1].trim().to_string(),
                c.get(2).map(|m| m.as_str().to_string()),
            )
        })
        .collect()
}

#[test]
fn every_include_finds_its_file_and_anchor() {
    let src = root().join("book/src");
    let mut errors = Vec::new();
    let mut count = 0;
    for (name, text) in pages() {
        for (path, part) in includes(&text) {
            count += 1;
            let file = src.join(&path);
            if !file.is_file() {
                errors.push(format!("{name}: {path} does not exist"));
                continue;
            }
            // A part that is not a line range (`5:`, `3:9`) names an anchor.
            let Some(anchor) = part.filter(|p| !p.chars().all(|c| c.is_ascii_digit() || c == ':'))
            else {
                continue;
            };
            let code = read(&file);
            for mark in [format!("ANCHOR: {anchor}"), format!("ANCHOR_END: {anchor}")] {
                if !code.contains(&mark) {
                    errors.push(format!("{name}: {path} has no `{mark}`"));
                }
            }
        }
    }
    assert!(
        count > 20,
        "expected the pages to include code and transcripts"
    );
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// What is wrong with an SVG file, if anything: it must parse as XML, its
/// root must be `<svg>` in the SVG namespace with a viewBox, and it must
/// carry a `<title>` (what a screen reader says of it).
fn svg_problem(text: &str) -> Option<String> {
    let doc = match roxmltree::Document::parse(text) {
        Ok(d) => d,
        Err(e) => return Some(format!("not well-formed XML: {e}")),
    };
    let svg = doc.root_element();
    if svg.tag_name().name() != "svg"
        || svg.tag_name().namespace() != Some("http://www.w3.org/2000/svg")
    {
        return Some("the root element is not <svg> in the SVG namespace".into());
    }
    if svg.attribute("viewBox").is_none() {
        return Some("no viewBox: it would not scale with the page".into());
    }
    let titled = svg
        .children()
        .any(|c| c.tag_name().name() == "title" && c.text().is_some_and(|t| !t.trim().is_empty()));
    (!titled).then(|| "no <title> as its first-level child".into())
}

fn figure_refs() -> BTreeMap<String, Vec<String>> {
    let re = Regex::new(r#"(?:\]\(|src=")figures/([^)"\s]+)"#).unwrap();
    let mut refs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, text) in pages() {
        for c in re.captures_iter(&text) {
            refs.entry(c[1].to_string()).or_default().push(name.clone());
        }
    }
    refs
}

#[test]
fn every_figure_is_valid_svg_and_shown_by_a_page() {
    let dir = root().join("book/src/figures");
    let refs = figure_refs();
    let mut on_disk = BTreeSet::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.ends_with(".svg"), "{name}: the figures are SVG");
        if let Some(problem) = svg_problem(&read(&p)) {
            panic!("figures/{name}: {problem}");
        }
        assert!(
            refs.contains_key(&name),
            "figures/{name} is shown by no page"
        );
        on_disk.insert(name);
    }
    for f in FIGURES {
        assert!(on_disk.contains(*f), "figures/{f} is missing");
    }
    for (f, by) in &refs {
        assert!(
            on_disk.contains(f),
            "{by:?} show figures/{f}, which does not exist"
        );
    }
}

#[test]
fn the_svg_check_refuses_broken_figures() {
    let good =
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><title>t</title></svg>"#;
    assert_eq!(svg_problem(good), None);
    for bad in [
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><title>t</title>"#,
        r#"<svg viewBox="0 0 1 1"><title>t</title></svg>"#,
        r#"<svg xmlns="http://www.w3.org/2000/svg"><title>t</title></svg>"#,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><text>a & b</text></svg>"#,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"></svg>"#,
    ] {
        assert!(svg_problem(bad).is_some(), "{bad}");
    }
}

/// The level-2 headings of a page, in order.
fn h2s(text: &str) -> Vec<String> {
    let mut fenced = false;
    text.lines()
        .filter(|l| {
            if l.starts_with("```") {
                fenced = !fenced;
            }
            !fenced && l.starts_with("## ")
        })
        .map(|l| l[3..].trim().to_string())
        .collect()
}

#[test]
fn every_chapter_page_ends_with_a_break_it_and_review_questions_with_folded_answers() {
    let chapters: Vec<(String, String)> = pages()
        .into_iter()
        .filter(|(name, _)| name.as_bytes()[0].is_ascii_digit())
        .collect();
    assert_eq!(chapters.len(), 9, "chapters 01-09");
    let numbered = Regex::new(r"(?m)^\d+\. ").unwrap();
    for (name, text) in chapters {
        assert!(
            text.lines()
                .any(|l| l.trim_start_matches('#').trim() == "Break it"),
            "{name} has no Break it exercise"
        );
        assert_eq!(
            h2s(&text).last().map(String::as_str),
            Some("Review questions"),
            "{name} should end with its review questions"
        );
        let review = &text[text.rfind("## Review questions").unwrap()..];
        let questions = numbered.find_iter(review).count();
        let opened = review.matches("<details>").count();
        let closed = review.matches("</details>").count();
        let summaries = review.matches("<summary>Answer</summary>").count();
        assert!(questions >= 3, "{name}: at least three review questions");
        assert!(
            opened == questions && closed == questions && summaries == questions,
            "{name}: each of the {questions} questions has one folded answer \
             (<details>, <summary>Answer</summary>, </details>)"
        );
    }
}

#[test]
fn the_commands_the_pages_show_run_from_path_as_the_first_page_sets_it_up() {
    let intro = page("introduction.md");
    for line in [
        "$ cargo build --workspace",
        "$ export PATH=$PWD/target/debug:$PATH",
        "$ alias sudo='sudo env PATH=$PATH'",
    ] {
        assert!(intro.contains(line), "introduction.md should show {line:?}");
    }
    // No page runs a binary by its build path or through cargo: with the
    // first page's PATH, `sudo wharf …` and `sudo chNN-… ` work as written.
    let by_path = Regex::new(r"(?:^|[\s$`(])(?:\./)?target/(?:debug|release)/[a-z]").unwrap();
    let cargo_run = Regex::new(r"cargo run\b").unwrap();
    let mut errors = Vec::new();
    for (name, text) in pages() {
        for (i, line) in text.lines().enumerate() {
            if by_path.is_match(line) && !line.contains("--runc-binary") {
                errors.push(format!("{name}:{}: {line}", i + 1));
            }
            if cargo_run.is_match(line) {
                errors.push(format!("{name}:{}: {line}", i + 1));
            }
        }
    }
    assert!(
        errors.is_empty(),
        "run the binaries from PATH, as introduction.md sets it up:\n{}",
        errors.join("\n")
    );
}
