//! Chapter 09: the container's network, judged from the kernel: links,
//! addresses and routes read back over rtnetlink (src/probe), namespace
//! inodes, the nftables table, and traffic that must (or must not) pass.
//!
//! Every test runs the chapter's "host" side inside a network namespace
//! the test made itself ([`TestNet`]): the bridge, the NAT rules and every
//! packet stay there, off the machine's own network, and the namespace —
//! with whatever a failing test left in it — dies with the test's handle.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{redact, stderr, stdout, Reaped, TestRoot};
use nix::sched::CloneFlags;
use wharf::probe::net::{self as pnet, NetView};

/// A network namespace of the test's own, with lo up: the "host" the
/// chapter runs on. It lives as long as this handle (and whatever runs in it).
struct TestNet {
    fd: OwnedFd,
}

impl TestNet {
    fn new() -> TestNet {
        let fd = std::thread::spawn(|| {
            nix::sched::unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
            OwnedFd::from(std::fs::File::open("/proc/thread-self/ns/net").expect("open netns"))
        })
        .join()
        .unwrap();
        let net = TestNet { fd };
        let out = net
            .command("ip")
            .args(["link", "set", "lo", "up"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        net
    }

    fn path(&self) -> PathBuf {
        PathBuf::from(format!(
            "/proc/{}/fd/{}",
            std::process::id(),
            self.fd.as_raw_fd()
        ))
    }

    /// A command that runs in this namespace (setns between fork and exec).
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        self.enter(&mut c);
        c
    }

    fn enter(&self, c: &mut Command) {
        let raw = self.fd.as_raw_fd();
        // SAFETY: setns is async-signal-safe; the fd is open in the child.
        unsafe {
            c.pre_exec(move || {
                let fd = std::os::fd::BorrowedFd::borrow_raw(raw);
                nix::sched::setns(fd, CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
            });
        }
    }

    /// The chapter, with the test's state root, in this namespace.
    fn ch09(&self, t: &TestRoot, args: &[&str]) -> Command {
        let mut c = t.cmd("ch09-network");
        c.args(args);
        self.enter(&mut c);
        c
    }

    fn view(&self) -> NetView {
        pnet::within(&self.path(), pnet::here).expect("netns view")
    }

    fn tables(&self) -> Vec<String> {
        pnet::within(&self.path(), pnet::nft_tables).expect("nft tables")
    }

    fn rules(&self, table: &str) -> String {
        pnet::within(&self.path(), || pnet::nft_rules(table)).expect("nft rules")
    }

    /// Everything but lo: what the chapter made here.
    fn leftovers(&self) -> (Vec<String>, Vec<String>) {
        let links = self
            .view()
            .links
            .into_iter()
            .map(|l| l.name)
            .filter(|n| n != "lo");
        (links.collect(), self.tables())
    }

    /// One TCP exchange with `addr` from inside this namespace.
    fn tcp(&self, addr: (Ipv4Addr, u16), msg: &str) -> std::io::Result<String> {
        pnet::within(&self.path(), || {
            let start = Instant::now();
            loop {
                match tcp_once(addr, msg) {
                    Err(_) if start.elapsed() < Duration::from_secs(5) => {
                        std::thread::sleep(Duration::from_millis(100))
                    }
                    other => return other,
                }
            }
        })
    }
}

fn tcp_once(addr: (Ipv4Addr, u16), msg: &str) -> std::io::Result<String> {
    let mut c = TcpStream::connect_timeout(&addr.into(), Duration::from_secs(1))?;
    c.set_read_timeout(Some(Duration::from_secs(2)))?;
    writeln!(c, "{msg}")?;
    let mut line = String::new();
    BufReader::new(&c).read_line(&mut line)?;
    Ok(line.trim_end().to_string())
}

/// The echo program, at the same path inside the rootfs as on the host.
fn echo() -> String {
    common::bin("wharf-echo").display().to_string()
}

/// The test's rootfs: the built-in one, plus our echo program.
fn rootfs(t: &TestRoot) -> PathBuf {
    let dir = t.path().join("rootfs");
    if !dir.join("bin").exists() {
        let out = t.run(
            "wharf",
            &["rootfs", "create", "--with", &echo(), dir.to_str().unwrap()],
        );
        assert!(out.status.success(), "rootfs create: {}", stderr(&out));
    }
    dir
}

fn run(net: &TestNet, t: &TestRoot, args: &[&str]) -> Output {
    rootfs(t);
    net.ch09(t, args).output().expect("spawn ch09")
}

/// A container left running (its command: `cmd`), and the host pid of
/// the command once it has exec'd.
fn start(net: &TestNet, t: &TestRoot, flags: &[&str], cmd: &[&str]) -> (Reaped, u32) {
    let comm = Path::new(cmd[0]).file_name().unwrap().to_string_lossy();
    start_as(net, t, flags, cmd, &comm)
}

/// As [`start`], for a command that execs `comm` in the end.
fn start_as(
    net: &TestNet,
    t: &TestRoot,
    flags: &[&str],
    cmd: &[&str],
    comm: &str,
) -> (Reaped, u32) {
    rootfs(t);
    let child = net
        .ch09(t, &[flags, &["--"], cmd].concat())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ch09");
    let parent = child.id();
    let comm: String = comm.chars().take(15).collect();
    let guard = Reaped(child);
    (guard, common::wait_for_child(parent, &comm))
}

/// Stop a started container the way it ends by itself: its command exits.
/// The chapter then tears its network down; wait for that.
fn stop(mut c: Reaped, pid: u32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::SIGKILL,
    );
    let status = c.0.wait().expect("wait ch09");
    assert!(status.code().is_some(), "ch09 itself died: {status:?}");
}

fn leases(t: &TestRoot, network: &str) -> Vec<serde_json::Value> {
    std::fs::read(t.path().join("net").join(network).join("leases.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or_default()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}{}",
        out.status,
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

const GW: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 1);

#[test]
fn the_container_gets_eth0_an_address_a_route_and_a_veth_on_the_bridge() {
    let (t, net) = (TestRoot::new(), TestNet::new());
    let (c, pid) = start(&net, &t, &["--hostname", "box"], &["/bin/sleep", "30"]);

    // The host side: the bridge with the gateway address, and the host end
    // of the veth as its port, whose peer lives in another namespace.
    let host = net.view();
    let br = host.link("wharf0").expect("bridge wharf0");
    assert_eq!(br.kind, "bridge");
    assert!(br.up);
    assert_eq!(host.addrs_of("wharf0"), vec![(GW, 16)]);
    let veth = host
        .links
        .iter()
        .find(|l| l.kind == "veth")
        .expect("host end of the veth");
    assert!(veth.name.starts_with("wf") && veth.up, "{veth:?}");
    assert_eq!(veth.master, Some(br.index));
    assert!(
        veth.peer_netns.is_some(),
        "peer not in another netns: {veth:?}"
    );

    // The container side: lo up, eth0 (the peer) with its address and route.
    let ctr = pnet::of_pid(pid as i32).unwrap();
    assert_ne!(
        pnet::netns_inode(pid as i32).unwrap(),
        pnet::netns_inode(std::process::id() as i32).unwrap()
    );
    assert!(ctr.link("lo").unwrap().up);
    let eth0 = ctr.link("eth0").expect("eth0 inside");
    assert_eq!(eth0.kind, "veth");
    assert!(eth0.up);
    assert_eq!(veth.peer, Some(eth0.index), "the host end's peer is eth0");
    assert_eq!(eth0.peer, Some(veth.index), "eth0's peer is the host end");
    assert_eq!(
        ctr.addrs_of("eth0"),
        vec![(Ipv4Addr::new(10, 88, 0, 2), 16)]
    );
    assert_eq!(ctr.default_gateway(), Some(GW));
    assert_eq!(ctr.links.len(), 2, "only lo and eth0: {:?}", ctr.links);

    // The lease, /etc/hosts inside, and the masquerade of the subnet.
    let l = leases(&t, "bridge");
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["ip"], "10.88.0.2");
    let hosts = wharf::probe::host::read_in_root(pid as i32, Path::new("/etc/hosts")).unwrap();
    assert!(hosts.contains("10.88.0.2\tbox\n"), "{hosts}");
    let tables = net.tables();
    assert_eq!(tables.len(), 1, "{tables:?}");
    let rules = net.rules(&tables[0]);
    assert!(
        rules.contains("ip saddr 10.88.0.0/16 oifname != \"wharf0\""),
        "{rules}"
    );
    assert!(rules.contains("masquerade"), "{rules}");

    stop(c, pid);
    assert_eq!(net.leftovers(), (vec![], vec![]));
    assert!(!t.path().join("net/bridge").exists());
}

#[test]
fn two_containers_on_one_bridge_talk_tcp_and_udp_by_name() {
    let (t, net) = (TestRoot::new(), TestNet::new());
    let e = echo();
    let (tcp, tcp_pid) = start(
        &net,
        &t,
        &["--hostname", "tcpsrv"],
        &[&e, "serve", "tcp", "5000"],
    );
    let (udp, udp_pid) = start(
        &net,
        &t,
        &["--hostname", "udpsrv"],
        &[&e, "serve", "udp", "5001"],
    );
    // The client finds both by name, in the /etc/hosts its lease wrote.
    let script = format!("{e} send tcp tcpsrv 5000 hi-tcp && {e} send udp udpsrv 5001 hi-udp");
    let out = ok(&run(&net, &t, &["--", "/bin/sh", "-c", &script]));
    assert_eq!(out, "echo hi-tcp\necho hi-udp\n");
    let addrs: Vec<String> = leases(&t, "bridge")
        .iter()
        .map(|l| l["ip"].to_string())
        .collect();
    assert_eq!(
        addrs,
        ["\"10.88.0.2\"", "\"10.88.0.3\""],
        "the client's lease is gone"
    );
    stop(udp, udp_pid);
    stop(tcp, tcp_pid);
    assert_eq!(net.leftovers(), (vec![], vec![]));
}

#[test]
fn a_published_port_answers_on_loopback_and_on_the_bridge_address() {
    let (t, net) = (TestRoot::new(), TestNet::new());
    let e = echo();
    let (c, pid) = start_as(
        &net,
        &t,
        &[
            "-p",
            "8080:80",
            "-p",
            "127.0.0.1:8081:81",
            "-p",
            "8082:82/udp",
        ],
        &[
            "/bin/sh",
            "-c",
            &format!("{e} serve tcp 81 & {e} serve udp 82 & exec {e} serve tcp 80"),
        ],
        "wharf-echo",
    );
    // From the host: 127.0.0.1 (the output chain's DNAT, route_localnet and
    // the masquerade of the loopback source) and the bridge address.
    assert_eq!(
        net.tcp((Ipv4Addr::LOCALHOST, 8080), "lo").unwrap(),
        "echo lo"
    );
    assert_eq!(net.tcp((GW, 8080), "br").unwrap(), "echo br");
    let udp = net
        .command(echo())
        .args(["send", "udp", "127.0.0.1", "8082", "dgram"])
        .output()
        .unwrap();
    assert_eq!(ok(&udp), "echo dgram\n", "UDP to a published port");
    assert_eq!(
        net.tcp((Ipv4Addr::LOCALHOST, 8081), "only-lo").unwrap(),
        "echo only-lo"
    );
    // Bound to 127.0.0.1 only: the bridge address does not answer on 8081.
    assert!(pnet::within(&net.path(), || tcp_once((GW, 8081), "no")).is_err());
    // The DNAT counted them (a container coming or going rewrites the
    // table, and its counters start again).
    let rules = net.rules(&net.tables()[0]);
    let counted = rules
        .lines()
        .filter(|l| l.contains("dnat to 10.88.0.2:80"))
        .any(|l| !l.contains("packets 0 "));
    assert!(rules.contains("dnat to 10.88.0.2:80"), "{rules}");
    assert!(counted, "no DNAT rule counted a packet:\n{rules}");
    // From another container, through the bridge address (the hairpin).
    let out = ok(&run(
        &net,
        &t,
        &["--", &e, "send", "tcp", "10.88.0.1", "8080", "hairpin"],
    ));
    assert_eq!(out, "echo hairpin\n");
    stop(c, pid);
    assert_eq!(net.leftovers(), (vec![], vec![]));
}

#[test]
fn network_none_has_only_lo_and_cannot_reach_the_bridge() {
    let (t, net) = (TestRoot::new(), TestNet::new());
    let (c, pid) = start(&net, &t, &[], &["/bin/sleep", "30"]);
    let e = echo();
    let out = run(
        &net,
        &t,
        &[
            "--network",
            "none",
            "--",
            "/bin/sh",
            "-c",
            &format!("ip -o link; {e} send tcp 10.88.0.1 22 x"),
        ],
    );
    assert!(
        !out.status.success(),
        "reached the bridge: {}",
        stdout(&out)
    );
    let links = stdout(&out);
    assert!(links.contains("lo: <LOOPBACK,UP"), "{links}");
    assert_eq!(
        links.lines().filter(|l| l.contains(": <")).count(),
        1,
        "{links}"
    );
    assert!(stderr(&out).contains("wharf-echo:"), "{}", stderr(&out));
    stop(c, pid);
}

#[test]
fn container_mode_shares_the_namespace_and_its_eth0() {
    let (t, net) = (TestRoot::new(), TestNet::new());
    let (a, a_pid) = start(&net, &t, &["--id", "first"], &["/bin/sleep", "30"]);
    let (b, b_pid) = start(
        &net,
        &t,
        &["--network", "container:first"],
        &["/bin/sleep", "31"],
    );
    assert_eq!(
        pnet::netns_inode(a_pid as i32).unwrap(),
        pnet::netns_inode(b_pid as i32).unwrap()
    );
    let seen = pnet::of_pid(b_pid as i32).unwrap();
    assert_eq!(
        seen.addrs_of("eth0"),
        vec![(Ipv4Addr::new(10, 88, 0, 2), 16)]
    );
    assert_eq!(leases(&t, "bridge").len(), 1, "container: takes no lease");
    // By pid too.
    let out = ok(&run(
        &net,
        &t,
        &[
            "--network",
            &format!("container:{a_pid}"),
            "--",
            "/bin/sh",
            "-c",
            "ip -o addr show eth0",
        ],
    ));
    assert!(out.contains("10.88.0.2/16"), "{out}");
    stop(b, b_pid);
    stop(a, a_pid);
    assert_eq!(net.leftovers(), (vec![], vec![]));
}

#[test]
fn twenty_containers_started_and_removed_leave_nothing() {
    let (t, net) = (TestRoot::new(), TestNet::new());
    rootfs(&t);
    let started = Instant::now();
    for i in 0..20 {
        let port = format!("{}:80", 9000 + i);
        ok(&run(&net, &t, &["-p", &port, "--", "/bin/true"]));
        let (links, tables) = net.leftovers();
        assert!(
            links.is_empty() && tables.is_empty(),
            "after run {i}: {links:?} {tables:?}"
        );
        assert!(
            net.view()
                .routes
                .iter()
                .all(|r| r.oif.is_none_or(|o| o == 1)),
            "a route is left"
        );
        assert!(!t.path().join("net/bridge").exists(), "a lease is left");
    }
    eprintln!(
        "20 runs with a bridge network: {:?} each",
        started.elapsed() / 20
    );
}

#[test]
fn a_run_killed_mid_way_is_cleaned_by_reset() {
    let (t, net) = (TestRoot::new(), TestNet::new());
    let (mut c, pid) = start(&net, &t, &["-p", "8080:80"], &["/bin/sleep", "30"]);
    // SIGKILL the chapter: nothing of its own cleanup runs. Its container
    // dies with it (PDEATHSIG), and the veth with the container's netns.
    c.0.kill().unwrap();
    c.0.wait().unwrap();
    let _ = pid;
    let (links, tables) = net.leftovers();
    assert!(links.contains(&"wharf0".to_string()), "{links:?}");
    assert_eq!(tables.len(), 1);
    assert_eq!(leases(&t, "bridge").len(), 1);
    let mut reset = t.cmd("wharf");
    reset.arg("reset");
    net.enter(&mut reset);
    let out = reset.output().unwrap();
    let said = ok(&out);
    assert!(said.contains("removed bridge wharf0"), "{said}");
    assert!(said.contains("removed nftables table ip wharf-"), "{said}");
    assert_eq!(net.leftovers(), (vec![], vec![]));
    assert!(!t.path().join("net").exists());
}

#[test]
fn bad_input_gives_one_line_and_leaves_nothing() {
    let (t, net) = (TestRoot::new(), TestNet::new());
    let (c, pid) = start(&net, &t, &["-p", "8080:80"], &["/bin/sleep", "30"]);
    let before = (net.leftovers(), leases(&t, "bridge"));
    let rules = net.rules(&net.tables()[0]);
    for (flags, says) in [
        (vec!["-p", "8080:81"], "already published"),
        (vec!["-p", "70000:80"], "out of range"),
        (vec!["-p", "8081:80/sctp"], "unknown protocol"),
        (
            vec!["--network", "other", "--subnet", "10.0.0.0/8"],
            "overlaps 10.88.0.0/16",
        ),
        (
            vec!["--subnet", "10.89.0.0/16"],
            "already has subnet 10.88.0.0/16",
        ),
        (vec!["--network", "nosuch"], "unknown network nosuch"),
        (
            vec!["--network", "container:nobody"],
            "names no running container",
        ),
        (
            vec!["--network", "container:999999999"],
            "names no running container",
        ),
        (
            vec!["--network", "none", "-p", "80:80"],
            "cannot be used with --network none",
        ),
    ] {
        let out = run(&net, &t, &[&flags[..], &["--", "/bin/true"]].concat());
        let err = stderr(&out);
        assert!(!out.status.success(), "{flags:?} was accepted");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{flags:?}: not one line:\n{err}");
        assert!(
            lines[0].starts_with("ch09-network: error: ") && lines[0].contains(says),
            "{flags:?}: {err}"
        );
        assert_eq!(
            (net.leftovers(), leases(&t, "bridge")),
            before,
            "{flags:?} left something"
        );
        assert_eq!(
            net.rules(&net.tables()[0]),
            rules,
            "{flags:?} changed the rules"
        );
        assert!(!t.path().join("net/other").exists());
    }
    let containers = std::fs::read_dir(t.path().join("containers"))
        .unwrap()
        .count();
    assert_eq!(containers, 1, "only the running container's directory");
    stop(c, pid);
    assert_eq!(net.leftovers(), (vec![], vec![]));
}

#[test]
fn show_net_lists_both_sides() {
    let (t, net) = (TestRoot::new(), TestNet::new());
    let out = run(
        &net,
        &t,
        &["--show", "net", "--show-diff", "--", "/bin/true"],
    );
    let text = stderr(&out);
    ok(&out);
    for want in [
        "host ",
        "wharf0",
        "ctr ",
        "eth0",
        "10.88.0.2/16",
        "via 10.88.0.1",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn explain_transcript() {
    let (t, net) = (TestRoot::new(), TestNet::new());
    let out = run(
        &net,
        &t,
        &[
            "--explain",
            "--id",
            "snap",
            "-p",
            "8080:80",
            "--",
            "/bin/true",
        ],
    );
    ok(&out);
    let text = redact(&stderr(&out), t.path());
    let text = regex::Regex::new(r"wf[0-9a-f]{12}([hc])\b")
        .unwrap()
        .replace_all(&text, "wf[TAG][ID]$1")
        .into_owned();
    insta::assert_snapshot!("ch09_explain", text);
}

/// A second namespace of the test's own, "outside" the host, joined to it
/// by a veth pair: 192.0.2.1/24 on the host's end, 192.0.2.2/24 outside.
fn outside_of(net: &TestNet) -> TestNet {
    use wharf::sys;
    let outer = TestNet::new();
    let why = "test: a network outside the test's host";
    let path = outer.path().display().to_string();
    pnet::within(&net.path(), || {
        sys::link_add_veth("wto0", "wto1", why).map_err(std::io::Error::other)?;
        let (a, b) = (
            pnet::index_of("wto0").unwrap(),
            pnet::index_of("wto1").unwrap(),
        );
        sys::link_set_netns(b, "wto1", &outer.fd, &path, why).map_err(std::io::Error::other)?;
        sys::addr_add(a, "wto0", Ipv4Addr::new(192, 0, 2, 1), 24, why)
            .map_err(std::io::Error::other)?;
        sys::link_set_up(a, "wto0", why).map_err(std::io::Error::other)
    })
    .unwrap();
    pnet::within(&outer.path(), || {
        let b = pnet::index_of("wto1").unwrap();
        sys::addr_add(b, "wto1", Ipv4Addr::new(192, 0, 2, 2), 24, why)
            .map_err(std::io::Error::other)?;
        sys::link_set_up(b, "wto1", why).map_err(std::io::Error::other)
    })
    .unwrap();
    outer
}

#[test]
fn the_way_out_is_masqueraded_to_the_host_s_address() {
    let (t, net) = (TestRoot::new(), TestNet::new());
    let outer = outside_of(&net);
    // A server outside that tells whom it saw: the masqueraded source.
    let listener = pnet::within(&outer.path(), || {
        std::net::TcpListener::bind((Ipv4Addr::new(192, 0, 2, 2), 7000))
    })
    .unwrap();
    listener.set_nonblocking(true).unwrap();
    let server = std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            match listener.accept() {
                Ok((mut conn, peer)) => {
                    conn.set_nonblocking(false).unwrap();
                    let mut line = String::new();
                    BufReader::new(&conn).read_line(&mut line).unwrap();
                    writeln!(conn, "echo {}", line.trim_end()).unwrap();
                    return Some(peer.ip());
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        None
    });
    let e = echo();
    let script = format!("{e} send tcp 192.0.2.2 7000 out > /dev/null && exec sleep 30");
    let (c, pid) = start_as(&net, &t, &[], &["/bin/sh", "-c", &script], "sleep");
    let seen = server.join().unwrap();
    assert_eq!(
        seen,
        Some(Ipv4Addr::new(192, 0, 2, 1).into()),
        "the source was not masqueraded"
    );
    let rules = net.rules(&net.tables()[0]);
    let masq = rules
        .lines()
        .find(|l| l.contains("oifname != \"wharf0\""))
        .unwrap_or_default();
    assert!(
        !masq.contains("packets 0 "),
        "the masquerade counted nothing:\n{rules}"
    );
    stop(c, pid);
    assert_eq!(net.leftovers(), (vec!["wto0".to_string()], vec![]));
}

#[test]
fn containers_on_a_user_network_find_each_other_by_name() {
    let (t, net) = (TestRoot::new(), TestNet::new());
    let wharf = |args: &[&str]| {
        let mut c = t.cmd("wharf");
        c.arg("network").args(args);
        net.enter(&mut c);
        c.output().unwrap()
    };
    ok(&wharf(&["create", "app", "--subnet", "10.90.0.0/24"]));
    let again = wharf(&["create", "other", "--subnet", "10.90.0.128/25"]);
    assert!(
        stderr(&again).contains("overlaps 10.90.0.0/24"),
        "{}",
        stderr(&again)
    );
    let e = echo();
    let (srv, srv_pid) = start(
        &net,
        &t,
        &["--network", "app", "--hostname", "web"],
        &[&e, "serve", "tcp", "5000"],
    );
    let out = ok(&run(
        &net,
        &t,
        &[
            "--network",
            "app",
            "--",
            &e,
            "send",
            "tcp",
            "web",
            "5000",
            "hi",
        ],
    ));
    assert_eq!(out, "echo hi\n");
    let ls = ok(&wharf(&["ls"]));
    assert!(
        ls.contains("app") && ls.contains("10.90.0.0/24") && ls.contains("10.90.0.2"),
        "{ls}"
    );
    let busy = wharf(&["rm", "app"]);
    assert!(
        !busy.status.success() && stderr(&busy).contains("in use"),
        "{}",
        stderr(&busy)
    );
    stop(srv, srv_pid);
    // The record stays; the bridge and table went with the last container.
    assert_eq!(net.leftovers(), (vec![], vec![]));
    assert!(ok(&wharf(&["ls"])).contains("app"));
    ok(&wharf(&["rm", "app"]));
    assert!(!t.path().join("net/app").exists());
}

#[test]
fn network_host_shares_the_host_s_namespace_and_resolv_conf() {
    let (t, net) = (TestRoot::new(), TestNet::new());
    let (c, pid) = start(&net, &t, &["--network", "host"], &["/bin/sleep", "30"]);
    let host_ns = std::fs::metadata(net.path()).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    assert_eq!(pnet::netns_inode(pid as i32).ok(), host_ns.ok());
    let resolv =
        wharf::probe::host::read_in_root(pid as i32, Path::new("/etc/resolv.conf")).unwrap();
    assert_eq!(
        resolv,
        std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default()
    );
    assert_eq!(
        net.leftovers(),
        (vec![], vec![]),
        "host mode made a device or a table"
    );
    assert!(leases(&t, "bridge").is_empty());
    stop(c, pid);
}

#[test]
fn a_setup_that_fails_half_way_leaves_nothing() {
    let (t, net) = (TestRoot::new(), TestNet::new());
    // The host end's name is taken already: RTM_NEWLINK for the veth fails
    // after the lease, the bridge and the container's namespaces exist.
    // SAFETY: nextest runs each test in a process of its own.
    unsafe { std::env::set_var("WHARF_ROOT", t.path()) };
    let (host_end, _) = wharf::net::veth::names("halfway");
    let out = net
        .command("ip")
        .args(["link", "add", &host_end, "type", "bridge"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&net, &t, &["--id", "halfway", "--", "/bin/true"]);
    let err = stderr(&out);
    assert!(!out.status.success());
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("ch09-network: error: ") && last.contains("EEXIST"),
        "{err}"
    );
    // The device in the way carries wharf's prefix, so it is wharf's (a
    // stale end of a killed run with this id): the cleanup takes it too.
    assert_eq!(
        net.leftovers(),
        (vec![], vec![]),
        "{host_end}, the bridge or a table stayed"
    );
    assert!(!t.path().join("net/bridge").exists(), "the lease stayed");
    assert_eq!(
        std::fs::read_dir(t.path().join("containers"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(std::fs::read_dir(t.path().join("run")).unwrap().count(), 0);
}

#[test]
fn a_stop_signal_reaches_the_container_and_the_network_still_goes() {
    let (t, net) = (TestRoot::new(), TestNet::new());
    let (mut c, _pid) = start(&net, &t, &["-p", "8080:80"], &["/bin/sleep", "30"]);
    // As PID 1 of its pid namespace, sleep ignores the first SIGTERM passed
    // on to it; the second becomes SIGKILL.
    let ch09 = nix::unistd::Pid::from_raw(c.0.id() as i32);
    let start = Instant::now();
    while c.0.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(10) {
        let _ = nix::sys::signal::kill(ch09, nix::sys::signal::SIGTERM);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(c.0.try_wait().unwrap().is_some(), "ch09 did not stop");
    assert_eq!(net.leftovers(), (vec![], vec![]));
    assert!(!t.path().join("net/bridge").exists(), "the lease stayed");
}

/// One field of /proc/self/status as the container's command printed it.
fn status_field(out: &Output, name: &str) -> String {
    let text = ok(out);
    let line = text.lines().find(|l| l.starts_with(name));
    line.unwrap_or_else(|| panic!("no {name} in {text}"))[name.len()..]
        .trim()
        .to_string()
}

#[test]
fn the_container_keeps_chapter_08_s_hardening_and_its_switches() {
    let (t, net) = (TestRoot::new(), TestNet::new());
    let status = ["--network", "none", "--", "/bin/cat", "/proc/self/status"];
    let hardened = run(&net, &t, &status);
    // Docker's 14 capabilities, the seccomp filter (mode 2) and no_new_privs.
    assert_eq!(status_field(&hardened, "CapBnd:"), "00000000a80425fb");
    assert_eq!(status_field(&hardened, "Seccomp:"), "2");
    assert_eq!(status_field(&hardened, "NoNewPrivs:"), "1");
    let switches = ["--seccomp", "unconfined", "--cap-drop", "ALL"];
    let open = run(&net, &t, &[&switches[..], &status[..]].concat());
    assert_eq!(status_field(&open, "CapBnd:"), "0000000000000000");
    assert_eq!(status_field(&open, "Seccomp:"), "0");
}
