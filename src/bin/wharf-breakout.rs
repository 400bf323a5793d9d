//! `wharf-breakout`: from inside a container, try what chapter 08's
//! hardening is there to stop, and print what the kernel answered — one
//! `ATTACK: ok` or `ATTACK: ERRNO` line each. Chapter 08's break-it tests
//! copy it into the container's root; `--explain` shows every call.
//!
//! It only asks; it never changes the host when it is refused, and when it
//! is let through its targets are harmless: a module image of zeros (the
//! kernel rejects it once it may look at it), a restart of the container's
//! own pid namespace (refused outside one), a trace it detaches at once.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use nix::sched::CloneFlags;
use nix::unistd::Pid;
use wharf::cli::lesson::{self, Lesson};
use wharf::probe::procs;
use wharf::rootfs::{chroot, exec};
use wharf::sys::{self, NodeKind, SysError};

const NAME: &str = "wharf-breakout";

/// Try one of chapter 08's attacks and print what the kernel said.
#[derive(Debug, Parser)]
#[command(name = "wharf-breakout", version)]
struct Args {
    #[command(flatten)]
    lesson: Lesson,

    #[command(subcommand)]
    attack: Attack,
}

#[derive(Debug, Subcommand)]
enum Attack {
    /// Chapter 01's escape: chroot deeper, walk `..`, chroot there; then
    /// run CMD wherever `/` ended up.
    ChrootEscape {
        #[arg(last = true, required = true)]
        cmd: Vec<String>,
    },
    /// reboot(2): only as PID 1 of a pid namespace, where a permitted
    /// reboot ends that namespace, not the machine.
    Reboot,
    /// init_module(2) and finit_module(2) with an image that is no module.
    LoadModule,
    /// PTRACE_ATTACH to PID (then detach).
    Ptrace { pid: i32 },
    /// mknod a character device MAJOR:MINOR at PATH, then open it and read.
    MknodRead {
        path: PathBuf,
        major: u64,
        minor: u64,
    },
    /// unshare(CLONE_NEWUSER): a user namespace, where we would be root
    /// with every capability again.
    UnshareUser,
    /// Become UID (and gid UID), then execve CMD: a setuid program's test.
    AsUser {
        uid: u32,
        #[arg(last = true, required = true)]
        cmd: Vec<String>,
    },
    /// Print this process's uid and capability sets from /proc/self/status.
    Caps,
}

fn main() {
    let args = Args::parse();
    args.lesson.start();
    lesson::finish(NAME, attack(&args.attack))
}

/// `ok`, or the errno the kernel answered with.
fn said(r: Result<(), SysError>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => format!("{:?}", e.errno),
    }
}

fn attack(a: &Attack) -> anyhow::Result<i32> {
    match a {
        Attack::ChrootEscape { cmd } => {
            let r = chroot::escape_attempt(chroot::root_id()?)?;
            println!(
                "chroot-escape: / was dev={} ino={}, after {} climbs dev={} ino={}",
                r.before.0, r.before.1, r.climbs, r.after.0, r.after.1
            );
            Err(exec::exec(cmd, &exec::default_env(None)))
        }
        Attack::Reboot => {
            // In the host's pid namespace a permitted reboot restarts the
            // machine: refuse unless we are some namespace's PID 1 (the
            // host's PID 1 is its own init, never us).
            if std::process::id() != 1 {
                anyhow::bail!(
                    "reboot is tried only as PID 1 of a pid namespace of its own; this is pid {}",
                    std::process::id()
                );
            }
            let r = sys::reboot_restart(
                "restart: in a pid namespace of its own, the kernel ends that namespace instead",
            );
            println!("reboot: {}", said(r));
            Ok(0)
        }
        Attack::LoadModule => {
            let image = [0u8; 64];
            let r = sys::init_module(
                &image,
                "load kernel code: the image is zeros, no module at all",
            );
            println!("init_module: {}", said(r));
            let file = std::fs::File::open("/dev/null")?;
            let r = sys::finit_module(
                &file,
                "/dev/null",
                "load kernel code from a file: /dev/null holds no module",
            );
            println!("finit_module: {}", said(r));
            Ok(0)
        }
        Attack::Ptrace { pid } => {
            let pid = Pid::from_raw(*pid);
            let r = sys::ptrace_attach(
                pid,
                "trace a process outside the container: read its memory, change its registers",
            );
            let ok = r.is_ok();
            println!("ptrace: {}", said(r));
            if ok {
                sys::ptrace_detach(pid, "let it go again, untouched")?;
            }
            Ok(0)
        }
        Attack::MknodRead { path, major, minor } => {
            let r = sys::mknod(
                path,
                NodeKind::Char,
                0o600,
                *major,
                *minor,
                "make a node for a device the container was not given",
            );
            println!("mknod: {}", said(r));
            println!("read: {}", read_some(path));
            Ok(0)
        }
        Attack::UnshareUser => {
            let r = sys::unshare(
                CloneFlags::CLONE_NEWUSER,
                "a user namespace of our own, in which we would hold every capability",
            );
            println!("unshare(CLONE_NEWUSER): {}", said(r));
            Ok(0)
        }
        Attack::AsUser { uid, cmd } => {
            sys::setgroups(&[], "no supplementary groups")?;
            sys::setresgid(*uid, "drop to an ordinary group")?;
            sys::setresuid(
                *uid,
                "drop to an ordinary user: every capability goes with uid 0",
            )?;
            Err(exec::exec(cmd, &exec::default_env(None)))
        }
        Attack::Caps => {
            for key in ["Uid", "CapEff", "CapPrm", "NoNewPrivs"] {
                println!("{key}: {}", procs::status_field("self", key)?);
            }
            Ok(0)
        }
    }
}

/// Open `path` and read a little: `ok (N bytes)` or the errno.
fn read_some(path: &Path) -> String {
    use std::io::Read;
    let mut buf = [0u8; 256];
    match std::fs::File::open(path).and_then(|mut f| f.read(&mut buf)) {
        Ok(n) => format!("ok ({n} bytes)"),
        Err(e) => e
            .raw_os_error()
            .map(|n| format!("{:?}", nix::errno::Errno::from_raw(n)))
            .unwrap_or_else(|| e.to_string()),
    }
}
