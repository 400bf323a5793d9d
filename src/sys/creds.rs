//! Credentials: which user and groups a process acts as.

use nix::unistd::{Gid, Uid};

use super::{Call, SysError};

/// `setgroups(0, [])`: drop the supplementary groups inherited from outside.
pub fn setgroups_empty(why: &str) -> Result<(), SysError> {
    Call::new("setgroups", vec!["0".into(), "[]".into()], why).run(|| nix::unistd::setgroups(&[]))
}

/// `setgroups(n, [gids])`: the supplementary groups the spec asks for.
pub fn setgroups(gids: &[u32], why: &str) -> Result<(), SysError> {
    let shown: Vec<String> = gids.iter().map(u32::to_string).collect();
    let list: Vec<Gid> = gids.iter().map(|g| Gid::from_raw(*g)).collect();
    Call::new(
        "setgroups",
        vec![gids.len().to_string(), format!("[{}]", shown.join(", "))],
        why,
    )
    .run(|| nix::unistd::setgroups(&list))
}

/// `setresgid(gid, gid, gid)`.
pub fn setresgid(gid: u32, why: &str) -> Result<(), SysError> {
    let g = Gid::from_raw(gid);
    Call::new("setresgid", vec![gid.to_string(); 3], why)
        .kernel(format!("real, effective and saved gid are now {gid}"))
        .run(|| nix::unistd::setresgid(g, g, g))
}

/// `setresuid(uid, uid, uid)`.
pub fn setresuid(uid: u32, why: &str) -> Result<(), SysError> {
    let u = Uid::from_raw(uid);
    Call::new("setresuid", vec![uid.to_string(); 3], why)
        .kernel(format!("real, effective and saved uid are now {uid}"))
        .run(|| nix::unistd::setresuid(u, u, u))
}
