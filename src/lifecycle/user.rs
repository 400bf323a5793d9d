//! `-u/--user` and the image's User: `name`, `uid`, `name:group`,
//! `uid:gid`, resolved the way Docker resolves them — in the container's
//! own /etc/passwd and /etc/group (read inside its root, never the
//! host's), with the user's supplementary groups from /etc/group.

use std::path::Path;

use anyhow::bail;

use super::inroot;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// From /etc/passwd, for $HOME.
    pub home: Option<String>,
}

/// Resolve `spec` in the root at `root`. Empty is root.
pub fn resolve(root: &Path, spec: &str) -> anyhow::Result<Ids> {
    let passwd = inroot::read_to_string(root, "/etc/passwd").unwrap_or_default();
    let group = inroot::read_to_string(root, "/etc/group").unwrap_or_default();
    resolve_in(&passwd, &group, spec)
}

fn resolve_in(passwd: &str, group: &str, spec: &str) -> anyhow::Result<Ids> {
    if spec.is_empty() {
        return resolve_in(passwd, group, "0");
    }
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 7 && (f[0] == user || (user.parse::<u32>().is_ok() && f[2] == user)));
    let (uid, mut gid, name, home) = match (&entry, user.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse()?,
            f[3].parse()?,
            Some(f[0]),
            Some(f[5].to_string()),
        ),
        (None, Ok(uid)) => (uid, 0, None, None),
        (None, Err(_)) => {
            bail!("unable to find user {user}: no matching entries in the container's /etc/passwd")
        }
    };
    if let Some(g) = grp {
        gid = match (find_group(group, g), g.parse::<u32>()) {
            (Some(f), _) => f[2].parse()?,
            (None, Ok(n)) => n,
            (None, Err(_)) => {
                bail!("unable to find group {g}: no matching entries in the container's /etc/group")
            }
        };
    }
    let groups = match (name, grp) {
        (Some(name), None) => group
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.len() >= 4 && f[3].split(',').any(|m| m == name))
            .filter_map(|f| f[2].parse().ok())
            .filter(|g| *g != gid)
            .collect(),
        _ => Vec::new(),
    };
    Ok(Ids {
        uid,
        gid,
        groups,
        home,
    })
}

fn find_group<'a>(group: &'a str, g: &str) -> Option<Vec<&'a str>> {
    group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && (f[0] == g || f[2] == g))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:app\nstaff:x:50:\napp:x:1000:\n";

    #[test]
    fn names_and_numbers_resolve_in_the_images_files() {
        let app = resolve_in(PASSWD, GROUP, "app").unwrap();
        assert_eq!(
            (app.uid, app.gid, app.groups.clone()),
            (1000, 1000, vec![10])
        );
        assert_eq!(app.home.as_deref(), Some("/home/app"));
        assert_eq!(resolve_in(PASSWD, GROUP, "app:staff").unwrap().gid, 50);
        assert_eq!(resolve_in(PASSWD, GROUP, "4242:4343").unwrap().uid, 4242);
        assert_eq!(resolve_in(PASSWD, GROUP, "").unwrap().uid, 0);
        assert!(resolve_in(PASSWD, GROUP, "ghost").is_err());
        assert!(resolve_in(PASSWD, GROUP, "app:ghosts").is_err());
    }
}
