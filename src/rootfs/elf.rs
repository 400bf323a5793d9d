//! What a dynamically linked program needs before it can run: the dynamic
//! loader named in its `PT_INTERP` header, and every shared library named by
//! `DT_NEEDED` in its dynamic section, and theirs, recursively.
//!
//! When the kernel execs an ELF file with a `PT_INTERP` segment it maps that
//! interpreter (`/lib64/ld-linux-x86-64.so.2`) and jumps to it; the loader
//! then finds each needed library the way ld.so(8) describes: `DT_RPATH`
//! (only when there is no `DT_RUNPATH`), `LD_LIBRARY_PATH`, `DT_RUNPATH`, the
//! directories of /etc/ld.so.conf (cached in /etc/ld.so.cache), and finally
//! the system's default directories. A copy of a program in a new root runs
//! only if all of these files are found at the same paths inside it. We read
//! the same headers with goblin instead of running `ldd`, which would execute
//! the program's loader.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use goblin::elf::header::{EM_386, EM_AARCH64, EM_ARM, EM_PPC64, EM_RISCV, EM_S390, EM_X86_64};
use goblin::elf::Elf;

/// The parts of an ELF file that decide what else must be present for it
/// to run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Object {
    pub path: PathBuf,
    pub is_64: bool,
    pub machine: u16,
    /// `PT_INTERP`: the dynamic loader the kernel starts; `None` when static.
    pub interpreter: Option<PathBuf>,
    /// `DT_NEEDED`: library names (sonames) in the order the loader loads them.
    pub needed: Vec<String>,
    /// `DT_RPATH` directories (the older form; ignored when RUNPATH exists).
    pub rpath: Vec<String>,
    /// `DT_RUNPATH` directories.
    pub runpath: Vec<String>,
}

/// Whether the file starts with the ELF magic number.
pub fn is_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .map(|_| &magic == b"\x7fELF")
        .unwrap_or(false)
}

impl Object {
    /// Read the ELF headers and dynamic section of `path`.
    pub fn read(path: &Path) -> anyhow::Result<Object> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let elf = Elf::parse(&bytes)
            .with_context(|| format!("{} is not a valid ELF file", path.display()))?;
        let split = |list: &[&str]| -> Vec<String> {
            list.iter()
                .flat_map(|s| s.split(':'))
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        Ok(Object {
            path: path.to_path_buf(),
            is_64: elf.is_64,
            machine: elf.header.e_machine,
            interpreter: elf.interpreter.map(PathBuf::from),
            needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
            rpath: split(&elf.rpaths),
            runpath: split(&elf.runpaths),
        })
    }

    /// The Debian multiarch triplet for this machine (`x86_64-linux-gnu`).
    pub fn multiarch(&self) -> Option<&'static str> {
        Some(match self.machine {
            EM_X86_64 => "x86_64-linux-gnu",
            EM_AARCH64 => "aarch64-linux-gnu",
            EM_386 => "i386-linux-gnu",
            EM_ARM => "arm-linux-gnueabihf",
            EM_RISCV => "riscv64-linux-gnu",
            EM_PPC64 => "powerpc64le-linux-gnu",
            EM_S390 => "s390x-linux-gnu",
            _ => return None,
        })
    }

    /// Expand the loader's dynamic string tokens in an RPATH/RUNPATH entry:
    /// `$ORIGIN` is the directory of this object, `$LIB` is lib or lib64.
    fn expand(&self, entry: &str) -> PathBuf {
        let origin = self
            .path
            .parent()
            .unwrap_or(Path::new("/"))
            .to_string_lossy()
            .into_owned();
        let lib = if self.is_64 { "lib64" } else { "lib" };
        let s = entry
            .replace("${ORIGIN}", &origin)
            .replace("$ORIGIN", &origin)
            .replace("${LIB}", lib)
            .replace("$LIB", lib);
        PathBuf::from(s)
    }
}

/// Where the loader looks for a library after the object's own paths:
/// the ld.so.conf directories, then the built-in defaults.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// From /etc/ld.so.conf and its includes, in file order.
    pub conf: Vec<PathBuf>,
}

impl Search {
    /// The host's search configuration (/etc/ld.so.conf; missing is fine).
    pub fn host() -> Search {
        Search {
            conf: ld_so_conf(Path::new("/etc/ld.so.conf")),
        }
    }

    /// Every directory to try for a library needed by `obj`, in the
    /// loader's order; `exe` is the program that started the chain.
    pub fn dirs(&self, obj: &Object, exe: &Object) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        // DT_RPATH counts only when the object has no DT_RUNPATH; the
        // program's RPATH then applies to every library it pulls in.
        if obj.runpath.is_empty() {
            dirs.extend(obj.rpath.iter().map(|e| obj.expand(e)));
            if exe.runpath.is_empty() && exe.path != obj.path {
                dirs.extend(exe.rpath.iter().map(|e| exe.expand(e)));
            }
        }
        // LD_LIBRARY_PATH would come here: it is the caller's environment,
        // not the program's, so a rootfs does not follow it.
        dirs.extend(obj.runpath.iter().map(|e| obj.expand(e)));
        dirs.extend(self.conf.iter().cloned());
        dirs.extend(default_dirs(obj));
        dirs
    }

    /// The first file named `name` in the search order whose ELF class and
    /// machine match `obj` (the loader skips, e.g., 32-bit libraries).
    pub fn resolve(&self, name: &str, obj: &Object, exe: &Object) -> Option<PathBuf> {
        if name.contains('/') {
            let p = PathBuf::from(name);
            return (p.is_absolute() && p.is_file()).then_some(p);
        }
        self.dirs(obj, exe)
            .into_iter()
            .map(|d| d.join(name))
            .find(|p| compatible(p, obj))
    }

    /// Every file `program` needs: its loader and all libraries, transitively.
    pub fn closure(&self, program: &Path) -> anyhow::Result<BTreeSet<PathBuf>> {
        let exe = Object::read(program)?;
        let mut found = BTreeSet::new();
        found.extend(exe.interpreter.clone());
        let mut seen: HashSet<String> = HashSet::new();
        let mut queue = VecDeque::from([exe.clone()]);
        while let Some(obj) = queue.pop_front() {
            for name in &obj.needed {
                if !seen.insert(name.clone()) {
                    continue;
                }
                let Some(path) = self.resolve(name, &obj, &exe) else {
                    bail!(
                        "{} needs {name}, which is not in any library directory of this host (ld.so.conf, {})",
                        obj.path.display(),
                        default_dirs(&obj).iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
                    );
                };
                queue.push_back(Object::read(&path)?);
                found.insert(path);
            }
        }
        Ok(found)
    }
}

/// The loader's built-in directories, tried last: multiarch first (Debian),
/// then lib64 (Fedora and friends) for 64-bit objects, then plain lib.
pub fn default_dirs(obj: &Object) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(t) = obj.multiarch() {
        dirs.push(PathBuf::from("/lib").join(t));
        dirs.push(PathBuf::from("/usr/lib").join(t));
    }
    if obj.is_64 {
        dirs.extend(["/lib64", "/usr/lib64"].map(PathBuf::from));
    }
    dirs.extend(["/lib", "/usr/lib"].map(PathBuf::from));
    dirs
}

/// Whether `path` is an ELF file the loader would accept for `obj`.
fn compatible(path: &Path, obj: &Object) -> bool {
    let mut head = [0u8; 64];
    let ok =
        std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head));
    match (ok, Elf::parse_header(&head)) {
        (Ok(()), Ok(h)) => h.e_machine == obj.machine && (h.e_ident[4] == 2) == obj.is_64,
        _ => false,
    }
}

/// The directories listed in an ld.so.conf file, following `include`
/// lines (globs allowed in the last component, matched files sorted, as
/// ldconfig does). Comments and `hwcap` lines are skipped.
pub fn ld_so_conf(file: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    read_conf(file, &mut out, 0);
    out
}

fn read_conf(file: &Path, out: &mut Vec<PathBuf>, depth: u32) {
    // A file that includes itself would loop forever; ldconfig stops too.
    let Ok(text) = std::fs::read_to_string(file) else {
        return;
    };
    if depth > 8 {
        return;
    }
    let base = file.parent().unwrap_or(Path::new("/"));
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(pattern) = line.strip_prefix("include") {
            for f in pattern.split_whitespace().flat_map(|p| glob(&base.join(p))) {
                read_conf(&f, out, depth + 1);
            }
        } else if !line.is_empty() && !line.starts_with("hwcap") {
            for dir in line.split([':', ',', ' ', '\t']).filter(|d| !d.is_empty()) {
                let dir = PathBuf::from(dir);
                if !out.contains(&dir) {
                    out.push(dir);
                }
            }
        }
    }
}

/// Expand a `*` in the last component of `pattern` (the only form
/// ld.so.conf files use); a pattern without one is returned as is.
fn glob(pattern: &Path) -> Vec<PathBuf> {
    let name = pattern
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some((prefix, suffix)) = name.split_once('*') else {
        return vec![pattern.to_path_buf()];
    };
    let dir = pattern.parent().unwrap_or(Path::new("/"));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.len() >= prefix.len() + suffix.len() && n.starts_with(prefix) && n.ends_with(suffix)
        })
        .map(|n| dir.join(n))
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(path: &str) -> Object {
        Object {
            path: path.into(),
            is_64: true,
            machine: EM_X86_64,
            ..Default::default()
        }
    }

    #[test]
    fn ls_needs_libc_and_a_loader() {
        let ls = Object::read(Path::new("/bin/ls")).unwrap();
        assert!(
            ls.needed.iter().any(|n| n == "libc.so.6"),
            "{:?}",
            ls.needed
        );
        let interp = ls.interpreter.expect("a dynamic program names its loader");
        assert!(
            interp.is_absolute() && interp.to_string_lossy().contains("ld-"),
            "{interp:?}"
        );
    }

    #[test]
    fn closure_of_ls_holds_libc_and_the_loader() {
        let libs = Search::host().closure(Path::new("/bin/ls")).unwrap();
        let names: Vec<String> = libs
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into())
            .collect();
        assert!(names.iter().any(|n| n == "libc.so.6"), "{names:?}");
        let interp = Object::read(Path::new("/bin/ls"))
            .unwrap()
            .interpreter
            .unwrap();
        assert!(libs.contains(&interp));
        assert!(libs.iter().all(|p| p.is_absolute() && p.exists()));
    }

    #[test]
    fn libc_itself_needs_the_loader_by_soname() {
        let search = Search::host();
        let ls = Object::read(Path::new("/bin/ls")).unwrap();
        let libc = search.resolve("libc.so.6", &ls, &ls).unwrap();
        let libc = Object::read(&libc).unwrap();
        assert!(
            libc.needed.iter().any(|n| n.starts_with("ld-linux")),
            "{:?}",
            libc.needed
        );
    }

    #[test]
    fn a_file_that_is_not_elf_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("script");
        std::fs::write(&f, "#!/bin/sh\necho hi\n").unwrap();
        assert!(!is_elf(&f));
        let err = Object::read(&f).unwrap_err();
        assert!(format!("{err:#}").contains("not a valid ELF"), "{err:#}");
        assert!(Object::read(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn search_order_is_rpath_runpath_conf_defaults() {
        let search = Search {
            conf: vec!["/conf".into()],
        };
        let mut exe = obj("/opt/app/bin/app");
        exe.rpath = vec!["$ORIGIN/../lib".into()];
        let mut lib = obj("/opt/app/lib/libx.so");
        lib.rpath = vec!["/lib-rpath".into()];
        let dirs = search.dirs(&lib, &exe);
        let want: Vec<PathBuf> = [
            "/lib-rpath",
            "/opt/app/bin/../lib",
            "/conf",
            "/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu",
            "/lib64",
            "/usr/lib64",
            "/lib",
            "/usr/lib",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(dirs, want);
    }

    #[test]
    fn runpath_disables_rpath() {
        let search = Search::default();
        let mut o = obj("/x/bin/p");
        o.rpath = vec!["/old".into()];
        o.runpath = vec!["${ORIGIN}/lib".into(), "/$LIB/extra".into()];
        let dirs = search.dirs(&o, &o);
        assert_eq!(
            dirs[..2],
            [PathBuf::from("/x/bin/lib"), PathBuf::from("/lib64/extra")]
        );
        assert!(!dirs.contains(&PathBuf::from("/old")));
    }

    #[test]
    fn resolve_skips_a_library_of_the_wrong_class() {
        let dir = tempfile::tempdir().unwrap();
        let (wrong, right) = (dir.path().join("wrong"), dir.path().join("right"));
        std::fs::create_dir_all(&wrong).unwrap();
        std::fs::create_dir_all(&right).unwrap();
        // A 32-bit ELF header and a copy of a real 64-bit library.
        let mut head = std::fs::read("/bin/ls").unwrap()[..64].to_vec();
        head[4] = 1;
        std::fs::write(wrong.join("libc.so.6"), &head).unwrap();
        std::fs::write(wrong.join("libtext.so"), "not elf").unwrap();
        std::fs::copy("/bin/ls", right.join("libc.so.6")).unwrap();
        std::fs::copy("/bin/ls", right.join("libtext.so")).unwrap();
        let mut o = Object::read(Path::new("/bin/ls")).unwrap();
        o.runpath = vec![wrong.display().to_string(), right.display().to_string()];
        let search = Search::default();
        assert_eq!(
            search.resolve("libc.so.6", &o, &o),
            Some(right.join("libc.so.6"))
        );
        assert_eq!(
            search.resolve("libtext.so", &o, &o),
            Some(right.join("libtext.so"))
        );
        assert_eq!(search.resolve("libnowhere.so.9", &o, &o), None);
    }

    #[test]
    fn a_missing_library_names_who_needs_it() {
        // Rename libc in the dynamic string table of a copy of ls: its
        // DT_NEEDED entry now names a library no host has.
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("prog");
        let mut bytes = std::fs::read("/bin/ls").unwrap();
        let at = bytes.windows(10).position(|w| w == b"libc.so.6\0").unwrap();
        bytes[at + 3] = b'q';
        std::fs::write(&exe, bytes).unwrap();
        assert!(Object::read(&exe)
            .unwrap()
            .needed
            .contains(&"libq.so.6".to_string()));
        let err = Search::host().closure(&exe).unwrap_err().to_string();
        assert!(err.contains("prog needs libq.so.6"), "{err}");
    }

    #[test]
    fn ld_so_conf_follows_includes_in_sorted_order() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("conf.d")).unwrap();
        std::fs::write(
            d.join("ld.so.conf"),
            "# top\n/first\ninclude conf.d/*.conf\n/last # trailing\n",
        )
        .unwrap();
        std::fs::write(d.join("conf.d/b.conf"), "/b1:/b2\nhwcap 0 nosegneg\n").unwrap();
        std::fs::write(d.join("conf.d/a.conf"), "/a\n/first\n").unwrap();
        std::fs::write(d.join("conf.d/ignored.txt"), "/nope\n").unwrap();
        let dirs = ld_so_conf(&d.join("ld.so.conf"));
        let want: Vec<PathBuf> = ["/first", "/a", "/b1", "/b2", "/last"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(dirs, want);
    }

    #[test]
    fn ld_so_conf_that_includes_itself_ends() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ld.so.conf");
        std::fs::write(&f, format!("/x\ninclude {}\n", f.display())).unwrap();
        assert_eq!(ld_so_conf(&f), vec![PathBuf::from("/x")]);
        assert!(ld_so_conf(&dir.path().join("missing")).is_empty());
    }

    #[test]
    fn host_conf_lists_the_multiarch_dir() {
        // Debian's libc package ships /etc/ld.so.conf.d/x86_64-linux-gnu.conf.
        let ls = Object::read(Path::new("/bin/ls")).unwrap();
        let triplet = ls.multiarch().unwrap();
        let conf = Search::host().conf;
        assert!(conf.iter().any(|d| d.ends_with(triplet)), "{conf:?}");
    }
}
