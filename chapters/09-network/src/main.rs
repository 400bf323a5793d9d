//! Chapter 09 — a network for the container.
//!
//! Chapter 08's container has a network namespace of its own, with one
//! device, lo, and that one down: it can reach nothing, not even itself.
//! Here it gets what Docker gives it. On the host, a bridge (a software
//! switch, `wharf0`, 10.88.0.1/16); a veth pair (a virtual cable) whose
//! host end is plugged into the bridge and whose other end is moved into
//! the container and renamed eth0; an address from a small IPAM; a default
//! route via the bridge; masquerade for the way out and DNAT for published
//! ports (`-p 8080:80`), in an nftables table of wharf's own.
//!
//! The parent does it over rtnetlink while the init waits (chapter 04's
//! `in_parent` hook), and undoes it when the container is gone.

use clap::Parser;
use wharf::cli::flags::{HardeningFlags, LayerFlags, LimitFlags};
use wharf::cli::lesson::{self, Lesson};
use wharf::container::{ContainerDir, CreateOptions, Runtime, SpecBuilder};
use wharf::net::{Attachment, Mode, Request, WithNetwork};
use wharf::rootfs;
use wharf::union::Rootfs;
use wharf::volume::{self, initlayer, Attached, WithVolumes};

const NAME: &str = "ch09-network";

/// Run a command in a container with a network of its own.
#[derive(Debug, Parser)]
#[command(name = "ch09-network", version)]
struct Args {
    #[command(flatten)]
    lesson: Lesson,

    /// none, host, bridge (the default network), container:ID-or-PID, or
    /// the name of another network.
    #[arg(long, default_value = "bridge", value_name = "NETWORK")]
    network: String,

    /// The subnet of a network made now (default for bridge: 10.88.0.0/16).
    #[arg(long, value_name = "CIDR")]
    subnet: Option<String>,

    /// The bridge device of a network made now (default for bridge: wharf0).
    #[arg(long, value_name = "NAME")]
    bridge: Option<String>,

    /// Publish a port: [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp].
    #[arg(short = 'p', long = "publish", value_name = "SPEC")]
    publish: Vec<String>,

    /// The hostname inside (default: the container id, as Docker does).
    #[arg(long)]
    hostname: Option<String>,

    #[command(flatten)]
    union: LayerFlags,

    /// A volume: HOST:CTR[:ro], NAME:CTR[:ro] or CTR (as chapter 07).
    #[arg(short = 'v', long = "volume", value_name = "SPEC")]
    volume: Vec<String>,

    #[command(flatten)]
    limits: LimitFlags,

    /// Chapter 08's hardening and its switches.
    #[command(flatten)]
    harden: HardeningFlags,

    /// The command to run inside, after `--`.
    #[arg(last = true, value_name = "CMD")]
    cmd: Vec<String>,
}

fn main() {
    let args = Args::parse();
    args.lesson.start();
    // Ctrl-C goes on to the container, and we still take its network down.
    wharf::sys::catch_stop_signals();
    lesson::finish(NAME, chapter(&args))
}

/// `container:ID` names the container by the pid of its init, as its
/// state records it; a pid, or anything else, stays as it is.
fn by_pid(mode: Mode) -> Mode {
    match &mode {
        Mode::Container(id) if id.parse::<i32>().is_err() => Runtime::default_root()
            .state(id)
            .ok()
            .and_then(|st| *st.pid())
            .map_or(mode, |pid| Mode::Container(pid.to_string())),
        _ => mode,
    }
}

fn chapter(args: &Args) -> anyhow::Result<i32> {
    lesson::require_root(NAME)?;
    if args.cmd.is_empty() {
        anyhow::bail!("no command given: add one after `--`, e.g. `{NAME} -- /bin/sh`");
    }
    let layers = args.union.layers();
    let limits = args.limits.limits().parse()?;
    let specs = volume::parse_all(&args.volume)?;
    volume::check_sources(&specs)?;
    let image = args.union.lowers()?;
    let mut dir = ContainerDir::create(layers.id.as_deref())?;
    dir.keep(layers.keep);
    let hostname = args.hostname.clone().unwrap_or_else(|| dir.id.clone());

    // ANCHOR: prepare
    // Before anything exists: check the flags, lease an address.
    let (subnet, bridge) = (args.subnet.as_deref(), args.bridge.as_deref());
    let mut request = Request::parse(&args.network, subnet, bridge, &args.publish)?;
    request.mode = by_pid(request.mode);
    let mut net: Attachment = {
        // lab:solution-begin check the flags against the leases and lease an address on the network (wharf::net::Attachment::prepare)
        Attachment::prepare(&request, &dir.id, &hostname)?
        // lab:solution-end
    };
    for line in net.describe() {
        eprintln!("{NAME}: {line}");
    }
    // ANCHOR_END: prepare

    // Chapter 07's root, its /etc/hosts naming the container's address.
    let init = initlayer::create(&dir.path, &hostname, &image)?;
    net.write_files(&init, &hostname)?;
    let root = Rootfs::prepare(layers.driver, &[image, vec![init]].concat(), &dir.path)?;
    let vols = Attached::attach(&specs, &dir.id, false)?;
    let mut inner = WithVolumes {
        rootfs: &root,
        mounts: &vols.mounts,
    };

    // ANCHOR: run
    // Chapter 08's spec, with the network namespace the mode asks for.
    let plain = SpecBuilder::new(root.root(), args.cmd.clone())
        .hostname(Some(&hostname))
        .limits(&limits)
        .env(rootfs::exec::default_env(Some(&hostname)));
    let mut spec = args.harden.harden(plain)?;
    let shared = ["pid", "uts", "ipc", "mount", "cgroup"];
    spec = match (&net.mode, &net.join) {
        (Mode::Host, _) => spec.namespaces(&shared),
        (_, Some(path)) => spec.namespaces(&shared).join("network", path),
        _ => spec.namespaces(&[&shared[..], &["network"]].concat()),
    };
    // The parent wires the network while the init waits in its namespaces.
    let mut hooks: WithNetwork = {
        // lab:solution-begin wrap chapter 08's hooks so the parent connects the network in in_parent (wharf::net::WithNetwork)
        WithNetwork {
            inner: &mut inner,
            net: &mut net,
        }
        // lab:solution-end
    };
    // Chapter 08's devices and freezer cgroups too.
    let opts = CreateOptions {
        oci_cgroups: true,
        ..Default::default()
    };
    let runtime = Runtime::default_root();
    let status = runtime.run_with(&dir.id, &dir.path, &spec.build(), &mut hooks, &opts)?;
    net.release()?;
    // ANCHOR_END: run
    for line in volume::report(&root, &vols, &dir.id, layers.keep)? {
        eprintln!("{NAME}: {line}");
    }
    Ok(status.exit_code())
}
