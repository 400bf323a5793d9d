//! `wharf commit`: a container's changes become an image. Judged from the
//! store and from a container of the new image: the new layer is the
//! upper dir (the added file, and the whiteout hiding the deleted one),
//! history says what made it, and `-c` changed the config.

mod common;
mod lifecycle_common;

use lifecycle_common::{stderr, Life};

#[test]
fn commit_then_run_sees_the_change_and_history_says_so() {
    let l = Life::new();
    let script = "echo hi > /new; rm /etc/group; echo done";
    l.ok(&["run", "--name", "changer", "box", "sh", "-c", script]);
    let id = l.ok(&[
        "commit",
        "-m",
        "two changes",
        "-c",
        "CMD [\"cat\", \"/new\"]",
        "changer",
        "box:2",
    ]);
    assert!(
        id.trim().starts_with("sha256:") && id.trim().len() == 71,
        "{id}"
    );

    // A container of the new image: its default command (from -c) reads
    // the added file, and the deleted one stays deleted.
    assert_eq!(l.ok(&["run", "--rm", "box:2"]), "hi");
    let gone = l.wharf(&["run", "--rm", "box:2", "ls", "/etc/group"]);
    assert_ne!(gone.status.code(), Some(0), "{}", stderr(&gone));

    // One more layer than the base, and a history line with the message.
    let layers = |image: &str| {
        let json = l.ok(&["image", "inspect", image]);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let v = if v.is_array() { v[0].clone() } else { v };
        v["RootFS"]["Layers"].as_array().unwrap().len()
    };
    assert_eq!(layers("box:2"), layers("box") + 1);
    let history = l.ok(&["history", "--no-trunc", "box:2"]);
    let top = history.lines().nth(1).unwrap_or_default();
    assert!(
        top.contains("sh -c") && top.contains("two changes"),
        "{history}"
    );
}

#[test]
fn commit_of_an_unknown_container_changes_nothing() {
    let l = Life::new();
    let before = l.ok(&["images", "-q"]);
    let out = l.wharf(&["commit", "nosuch", "box:3"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("nosuch"), "{}", stderr(&out));
    assert_eq!(l.ok(&["images", "-q"]), before);
}
