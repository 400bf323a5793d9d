//! `wharf rootfs create DIR`: build a root filesystem from the host's own
//! programs (or its busybox), with no network and no image.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::flags::SourceFlag;
use super::lesson::Lesson;
use crate::rootfs::{create, CreateOptions, CreateReport};

#[derive(Debug, Args)]
pub struct RootfsArgs {
    #[command(subcommand)]
    pub command: RootfsCommand,
}

#[derive(Debug, Subcommand)]
pub enum RootfsCommand {
    /// Copy host programs, their libraries and loader into DIR, with /dev, /etc, /proc, /tmp.
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The directory to create (must not exist, or be empty).
    pub dir: PathBuf,

    /// Also copy this host program (a name found in the host's PATH, or an
    /// absolute path); repeat or separate with commas.
    #[arg(long = "with", value_name = "PROG", value_delimiter = ',')]
    pub with: Vec<String>,

    /// Where the programs come from: busybox if the host has it (auto), the
    /// host's own programs, or busybox only.
    #[arg(long, value_enum, default_value_t = SourceFlag::Auto)]
    pub source: SourceFlag,

    /// Replace DIR if it is a rootfs made by wharf.
    #[arg(long)]
    pub force: bool,

    /// Also store the result as an image NAME[:TAG] (one layer, without
    /// the /dev nodes, which a container gets when it starts).
    #[arg(long, value_name = "NAME")]
    pub image: Option<String>,

    #[command(flatten)]
    pub lesson: Lesson,
}

pub fn run(args: RootfsArgs) -> anyhow::Result<i32> {
    match args.command {
        RootfsCommand::Create(a) => {
            a.lesson.start();
            let opts = CreateOptions {
                with: a.with,
                source: a.source.into(),
                force: a.force,
            };
            // A bad name is refused before anything is built.
            let image = a
                .image
                .as_deref()
                .map(crate::image::Reference::parse)
                .transpose()?;
            let report = create(&a.dir, &opts)?;
            print!("{}", summary(&report));
            if let Some(name) = image {
                let store = crate::image::Store::open(
                    &crate::paths::state_root(),
                    crate::image::Lock::Exclusive,
                )?;
                let opts = crate::image::import::ImportOptions {
                    changes: vec![r#"CMD ["/bin/sh"]"#.into()],
                    message: Some("wharf rootfs create".into()),
                };
                let done = crate::image::import::import_dir(
                    &store,
                    &a.dir,
                    Some(&name),
                    &opts,
                    &crate::image::Quiet,
                )?;
                println!("  image:     {} ({})", name.familiar(), done.id);
            }
            for name in &report.missing {
                eprintln!(
                    "wharf: warning: this host has no `{name}`, so the rootfs has none either"
                );
            }
            Ok(0)
        }
    }
}

/// Three lines: what was built, from what, and how big it is.
fn summary(r: &CreateReport) -> String {
    format!(
        "rootfs {} created from {}\n  programs:  {} ({})\n  libraries: {}\n  size:      {}\n",
        r.dir.display(),
        r.source,
        r.programs.len(),
        r.programs.join(" "),
        r.libraries.len(),
        human(r.bytes)
    )
}

/// Bytes as the largest whole binary unit: `5.1 MiB`.
fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_du_h() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(5 * 1024 * 1024 + 100 * 1024), "5.1 MiB");
    }

    #[test]
    fn summary_names_counts_and_source() {
        use crate::rootfs::Source;
        let r = CreateReport {
            dir: "/r".into(),
            source: Source::Busybox,
            programs: vec!["sh".into(), "ls".into()],
            missing: vec![],
            libraries: vec![],
            bytes: 2048,
        };
        assert_eq!(
            summary(&r),
            "rootfs /r created from busybox\n  programs:  2 (sh ls)\n  libraries: 0\n  size:      2.0 KiB\n"
        );
    }
}
