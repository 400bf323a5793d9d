//! `wharf rootfs create DIR`: a root filesystem made from the host's own
//! programs, with no network and no image.
//!
//! A container's root is only a directory tree. For a program to run in it,
//! the tree must hold the program, the dynamic loader the kernel starts for
//! it (`PT_INTERP`), and every shared library the loader will look for, all
//! at the paths the program was built to expect — so we copy them to the
//! same paths they have on the host, symlinks included (Debian's merged
//! /usr makes /bin a symlink to usr/bin). When the host has busybox we copy
//! that single binary instead and point each command's name at it: busybox
//! looks at `argv[0]` to decide which program to be.
//!
//! The tree is built in a staging directory next to DIR and renamed into
//! place at the end, so a failure leaves nothing behind and two processes
//! racing to build the built-in rootfs never see half of one.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{bail, Context};
use nix::errno::Errno;
use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};

use super::elf::{self, Search};
use crate::sys::{self, NodeKind};

/// The programs every rootfs gets: enough for a shell session, for `ps` to
/// show PID 1, for `tail /dev/zero` as a memory hog, and for the chroot
/// escape demo (`stat`, `readlink`).
pub const DEFAULT_PROGRAMS: &[&str] = &[
    "sh", "ls", "cat", "echo", "ps", "hostname", "mount", "umount", "id", "sleep", "true", "false",
    "tail", "mkdir", "rm", "touch", "stat", "readlink", "env", "uname",
];

/// Where programs are looked for on the host: Debian's PATH for root.
const PROGRAM_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// The file that marks a finished rootfs made by wharf.
const MARKER: &str = "etc/wharf-rootfs";

/// Where the programs of a rootfs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// busybox when the host has it, the host's programs otherwise.
    #[default]
    Auto,
    /// The host's own programs and their libraries.
    Host,
    /// One busybox binary, with a symlink per command.
    Busybox,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Auto => "auto",
            Source::Host => "host programs",
            Source::Busybox => "busybox",
        })
    }
}

/// What `create` is asked to build.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Host programs to add to the default set (a name, or an absolute path).
    pub with: Vec<String>,
    pub source: Source,
    /// Replace an existing rootfs made by wharf.
    pub force: bool,
}

/// What `create` built.
#[derive(Debug, Clone)]
pub struct CreateReport {
    pub dir: PathBuf,
    /// `Host` or `Busybox`: what `Auto` turned into.
    pub source: Source,
    /// The commands the rootfs has, in the order they were asked for.
    pub programs: Vec<String>,
    /// Default programs this host does not have (left out).
    pub missing: Vec<String>,
    /// Host paths of the loaders and shared libraries copied.
    pub libraries: Vec<PathBuf>,
    /// Bytes copied from the host.
    pub bytes: u64,
}

/// Build a rootfs at `dir`. `dir` must not exist, be empty, or (with
/// `force`) be a rootfs made by wharf with nothing mounted in it.
pub fn create(dir: &Path, opts: &CreateOptions) -> anyhow::Result<CreateReport> {
    let existing = preflight(dir, opts.force)?;
    let plan = plan(opts)?;
    let (report, staging) = build(dir, &plan)?;
    match existing {
        Existing::Rootfs => replace(staging, dir)?,
        Existing::Nothing => {
            if !publish(staging, dir)? {
                bail!(
                    "{} was created by another process while this one was building it",
                    dir.display()
                );
            }
        }
    }
    Ok(report)
}

/// The built-in rootfs every chapter uses when `--rootfs` is not given,
/// made with the defaults on first use.
pub fn ensure_builtin() -> anyhow::Result<PathBuf> {
    let dir = crate::paths::builtin_rootfs();
    if dir.join(MARKER).is_file() {
        return Ok(dir);
    }
    let root = crate::paths::state_root();
    fs::create_dir_all(&root)
        .with_context(|| format!("cannot create wharf's state directory {}", root.display()))?;
    if dir.is_dir() && fs::read_dir(&dir)?.next().is_some() {
        bail!(
            "{} exists but is not a finished wharf rootfs (no {MARKER}): remove it and run again",
            dir.display()
        );
    }
    preflight(&dir, false)?;
    let (_, staging) = build(&dir, &plan(&CreateOptions::default())?)?;
    // Losing the race to another process is fine: its rootfs is as good.
    publish(staging, &dir)?;
    Ok(dir)
}

/// What sits at DIR before we start.
enum Existing {
    /// Nothing, or an empty directory (rename(2) may replace one).
    Nothing,
    /// A rootfs made by wharf, to be replaced (`--force`).
    Rootfs,
}

/// Refuse anything at DIR we must not replace, before touching the disk.
fn preflight(dir: &Path, force: bool) -> anyhow::Result<Existing> {
    let d = dir.display();
    if dir.file_name().is_none() {
        bail!("{d} does not name a directory to create: give a path such as ./rootfs");
    }
    let meta = match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let parent = parent_of(dir);
            if !parent.is_dir() {
                bail!(
                    "cannot create {d}: its parent {} does not exist; create it first",
                    parent.display()
                );
            }
            return Ok(Existing::Nothing);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot inspect {d}")),
        Ok(m) => m,
    };
    if !meta.is_dir() {
        bail!("{d} exists and is not a directory: remove it or choose another DIR");
    }
    if fs::read_dir(dir)?.next().is_none() {
        return Ok(Existing::Nothing);
    }
    if !force {
        bail!(
            "{d} already exists and is not empty: pass --force to replace a rootfs made by wharf"
        );
    }
    if !dir.join(MARKER).is_file() {
        bail!("{d} was not made by `wharf rootfs create` (no {MARKER}): refusing to replace it; remove it yourself");
    }
    if let Some(m) = mount_inside(dir)? {
        bail!("{} is a mount point inside {d} (a running container?): unmount it before replacing the rootfs", m.display());
    }
    Ok(Existing::Rootfs)
}

fn parent_of(dir: &Path) -> PathBuf {
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The first directory at or below `dir` that is the root of a mount.
/// statx(2) reports that as STATX_ATTR_MOUNT_ROOT, bind mounts included;
/// deleting the old tree must never descend into one (a volume, a /proc).
fn mount_inside(dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    let root = crate::probe::mounts::is_mount_root(dir)
        .with_context(|| format!("cannot stat {}", dir.display()))?;
    if root {
        return Ok(Some(dir.to_path_buf()));
    }
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            if let Some(m) = mount_inside(&entry.path())? {
                return Ok(Some(m));
            }
        }
    }
    Ok(None)
}

/// Which host files become which commands.
#[derive(Debug)]
struct Plan {
    source: Source,
    /// Host programs to copy: (command name, host path).
    programs: Vec<(String, PathBuf)>,
    /// With busybox: its host path, and the commands that link to it.
    busybox: Option<(PathBuf, Vec<String>)>,
    missing: Vec<String>,
}

/// Decide, without touching the disk, where every command comes from.
fn plan(opts: &CreateOptions) -> anyhow::Result<Plan> {
    let mut with = Vec::new();
    for name in &opts.with {
        let path = find_program(name)?.with_context(|| {
            format!(
                "--with {name}: this host has no such program (looked in {})",
                PROGRAM_DIRS.join(":")
            )
        })?;
        with.push((command_name(name), path));
    }
    let busybox = match opts.source {
        Source::Host => None,
        Source::Auto => find_program("busybox")?,
        Source::Busybox => Some(find_program("busybox")?.context(
            "--source busybox: this host has no busybox; install it (apt-get install busybox-static) or use --source host",
        )?),
    };
    let mut plan = Plan {
        source: Source::Host,
        programs: Vec::new(),
        busybox: None,
        missing: Vec::new(),
    };
    if let Some(bb) = busybox {
        plan.source = Source::Busybox;
        plan.busybox = Some((bb, DEFAULT_PROGRAMS.iter().map(|s| s.to_string()).collect()));
    } else {
        for name in DEFAULT_PROGRAMS {
            match find_program(name)? {
                Some(path) => plan.programs.push((name.to_string(), path)),
                None => plan.missing.push(name.to_string()),
            }
        }
    }
    for (name, path) in with {
        if !plan.commands().contains(&name) {
            plan.programs.push((name, path));
        }
    }
    Ok(plan)
}

impl Plan {
    fn commands(&self) -> Vec<String> {
        let applets = self.busybox.iter().flat_map(|(_, a)| a.iter().cloned());
        applets
            .chain(self.programs.iter().map(|(n, _)| n.clone()))
            .collect()
    }
}

/// The command a `--with` value adds: its file name.
fn command_name(name: &str) -> String {
    Path::new(name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.to_string())
}

/// The host file for a program name (searched in PROGRAM_DIRS) or an
/// absolute path; `None` when the host has no such executable.
fn find_program(name: &str) -> anyhow::Result<Option<PathBuf>> {
    let relative = name.contains('/') && !name.starts_with('/');
    if name.is_empty() || name == "." || name == ".." || name.contains('\0') || relative {
        bail!(
            "--with {name:?}: not a program name: give a command such as `ls` or an absolute path"
        );
    }
    let executable = |p: &Path| {
        fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if name.starts_with('/') {
        return Ok(Some(PathBuf::from(name)).filter(|p| executable(p)));
    }
    Ok(PROGRAM_DIRS
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| executable(p)))
}

/// A staging directory that is removed again unless it was published.
struct Staging {
    path: PathBuf,
    keep: bool,
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Build the whole tree in a staging directory next to `dir`.
fn build(dir: &Path, plan: &Plan) -> anyhow::Result<(CreateReport, Staging)> {
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    // Unique per process and per call, so racing threads never share one.
    static SERIAL: AtomicU32 = AtomicU32::new(0);
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    let path = parent_of(dir).join(format!(".{name}.staging-{}-{serial}", std::process::id()));
    fs::DirBuilder::new()
        .mode(0o755)
        .create(&path)
        .with_context(|| format!("cannot create the staging directory {}", path.display()))?;
    let staging = Staging { path, keep: false };
    let mut tree = Tree {
        root: staging.path.clone(),
        copied: BTreeSet::new(),
        bytes: 0,
    };
    skeleton(&tree.root)?;
    tree.merged_usr_links()?;
    let search = Search::host();
    let mut libraries = BTreeSet::new();
    let mut binaries: Vec<&Path> = plan.programs.iter().map(|(_, p)| p.as_path()).collect();
    if let Some((bb, applets)) = &plan.busybox {
        tree.install(bb)?;
        tree.applets(bb, applets)?;
        binaries.push(bb);
    }
    for host in binaries {
        tree.install(host)?;
        if elf::is_elf(host) {
            for lib in search.closure(host)? {
                tree.install(&lib)?;
                libraries.insert(lib);
            }
        }
    }
    let programs = plan.commands();
    fs::write(
        tree.root.join(MARKER),
        format!(
            "# made by `wharf rootfs create`\nsource={}\nprograms={}\n",
            plan.source,
            programs.join(" ")
        ),
    )?;
    let report = CreateReport {
        dir: dir.to_path_buf(),
        source: plan.source,
        programs,
        missing: plan.missing.clone(),
        libraries: libraries.into_iter().collect(),
        bytes: tree.bytes,
    };
    Ok((report, staging))
}

/// Rename the finished tree to `dir`. `false` when another process put a
/// rootfs there first (rename(2) replaces only an empty directory).
fn publish(mut staging: Staging, dir: &Path) -> anyhow::Result<bool> {
    match fs::rename(&staging.path, dir) {
        Ok(()) => {
            staging.keep = true;
            Ok(true)
        }
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTEMPTY) | Some(libc::EEXIST)) => {
            Ok(false)
        }
        Err(e) => Err(e)
            .with_context(|| format!("cannot move the new rootfs into place at {}", dir.display())),
    }
}

/// Swap the new tree and the old rootfs in one renameat2(RENAME_EXCHANGE),
/// so DIR is never missing, then delete the old one from the staging name.
fn replace(staging: Staging, dir: &Path) -> anyhow::Result<()> {
    renameat2(
        AT_FDCWD,
        &staging.path,
        AT_FDCWD,
        dir,
        RenameFlags::RENAME_EXCHANGE,
    )
    .with_context(|| format!("cannot swap the new rootfs into {}", dir.display()))?;
    // The Staging guard now removes the old tree.
    Ok(())
}

/// The tree being built, and what has been copied into it.
struct Tree {
    root: PathBuf,
    /// Host files already copied (several names can lead to one file).
    copied: BTreeSet<PathBuf>,
    bytes: u64,
}

impl Tree {
    fn inside(&self, host: &Path) -> PathBuf {
        self.root.join(host.strip_prefix("/").unwrap_or(host))
    }

    /// Copy the host file at `host` to the same path in the tree. Every
    /// symlink met on the way (`/bin -> usr/bin`, `sh -> dash`) is
    /// recreated as a symlink and followed, so both the link and the real
    /// file exist inside, as on the host. Returns the real file's path.
    fn install(&mut self, host: &Path) -> anyhow::Result<PathBuf> {
        let mut todo: Vec<OsString> = Vec::new();
        push_components(&mut todo, host);
        let mut cur = PathBuf::from("/");
        let mut links = 0;
        while let Some(part) = todo.pop() {
            if part == ".." {
                // `cur` holds no symlinks, so going up is plain path arithmetic.
                cur.pop();
                continue;
            }
            let next = cur.join(&part);
            let meta = fs::symlink_metadata(&next)
                .with_context(|| format!("cannot read {}", next.display()))?;
            if meta.file_type().is_symlink() {
                links += 1;
                if links > 40 {
                    bail!("too many levels of symbolic links in {}", host.display());
                }
                let target = fs::read_link(&next)?;
                self.link(&next, &target)?;
                if target.is_absolute() {
                    cur = PathBuf::from("/");
                }
                push_components(&mut todo, &target);
            } else if meta.is_dir() && !todo.is_empty() {
                self.dir(&next)?;
                cur = next;
            } else if meta.is_file() && todo.is_empty() {
                self.copy(&next, &meta)?;
                return Ok(next);
            } else {
                bail!("{} is not a regular file", next.display());
            }
        }
        bail!("{} is not a file", host.display())
    }

    /// A directory at the host path `host`, created with the usual 0755.
    fn dir(&self, host: &Path) -> anyhow::Result<()> {
        let inside = self.inside(host);
        if !inside.is_dir() {
            fs::DirBuilder::new()
                .mode(0o755)
                .create(&inside)
                .with_context(|| format!("cannot create {}", inside.display()))?;
        }
        Ok(())
    }

    /// The symlink `host -> target`, as on the host.
    fn link(&self, host: &Path, target: &Path) -> anyhow::Result<()> {
        let inside = self.inside(host);
        match fs::read_link(&inside) {
            Ok(t) if t == target => Ok(()),
            Ok(t) => bail!(
                "{} already links to {}, not {}",
                inside.display(),
                t.display(),
                target.display()
            ),
            Err(_) => std::os::unix::fs::symlink(target, &inside)
                .with_context(|| format!("cannot create the symlink {}", inside.display())),
        }
    }

    /// Copy one regular file. setuid/setgid bits are dropped: inside a
    /// container the programs already run as whoever the container is.
    fn copy(&mut self, host: &Path, meta: &fs::Metadata) -> anyhow::Result<()> {
        if !self.copied.insert(host.to_path_buf()) {
            return Ok(());
        }
        let inside = self.inside(host);
        fs::copy(host, &inside).with_context(|| format!("cannot copy {}", host.display()))?;
        fs::set_permissions(
            &inside,
            fs::Permissions::from_mode(meta.permissions().mode() & 0o777),
        )?;
        self.bytes += meta.len();
        Ok(())
    }

    /// Debian merges /usr: /bin, /sbin, /lib, /lib64 are symlinks into
    /// /usr. Recreate each that the host has, so `/bin/sh` resolves inside
    /// exactly as outside.
    fn merged_usr_links(&mut self) -> anyhow::Result<()> {
        for top in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
            let host = Path::new("/").join(top);
            let Ok(target) = fs::read_link(&host) else {
                continue;
            };
            let resolved = Path::new("/").join(&target);
            if resolved.is_dir() {
                self.link(&host, &target)?;
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(self.inside(&resolved))?;
            }
        }
        Ok(())
    }

    /// A symlink per command next to the busybox binary: busybox reads
    /// argv[0] (`ls`) and runs that applet.
    fn applets(&mut self, busybox: &Path, applets: &[String]) -> anyhow::Result<()> {
        let dir = busybox.parent().unwrap_or(Path::new("/"));
        let name = busybox.file_name().unwrap_or_default();
        for applet in applets {
            self.link(&dir.join(applet), Path::new(name))?;
        }
        Ok(())
    }
}

/// Push the normal parts of `path` onto the stack so the first pops first.
fn push_components(stack: &mut Vec<OsString>, path: &Path) {
    let parts: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    stack.extend(parts.into_iter().rev());
}

/// The directories, files and device nodes every Linux program expects.
fn skeleton(root: &Path) -> anyhow::Result<()> {
    for (dir, mode) in [
        ("proc", 0o555),
        ("sys", 0o555),
        ("dev", 0o755),
        ("dev/pts", 0o755),
        ("dev/shm", 0o1777),
        ("etc", 0o755),
        ("root", 0o700),
        ("run", 0o755),
        ("tmp", 0o1777),
    ] {
        let p = root.join(dir);
        fs::create_dir(&p).with_context(|| format!("cannot create {}", p.display()))?;
        // mkdir(2) applies the umask and never sets the sticky bit itself.
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))?;
    }
    for (file, text) in [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
        ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
        ("etc/hostname", "wharf\n"),
        ("etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n"),
        (
            "etc/nsswitch.conf",
            "passwd: files\ngroup: files\nhosts: files\n",
        ),
    ] {
        fs::write(root.join(file), text)?;
    }
    devices(&root.join("dev"))
}

/// Character devices a program may open: the kernel finds the driver by
/// the (major, minor) pair stored in the inode, not by the name.
fn devices(dev: &Path) -> anyhow::Result<()> {
    for (name, major, minor, why) in [
        (
            "null",
            1,
            3,
            "/dev/null (1,3): the kernel's memory driver discards what is written",
        ),
        ("zero", 1, 5, "/dev/zero (1,5): endless zero bytes"),
        (
            "full",
            1,
            7,
            "/dev/full (1,7): every write fails with ENOSPC",
        ),
        (
            "random",
            1,
            8,
            "/dev/random (1,8): the kernel's random number generator",
        ),
        (
            "urandom",
            1,
            9,
            "/dev/urandom (1,9): the same generator, never blocking",
        ),
        (
            "tty",
            5,
            0,
            "/dev/tty (5,0): the controlling terminal of whoever opens it",
        ),
    ] {
        let p = dev.join(name);
        match sys::mknod(&p, NodeKind::Char, 0o666, major, minor, why) {
            Ok(()) => {}
            Err(e) if e.errno == Errno::EPERM => {
                bail!("making device nodes such as /dev/{name} needs CAP_MKNOD: run `wharf rootfs create` as root (sudo)")
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot create device node /dev/{name}"))
            }
        }
        // mknod(2) applies the umask, so set the mode everyone needs.
        fs::set_permissions(&p, fs::Permissions::from_mode(0o666))?;
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, dev.join(name))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(with: &[&str], source: Source) -> CreateOptions {
        CreateOptions {
            with: with.iter().map(|s| s.to_string()).collect(),
            source,
            force: false,
        }
    }

    #[test]
    fn with_a_program_the_host_lacks_is_one_clear_error() {
        let err = plan(&opts(&["wharf-no-such-program"], Source::Host))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--with wharf-no-such-program: this host has no such program"),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }

    #[test]
    fn with_rejects_relative_and_empty_names() {
        for bad in ["", ".", "..", "bin/ls", "../ls"] {
            let err = plan(&opts(&[bad], Source::Host)).unwrap_err().to_string();
            assert!(err.contains("not a program name"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn host_plan_has_every_default_and_the_extras_once() {
        let p = plan(&opts(&["ls", "/usr/bin/head"], Source::Host)).unwrap();
        assert_eq!(p.source, Source::Host);
        assert!(p.busybox.is_none());
        let cmds = p.commands();
        assert_eq!(cmds.iter().filter(|c| *c == "ls").count(), 1);
        assert_eq!(cmds.last().map(String::as_str), Some("head"));
        for name in DEFAULT_PROGRAMS {
            assert!(
                cmds.iter().any(|c| c == name) || p.missing.iter().any(|m| m == name),
                "{name}"
            );
        }
    }

    #[test]
    fn busybox_plan_links_defaults_and_copies_extras() {
        let Some(bb) = find_program("busybox").unwrap() else {
            let err = plan(&opts(&[], Source::Busybox)).unwrap_err().to_string();
            assert!(err.contains("apt-get install busybox-static"), "{err}");
            return;
        };
        let p = plan(&opts(&["ls", "head"], Source::Auto)).unwrap();
        assert_eq!(p.source, Source::Busybox);
        let (path, applets) = p.busybox.clone().unwrap();
        assert_eq!(path, bb);
        assert_eq!(applets.len(), DEFAULT_PROGRAMS.len());
        assert_eq!(
            p.programs
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>(),
            ["head"]
        );
    }

    #[test]
    fn programs_are_found_in_the_usual_dirs_or_by_absolute_path() {
        let sh = find_program("sh").unwrap().unwrap();
        assert!(PROGRAM_DIRS.iter().any(|d| sh.starts_with(d)), "{sh:?}");
        assert_eq!(
            find_program("/bin/sh").unwrap(),
            Some(PathBuf::from("/bin/sh"))
        );
        // Not executable: /etc/passwd is a file but no program.
        assert_eq!(find_program("/etc/passwd").unwrap(), None);
    }

    #[test]
    fn install_recreates_each_symlink_and_copies_the_real_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut tree = Tree {
            root: dir.path().to_path_buf(),
            copied: BTreeSet::new(),
            bytes: 0,
        };
        tree.merged_usr_links().unwrap();
        let real = tree.install(Path::new("/bin/sh")).unwrap();
        assert_eq!(real, fs::canonicalize("/bin/sh").unwrap());
        let inside = tree.inside(&real);
        assert_eq!(fs::read(&inside).unwrap(), fs::read(&real).unwrap());
        assert_eq!(tree.bytes, fs::metadata(&real).unwrap().len());
        // Every link on the way exists inside, pointing where the host's does.
        for link in ["/bin", "/bin/sh", "/usr/bin/sh"] {
            if let Ok(target) = fs::read_link(link) {
                assert_eq!(
                    fs::read_link(tree.inside(Path::new(link))).unwrap(),
                    target,
                    "{link}"
                );
            }
        }
        // A second install of the same file copies nothing more.
        let before = tree.bytes;
        tree.install(Path::new("/usr/bin/sh")).unwrap();
        assert_eq!(tree.bytes, before);
    }

    #[test]
    fn install_refuses_directories_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut tree = Tree {
            root: dir.path().to_path_buf(),
            copied: BTreeSet::new(),
            bytes: 0,
        };
        assert!(tree.install(Path::new("/etc")).is_err());
        assert!(tree.install(Path::new("/etc/wharf-no-such-file")).is_err());
    }

    #[test]
    fn preflight_refuses_what_it_must_not_replace() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let msg = |p: &Path, force| {
            preflight(p, force)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        fs::write(d.join("file"), "x").unwrap();
        assert!(msg(&d.join("file"), true).contains("is not a directory"));
        fs::create_dir(d.join("full")).unwrap();
        fs::write(d.join("full/x"), "x").unwrap();
        assert!(msg(&d.join("full"), false).contains("pass --force"));
        assert!(msg(&d.join("full"), true).contains("was not made by `wharf rootfs create`"));
        assert!(msg(&d.join("no/such"), false).contains("does not exist; create it first"));
        assert!(msg(Path::new("/"), true).contains("does not name a directory"));
        fs::create_dir(d.join("empty")).unwrap();
        assert!(matches!(
            preflight(&d.join("empty"), false),
            Ok(Existing::Nothing)
        ));
        assert!(matches!(
            preflight(&d.join("new"), false),
            Ok(Existing::Nothing)
        ));
        fs::create_dir_all(d.join("ours/etc")).unwrap();
        fs::write(d.join("ours").join(MARKER), "").unwrap();
        assert!(matches!(
            preflight(&d.join("ours"), true),
            Ok(Existing::Rootfs)
        ));
    }

    #[test]
    fn statx_knows_a_mount_root() {
        assert!(crate::probe::mounts::is_mount_root(Path::new("/proc")).unwrap());
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        assert_eq!(mount_inside(dir.path()).unwrap(), None);
    }

    #[test]
    fn components_pop_in_path_order() {
        let mut stack = Vec::new();
        push_components(&mut stack, Path::new("/usr/../lib/x"));
        let popped: Vec<OsString> = std::iter::from_fn(|| stack.pop()).collect();
        assert_eq!(popped, ["usr", "..", "lib", "x"].map(OsString::from));
    }
}
