//! A RUN step: the command runs in a container (through
//! [`crate::container::Runtime`], the one way wharf makes one) whose root
//! is an overlay of the image's layers so far, each a lowerdir straight
//! from the store. Whatever the command writes lands in the overlay's
//! upper dir, and that dir is the step's new layer. A command that fails
//! leaves nothing: the runtime deletes the container, and dropping the
//! container dir removes the upper dir.

use std::path::PathBuf;

use anyhow::bail;

use super::stage::State;
use crate::container::{ContainerDir, Runtime, SpecBuilder};
use crate::image::{digest, Store};
use crate::union::{Driver, Rootfs};

/// A finished RUN: its upper dir, alive as long as this is.
pub struct Done {
    _dir: ContainerDir,
    pub upper: PathBuf,
}

pub fn run(store: &Store, st: &State, argv: &[String], env: Vec<String>) -> anyhow::Result<Done> {
    let Some(image) = &st.image else {
        bail!("RUN needs a root filesystem: this stage is FROM scratch with no files yet");
    };
    let lowers: Vec<PathBuf> = digest::chain_ids(&image.diff_ids()?)
        .iter()
        .map(|c| store.layer_dir(c))
        .collect();
    if lowers.is_empty() {
        bail!("RUN needs a root filesystem: the image so far has no layers");
    }
    let dir = ContainerDir::create(None)?;
    let mut root = Rootfs::prepare(Driver::Overlay, &lowers, &dir.path)?;
    let mut spec = SpecBuilder::new(root.root(), argv.to_vec())
        .env(env)
        .build();
    if let Some(p) = spec.process_mut() {
        p.set_cwd(st.config.working_dir().clone().unwrap_or("/".into()).into());
        p.set_terminal(Some(false));
        if let Some(u) = st.config.user() {
            let (uid, gid) = numeric_user(u)?;
            p.user_mut().set_uid(uid);
            p.user_mut().set_gid(gid);
        }
    }
    let ran = Runtime::default_root().run(&dir.id, &dir.path, &spec, &mut root)?;
    if ran.exit_code() != 0 {
        bail!(
            "the command {:?} returned a non-zero code: {}",
            argv.join(" "),
            ran.exit_code()
        );
    }
    super::epoch::clamp(&root.changes())?;
    Ok(Done {
        upper: root.changes(),
        _dir: dir,
    })
}

/// `USER 1000` or `USER 1000:1000`: names would need the image's
/// /etc/passwd, read from the layers.
fn numeric_user(u: &str) -> anyhow::Result<(u32, u32)> {
    let (user, group) = u.split_once(':').unwrap_or((u, ""));
    let uid: u32 = user
        .parse()
        .map_err(|_| anyhow::anyhow!("USER {u}: only numeric uid[:gid] is supported for RUN"))?;
    let gid = if group.is_empty() {
        uid
    } else {
        group
            .parse()
            .map_err(|_| anyhow::anyhow!("USER {u}: only a numeric gid is supported for RUN"))?
    };
    Ok((uid, gid))
}
