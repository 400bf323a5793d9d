//! `wharf tour`: the guided tour. It runs the chapter binaries one after
//! another on the built-in rootfs, with `--explain` and `--show`, and says
//! between them what to look for.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::Context;
use clap::Args;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use owo_colors::{OwoColorize, Stream};

use crate::rootfs;

#[derive(Debug, Args)]
pub struct TourArgs {
    /// Only this stop of the tour (1-4).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=4))]
    pub stop: Option<u8>,

    /// Wait for Enter before each stop.
    #[arg(long)]
    pub pause: bool,
}

/// The tour needs root (namespaces, mounts, cgroups): as a user, run it
/// again through sudo, as the README's command promises. Returns only if
/// that cannot be done.
fn again_with_sudo(exe: &std::path::Path) -> anyhow::Error {
    let Some(sudo) = crate::cli::doctor::find_on_path("sudo") else {
        return anyhow::anyhow!("wharf tour needs root to create namespaces, mounts and cgroups, and there is no sudo: run it as root");
    };
    let mut argv = vec![
        "sudo".to_string(),
        "--preserve-env=WHARF_ROOT,NO_COLOR".to_string(),
        exe.display().to_string(),
    ];
    argv.extend(std::env::args().skip(1));
    let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    let why = "the tour needs root: run it again through sudo";
    crate::sys::execve(&sudo, &argv, &env, why).into()
}

/// One stop: a title, what to look for, and the chapter runs that show it.
struct Stop {
    title: &'static str,
    text: &'static str,
    runs: fn(&Tour) -> anyhow::Result<()>,
}

const STOPS: [Stop; 4] = [
    Stop {
        title: "01 chroot: a different / for one process",
        text: "chroot moves where one process resolves '/'. Nothing else changes: same\n\
               namespaces, same mounts. Then the classic escape: a root process chroots\n\
               deeper, climbs '..' from outside its new root, and lands on the host's /.",
        runs: |t| {
            t.chapter("ch01-chroot", &["--explain", "--", "/bin/ls", "/"])?;
            t.chapter("ch01-chroot", &["--escape-demo"])
        },
    },
    Stop {
        title: "02 namespaces: clone, private mounts, pivot_root, /proc",
        text: "clone() puts the child in new namespaces; the tables show which inodes\n\
               are new. Mounts are made private, pivot_root swaps the root mount, and a\n\
               fresh /proc makes the command PID 1. The same escape now fails.",
        runs: |t| {
            t.chapter(
                "ch02-namespaces",
                &[
                    "--explain",
                    "--show",
                    "ns",
                    "--show-diff",
                    "--hostname",
                    "tour",
                    "--",
                    "/bin/sh",
                    "-c",
                    "hostname; echo my pid is $$",
                ],
            )?;
            t.chapter("ch02-namespaces", &["--escape-demo"])
        },
    },
    Stop {
        title: "03 setns: entering a running container (docker exec)",
        text: "A container runs `sleep`; setns() joins its namespaces one by one (mnt\n\
               last), a fork puts us in its pid namespace, and the inodes now match.",
        runs: |t| t.exec_demo(),
    },
    Stop {
        title: "04 cgroups: limits the kernel enforces",
        text: "The child goes into a fresh cgroup before it runs. A busy loop under\n\
               --cpus 0.2 is held near a fifth of a CPU; the cgroup is removed after.",
        runs: |t| {
            t.chapter(
                "ch04-cgroups",
                &[
                    "--explain",
                    "--show",
                    "cgroup",
                    "--show-diff",
                    "--cpus",
                    "0.2",
                    "--demo",
                    "cpu",
                ],
            )
        },
    },
];

struct Tour {
    bin_dir: PathBuf,
}

impl Tour {
    fn chapter_cmd(&self, name: &str) -> anyhow::Result<Command> {
        let path = self.bin_dir.join(name);
        if !path.exists() {
            anyhow::bail!(
                "{} is not built: run `cargo build --workspace` first",
                path.display()
            );
        }
        Ok(Command::new(path))
    }

    /// Run one chapter, echoing its command line like a shell would.
    fn chapter(&self, name: &str, args: &[&str]) -> anyhow::Result<()> {
        let quoted: Vec<String> = args
            .iter()
            .map(|a| match a.contains([' ', '$', ';', '\'']) {
                true => format!("'{a}'"),
                false => a.to_string(),
            })
            .collect();
        let line = format!("$ {name} {}", quoted.join(" "));
        println!("{}", line.if_supports_color(Stream::Stdout, |t| t.bold()));
        let status = self
            .chapter_cmd(name)?
            .args(args)
            .status()
            .with_context(|| format!("running {name}"))?;
        println!(
            "{}\n",
            format!("(exit status {})", status.code().unwrap_or(-1))
                .if_supports_color(Stream::Stdout, |t| t.dimmed())
        );
        Ok(())
    }

    /// Start a container in the background, exec into it, stop it.
    fn exec_demo(&self) -> anyhow::Result<()> {
        let mut target = self
            .chapter_cmd("ch03-setns")?
            .args(["run", "--hostname", "target", "--", "/bin/sleep", "60"])
            .stderr(Stdio::null())
            .spawn()
            .context("starting the target container")?;
        let init = crate::probe::procs::wait_for_child_comm(target.id(), "sleep");
        let Ok(pid) = init else {
            let _ = target.kill();
            let _ = target.wait();
            return Err(anyhow::anyhow!("the target container did not start"));
        };
        let result = self.exec_into(pid);
        // Stop the container's init, not ch03-setns: that one is waiting for
        // its child, and removes the container's cgroup once it is gone.
        let why = "end the tour's target container; ch03-setns then cleans up after it";
        let _ = crate::sys::kill(Pid::from_raw(pid as i32), Signal::SIGKILL, why);
        let _ = target.wait();
        result
    }

    fn exec_into(&self, pid: u32) -> anyhow::Result<()> {
        let pid = pid.to_string();
        self.chapter(
            "ch03-setns",
            &[
                "--explain",
                "exec",
                &pid,
                "--",
                "/bin/sh",
                "-c",
                "hostname; echo my pid is $$",
            ],
        )
    }
}

pub fn run(args: TourArgs) -> anyhow::Result<i32> {
    let exe = std::env::current_exe().context("locating the wharf binary")?;
    if !nix::unistd::geteuid().is_root() {
        return Err(again_with_sudo(&exe));
    }
    let tour = Tour {
        bin_dir: exe.parent().map(PathBuf::from).unwrap_or_default(),
    };
    let root = rootfs::ensure_builtin()?;
    println!("wharf tour — the built-in rootfs is {}\n", root.display());
    for (i, stop) in STOPS.iter().enumerate() {
        if args.stop.is_some_and(|s| s as usize != i + 1) {
            continue;
        }
        println!(
            "{}\n{}\n",
            stop.title.if_supports_color(Stream::Stdout, |t| t.green()),
            stop.text
        );
        if args.pause {
            println!("(press Enter)");
            let _ = std::io::stdin().read_line(&mut String::new());
        }
        (stop.runs)(&tour)?;
    }
    Ok(0)
}
