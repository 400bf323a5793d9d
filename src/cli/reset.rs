//! `wharf reset`: remove everything wharf made under the current state root,
//! whatever state an interrupted run left it in, and say what went.
//!
//! Order matters: first the containers still running (their processes hold
//! mounts and cgroups busy), then the mounts (deepest first, so a parent is
//! never busy because of a child), then the cgroups named after this state
//! root, then network devices, the bridges and nftables tables of its
//! networks, and only when no mount is left below it the
//! state directory itself — deleting through a live bind mount would delete
//! the files it points at. Only objects of THIS state root are touched:
//! other roots (tests running in parallel) have other tags and paths.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use nix::mount::MntFlags;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::cli::lesson::Lesson;
use crate::paths;
use crate::probe::cgroup as probe_cgroup;
use crate::probe::host;
use crate::sys;

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Print what would be removed, and remove nothing.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub lesson: Lesson,
}

/// What reset does, one action at a time, so `--dry-run` and the real run
/// share every decision.
struct Reset {
    dry_run: bool,
    done: Vec<String>,
}

impl Reset {
    /// Announce `verb what` (`verb` is `kill`, `unmount` or `remove`);
    /// unless dry-running, do it and note the outcome.
    fn act(&mut self, verb: &str, what: String, f: impl FnOnce() -> anyhow::Result<()>) {
        if self.dry_run {
            self.done.push(format!("would {verb} {what}"));
            return;
        }
        match f() {
            Ok(()) => self
                .done
                .push(format!("{}ed {what}", verb.trim_end_matches('e'))),
            Err(e) => self.done.push(format!("could not {verb} {what}: {e:#}")),
        }
    }
}

pub fn run(args: ResetArgs) -> anyhow::Result<i32> {
    args.lesson.start();
    let root = paths::state_root();
    refuse_dangerous(&root)?;
    let tag = paths::host_tag();
    let mut r = Reset {
        dry_run: args.dry_run,
        done: Vec::new(),
    };
    stop_containers(&mut r, &root)?;
    unmount_all(&mut r, &root)?;
    // `wharf lab check` runs in a state root below ours, tagged by its own
    // path: an interrupted check leaves cgroups under that tag.
    let lab_tag = paths::host_tag_for(&paths::lab_check_root(&root));
    for t in [&tag, &lab_tag] {
        remove_cgroups(&mut r, t)?;
        remove_net_devices(&mut r, t)?;
    }
    for dir in [root.clone(), paths::lab_check_root(&root)] {
        remove_networks(&mut r, &dir)?;
    }
    remove_state_dir(&mut r, &root)?;
    println!("reset {} (host tag {tag}):", root.display());
    if r.done.is_empty() {
        println!("nothing to reset");
    }
    for line in &r.done {
        println!("{line}");
    }
    let failed = r.done.iter().any(|l| l.starts_with("could not"));
    Ok(if failed { 1 } else { 0 })
}

/// A state root is a directory of wharf's own; `/`, `/tmp` or a relative
/// path would make reset unmount and delete what is not ours.
fn refuse_dangerous(root: &Path) -> anyhow::Result<()> {
    let depth = root.components().count();
    if !root.is_absolute() || depth < 3 || root.components().any(|c| c.as_os_str() == "..") {
        anyhow::bail!(
            "refusing to reset state root {:?}: WHARF_ROOT must be an absolute path at least two directories deep, such as /var/lib/wharf",
            root
        );
    }
    Ok(())
}

/// Kill processes whose root is inside this state root: containers of an
/// interrupted run. Their mount namespaces die with them.
fn stop_containers(r: &mut Reset, root: &Path) -> anyhow::Result<()> {
    let Some(home) = host::fs_location(root)? else {
        return Ok(());
    };
    let me = std::process::id() as i32;
    let mut killed = Vec::new();
    for pid in host::pids()?.into_iter().filter(|p| *p != me) {
        let Some(proot) = root_inside(pid, root, &home) else {
            continue;
        };
        r.act(
            "kill",
            format!("container process {pid} (its root is {})", proot.display()),
            || {
                Ok(sys::kill(
                    Pid::from_raw(pid),
                    Signal::SIGKILL,
                    "a container of an interrupted run still holds its mounts",
                )?)
            },
        );
        killed.push(pid);
    }
    if !r.dry_run {
        wait_until(|| {
            killed
                .iter()
                .all(|p| root_inside(*p, root, &home).is_none())
        });
    }
    Ok(())
}

/// The root of `pid` when it lies inside the state root, whose filesystem
/// location is `home` (device, path): pivoted into it, on an overlay of
/// ours, or chrooted into it. `None` for the rest, and for a process that
/// exited while we looked (a zombie has given its root back).
fn root_inside(pid: i32, root: &Path, (dev, rel): &(String, PathBuf)) -> Option<PathBuf> {
    // Without a mount namespace chapters 01 and 02 chroot: the root mount
    // is the host's and may be hidden from the process's mountinfo, but
    // its root directory is ours.
    let dir = host::process_root_dir(pid).ok()?;
    if dir.starts_with(root) {
        return Some(dir);
    }
    let m = host::process_root_mount(pid).ok()??;
    let proot = PathBuf::from(&m.root);
    let pivoted_here = m.device == *dev && proot.starts_with(rel) && proot != Path::new("/");
    let overlay_here = m
        .super_options
        .split([',', '=', ':'])
        .any(|o| Path::new(o).starts_with(root));
    (pivoted_here || overlay_here).then_some(proot)
}

/// Detach every mount at or below the state root, deepest first. A mount
/// stacked on another shows up again on the next pass.
fn unmount_all(r: &mut Reset, root: &Path) -> anyhow::Result<()> {
    for _pass in 0..8 {
        let targets = host::mounts_below(root)?;
        if targets.is_empty() {
            return Ok(());
        }
        for t in targets {
            r.act("unmount", format!("mount {}", t.display()), || {
                let why =
                    "MNT_DETACH: take it out of the tree now, even if a process still uses it";
                Ok(sys::umount2(&t, MntFlags::MNT_DETACH, why)?)
            });
        }
        if r.dry_run {
            return Ok(());
        }
    }
    Ok(())
}

/// Is this cgroup directory one of ours? Named exactly after the tag, or
/// the tag followed by `-`/`.` and a suffix (one per container).
fn is_ours(name: &str, tag: &str) -> bool {
    name == tag
        || name
            .strip_prefix(tag)
            .is_some_and(|rest| rest.starts_with(['-', '.']))
}

/// Where to look for our cgroups below a hierarchy's root: the top level,
/// and a few levels down (systemd puts sessions under slices).
const CGROUP_SEARCH_DEPTH: usize = 3;

fn find_ours(dir: &Path, tag: &str, depth: usize, out: &mut Vec<PathBuf>) {
    for child in probe_cgroup::children(dir).unwrap_or_default() {
        let name = child.file_name().unwrap_or_default().to_string_lossy();
        if is_ours(&name, tag) {
            out.push(child);
        } else if depth > 1 {
            find_ours(&child, tag, depth - 1, out);
        }
    }
}

/// A cgroup and every cgroup below it, children before parents.
fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = probe_cgroup::children(dir)
        .unwrap_or_default()
        .iter()
        .flat_map(|c| subtree(c))
        .collect();
    out.push(dir.to_path_buf());
    out
}

fn remove_cgroups(r: &mut Reset, tag: &str) -> anyhow::Result<()> {
    let mut ours = Vec::new();
    for h in host::cgroup_hierarchies()? {
        find_ours(&h, tag, CGROUP_SEARCH_DEPTH, &mut ours);
    }
    for top in ours {
        let cgroups = subtree(&top);
        kill_members(r, &cgroups);
        for cg in cgroups {
            r.act("remove", format!("cgroup {}", cg.display()), || {
                remove_cgroup(&cg)
            });
        }
    }
    Ok(())
}

/// A cgroup with processes in it cannot be removed: kill them first.
fn kill_members(r: &mut Reset, cgroups: &[PathBuf]) {
    let members = |cgs: &[PathBuf]| -> Vec<i32> {
        cgs.iter()
            .flat_map(|c| host::cgroup_procs(c).unwrap_or_default())
            .collect()
    };
    for pid in members(cgroups) {
        r.act(
            "kill",
            format!("process {pid} (in cgroup of this state root)"),
            || {
                Ok(sys::kill(
                    Pid::from_raw(pid),
                    Signal::SIGKILL,
                    "a cgroup can only be removed once no process is in it",
                )?)
            },
        );
    }
    if !r.dry_run {
        wait_until(|| members(cgroups).is_empty());
    }
}

/// rmdir, retried while the kernel still finishes tearing the last member
/// down (EBUSY).
fn remove_cgroup(cg: &Path) -> anyhow::Result<()> {
    let why = "rmdir in a cgroup filesystem removes the (empty) cgroup";
    let mut last = None;
    for _ in 0..20 {
        match sys::rmdir(cg, why) {
            Ok(()) => return Ok(()),
            Err(e) if e.errno == nix::errno::Errno::EBUSY => {
                last = Some(e);
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(last
        .map(anyhow::Error::from)
        .unwrap_or_else(|| anyhow::anyhow!("still busy")))
}

/// Network devices named with this state root's prefix (veth pairs, bridges).
fn remove_net_devices(r: &mut Reset, tag: &str) -> anyhow::Result<()> {
    let prefix = paths::net_prefix(tag);
    for dev in host::net_devices()?
        .into_iter()
        .filter(|d| d.starts_with(&prefix))
    {
        r.act("remove", format!("network device {dev}"), || {
            sys::link_delete(
                &dev,
                "a network device named after this state root is wharf's: remove it",
            )?;
            Ok(())
        });
    }
    Ok(())
}

/// The bridges this state root's networks recorded, and its nftables
/// tables (named after its tag): what a killed chapter 09 leaves.
fn remove_networks(r: &mut Reset, root: &Path) -> anyhow::Result<()> {
    let (bridges, tables) = crate::net::leftovers(root)?;
    for t in tables {
        r.act("remove", format!("nftables table ip {t}"), || {
            crate::net::nat::remove_table(&t)
        });
    }
    for b in bridges {
        r.act("remove", format!("bridge {b}"), || {
            sys::link_delete(&b, "a bridge of this state root's networks: remove it")?;
            Ok(())
        });
    }
    Ok(())
}

fn remove_state_dir(r: &mut Reset, root: &Path) -> anyhow::Result<()> {
    if !root.exists() {
        return Ok(());
    }
    if !r.dry_run && !host::mounts_below(root)?.is_empty() {
        r.done.push(format!(
            "could not remove {}: mounts remain below it (see above)",
            root.display()
        ));
        return Ok(());
    }
    r.act("remove", format!("state dir {}", root.display()), || {
        std::fs::remove_dir_all(root).with_context(|| format!("deleting {}", root.display()))
    });
    Ok(())
}

/// Poll until `done` holds, for at most two seconds: the kernel finishes a
/// SIGKILL asynchronously.
fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_tag_matches() {
        assert!(is_ours("wharf-0011aabb", "wharf-0011aabb"));
        assert!(is_ours("wharf-0011aabb-c1", "wharf-0011aabb"));
        assert!(!is_ours("wharf-0011aabbc", "wharf-0011aabb"));
        assert!(!is_ours("wharf-99999999", "wharf-0011aabb"));
    }

    #[test]
    fn refuses_roots_that_are_not_ours() {
        for bad in ["/", "/tmp", "relative/dir", "/var/lib/../../etc"] {
            assert!(refuse_dangerous(Path::new(bad)).is_err(), "{bad}");
        }
        assert!(refuse_dangerous(Path::new("/var/lib/wharf")).is_ok());
    }
}
