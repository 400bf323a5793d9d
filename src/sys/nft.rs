//! nftables changes: firewall and NAT rules live in the kernel as tables
//! of chains of rules, changed through NETLINK_NETFILTER messages sent in
//! one batch that the kernel applies all or nothing.
//!
//! The nftables crate writes the batch as libnftables JSON and hands it to
//! `nft -j -f -`, which turns it into those netlink messages. The journal
//! shows the batch as one sendmsg step, each message written the way `nft`
//! prints it.

use nftables::helper::{self, NftablesError};
use nftables::schema::Nftables;
use nix::errno::Errno;

use super::{Call, SysError};

/// Apply `batch` (shown to the learner as `shown`, one line per message).
pub fn nft_apply(batch: &Nftables, shown: Vec<String>, why: &str) -> Result<(), SysError> {
    let mut args = vec!["NETLINK_NETFILTER".to_string()];
    args.extend(shown);
    args.push("NFNL_MSG_BATCH_BEGIN..END".into());
    let call = Call::new("sendmsg", args, why);
    match helper::apply_ruleset(batch) {
        Ok(()) => call.run(|| Ok(())),
        Err(e) => {
            let (errno, detail) = match &e {
                NftablesError::NftExecution { inner, .. } => (
                    Errno::from_raw(inner.raw_os_error().unwrap_or(libc::ENOENT)),
                    "the nft program is missing: install the nftables package".to_string(),
                ),
                NftablesError::NftFailed { stderr, .. } => (
                    Errno::EINVAL,
                    format!(
                        "nft refused the batch: {}",
                        stderr.trim().replace('\n', " ")
                    ),
                ),
                other => (Errno::EIO, other.to_string()),
            };
            let mut err = call.fail(errno);
            err.hint = Some(detail);
            Err(err)
        }
    }
}
