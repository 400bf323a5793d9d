//! rtnetlink requests: how a program asks the kernel to change network
//! devices (what `ip link` does underneath). Each request is one journal
//! step, shown the way strace decodes the sendto(2) on a NETLINK_ROUTE socket.

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_REQUEST,
};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::errno::Errno;

use super::decode::quote;
use super::{Call, SysError};

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Send one request to the kernel and wait for its acknowledgement.
fn request(payload: RouteNetlinkMessage) -> nix::Result<()> {
    let mut msg = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(payload));
    msg.header.flags = NLM_F_REQUEST | NLM_F_ACK;
    msg.header.sequence_number = 1;
    msg.finalize();
    let mut buf = vec![0; msg.header.length as usize];
    msg.serialize(&mut buf);
    let mut sock = Socket::new(NETLINK_ROUTE).map_err(io_errno)?;
    sock.bind_auto().map_err(io_errno)?;
    sock.connect(&SocketAddr::new(0, 0)).map_err(io_errno)?;
    sock.send(&buf, 0).map_err(io_errno)?;
    let mut reply = vec![0u8; 8192];
    let n = sock.recv(&mut &mut reply[..], 0).map_err(io_errno)?;
    let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&reply[..n])
        .map_err(|_| Errno::EPROTO)?;
    match reply.payload {
        NetlinkPayload::Error(e) => match e.code {
            None => Ok(()),
            Some(code) => Err(Errno::from_raw(-code.get())),
        },
        _ => Ok(()),
    }
}

/// `RTM_DELLINK` for the device `name`: removes it (both ends of a veth
/// pair go together), as `ip link delete NAME` does.
pub fn link_delete(name: &str, why: &str) -> Result<(), SysError> {
    Call::new(
        "sendto",
        vec![
            "NETLINK_ROUTE".into(),
            "RTM_DELLINK".into(),
            format!("IFLA_IFNAME={}", quote(name)),
            "NLM_F_REQUEST|NLM_F_ACK".into(),
        ],
        why,
    )
    .kernel(format!("network device {name} is gone"))
    .run(|| {
        let mut link = LinkMessage::default();
        link.attributes
            .push(LinkAttribute::IfName(name.to_string()));
        request(RouteNetlinkMessage::DelLink(link))
    })
}
