//! `wharf-monitor`: the small process that stays with a detached
//! container, in the role conmon plays for podman. `wharf run` starts it
//! and exits; the monitor forks once more, so it belongs to no terminal
//! session and to no wharf command, and then:
//!
//! - holds the container's stdio: pipes whose other ends become the
//!   init's stdin, stdout and stderr;
//! - writes what comes out as json-file logs (size cap, rotation);
//! - serves `start` and `attach` on `<dir>/attach.sock`;
//! - is the init's parent: PR_SET_CHILD_SUBREAPER makes the kernel
//!   re-parent the init to us when the OCI runtime that cloned it exits,
//!   so we reap it and learn its exit status (and, from the cgroup, an
//!   OOM kill);
//! - runs `--restart`, and removes a `--rm` container.
//!
//! It keeps no big buffers (one 32 KiB read buffer) and does the
//! container's building through `wharf-oci`, so its resident set stays
//! near that of a bare process. Invoked as `wharf-monitor DIR start|create`
//! with the ready pipe on fd 3.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use wharf::lifecycle::attach::{self, EXIT, STDERR, STDOUT};
use wharf::lifecycle::status::{self, Phase, Status};
use wharf::lifecycle::{clock, logs, record, remove, Record};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // SAFETY: fd 3 is the ready pipe the CLI gave us, and nothing else owns it.
    let ready = unsafe { File::from_raw_fd(3) };
    // Not for our children: the container must never hold it.
    let _ = nix::fcntl::fcntl(
        &ready,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    let (Some(dir), Some(mode)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: wharf-monitor DIR start|create (started by wharf, not by hand)");
        std::process::exit(2);
    };
    // The second fork: our parent (the CLI's child) exits now, so we are
    // nobody's child but init's and outlive every wharf command.
    // SAFETY: no other thread exists yet.
    match unsafe { fork() } {
        Ok(ForkResult::Parent { .. }) => std::process::exit(0),
        Ok(ForkResult::Child) => {}
        Err(e) => {
            let _ = writeln!(&ready, "error: the monitor could not fork: {e}");
            std::process::exit(1);
        }
    }
    let mut ready = Some(ready);
    if let Err(e) =
        Monitor::new(Path::new(dir)).and_then(|mut m| m.run(mode == "start", &mut ready))
    {
        if let Some(r) = ready.as_mut() {
            let _ = writeln!(r, "{}", wharf::sys::report_line(&e));
        }
        eprintln!("wharf-monitor: {e:#}");
        std::process::exit(1);
    }
}

struct Client {
    sock: UnixStream,
    /// What the client writes goes to the container's stdin.
    stdin: bool,
}

struct Monitor {
    rec: Record,
    dir: PathBuf,
    status: Status,
    log: logs::Writer,
    /// Our ends: we read stdout/stderr and write stdin.
    out: OwnedFd,
    err: OwnedFd,
    stdin: Option<OwnedFd>,
    /// The container's ends, kept so a restarted init gets them again.
    theirs: [OwnedFd; 3],
    listener: UnixListener,
    clients: Vec<Client>,
    buf: Box<[u8]>,
}

fn pipe() -> anyhow::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?)
}

/// A pipe whose read end (ours) never blocks: poll says when to read.
fn output_pipe() -> anyhow::Result<(OwnedFd, OwnedFd)> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let (r, w) = pipe()?;
    fcntl(&r, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    Ok((r, w))
}

impl Monitor {
    fn new(dir: &Path) -> anyhow::Result<Monitor> {
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let rec = record::load(&id)?;
        // Orphans in our subtree (the init, once wharf-oci exits) come to us.
        wharf::sys::set_child_subreaper("orphans below the monitor (the init, once wharf-oci exits) come to it, so it can reap them")?;
        let (out, out_w) = output_pipe()?;
        let (err, err_w) = output_pipe()?;
        let (in_r, in_w) = pipe()?;
        let stdin = rec.open_stdin.then_some(in_w);
        let listener = attach::bind(dir)?;
        let log = logs::Writer::open(&rec.log_path, rec.log_max_size, rec.log_max_files)?;
        Ok(Monitor {
            dir: dir.to_path_buf(),
            status: Status {
                monitor_pid: std::process::id() as i32,
                ..status::load(dir).unwrap_or_default()
            },
            rec,
            log,
            out,
            err,
            stdin,
            theirs: [in_r, out_w, err_w],
            listener,
            clients: Vec::new(),
            buf: vec![0u8; 32 * 1024].into_boxed_slice(),
        })
    }

    fn run(&mut self, start: bool, ready: &mut Option<File>) -> anyhow::Result<()> {
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGCHLD);
        mask.thread_block()?;
        let sigchld = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        self.create()?;
        if start {
            self.start()?;
        }
        if let Some(mut r) = ready.take() {
            writeln!(r, "ok")?;
        }
        loop {
            self.serve_once(&sigchld)?;
            if let Some(code) = self.reap()? {
                if !self.ended(code)? {
                    return Ok(());
                }
            }
        }
    }

    /// The OCI runtime this wharf was built with, beside us.
    fn oci(&self, args: &[&str]) -> Command {
        let exe = std::env::current_exe().unwrap_or_default();
        let mut c = Command::new(exe.with_file_name("wharf-oci"));
        let root = wharf::container::Runtime::default_root().root;
        c.arg("--root").arg(root).args(args);
        c
    }

    /// `wharf-oci create`, with our pipes as its (and so the init's) stdio.
    fn create(&mut self) -> anyhow::Result<()> {
        // What an earlier run may have left of the runtime's state (a
        // reader's lock file can outlive its delete) goes first.
        let _ = self.oci(&["delete", "--force", &self.rec.id]).output();
        let pid_file = self.dir.join("init.pid");
        let (dir, id) = (self.dir.to_string_lossy(), self.rec.id.clone());
        let mut cmd = self.oci(&["create", "--bundle", &dir, "--pid-file"]);
        cmd.arg(&pid_file).arg(&id);
        let [i, o, e] = &self.theirs;
        let stdin: Stdio = match self.stdin {
            Some(_) => i.try_clone()?.into(),
            None => Stdio::null(),
        };
        let ran = cmd
            .stdin(stdin)
            .stdout(Stdio::from(o.try_clone()?))
            .stderr(Stdio::from(e.try_clone()?))
            .status()?;
        if !ran.success() {
            // Its error line went down the container's stderr pipe.
            let n = nix::unistd::read(&self.err, &mut self.buf).unwrap_or(0);
            let text = String::from_utf8_lossy(&self.buf[..n]).into_owned();
            let why = text.lines().last().unwrap_or("wharf-oci create failed");
            self.status.phase = Phase::Exited;
            self.status.error = why
                .trim_start_matches("wharf-oci: ")
                .trim_start_matches("error: ")
                .to_string();
            // Docker's codes: 126/127 when the command cannot run, else 125.
            self.status.exit_code = ran.code().filter(|c| matches!(c, 126 | 127)).unwrap_or(125);
            status::save(&self.dir, &self.status)?;
            return Err(
                wharf::sys::ExitCode(self.status.exit_code, self.status.error.clone()).into(),
            );
        }
        self.status.pid = std::fs::read_to_string(&pid_file)?.trim().parse()?;
        self.status.phase = Phase::Created;
        self.status.error.clear();
        status::save(&self.dir, &self.status)
    }

    fn start(&mut self) -> anyhow::Result<()> {
        let out = self
            .oci(&["start", &self.rec.id])
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr);
            anyhow::bail!("{}", why.lines().last().unwrap_or("wharf-oci start failed"));
        }
        self.status.phase = Phase::Running;
        self.status.started_at = clock::now_ns();
        self.status.finished_at = 0;
        status::save(&self.dir, &self.status)
    }

    /// Wait for anything: output, a client, a child's end.
    fn serve_once(&mut self, sigchld: &SignalFd) -> anyhow::Result<()> {
        let (code_out, code_err) = (self.out.as_raw_fd(), self.err.as_raw_fd());
        let mut fds = vec![
            PollFd::new(sigchld.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.out.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.err.as_fd(), PollFlags::POLLIN),
        ];
        let stdin_clients: Vec<usize> = (0..self.clients.len())
            .filter(|i| self.clients[*i].stdin)
            .collect();
        for i in &stdin_clients {
            fds.push(PollFd::new(
                self.clients[*i].sock.as_fd(),
                PollFlags::POLLIN,
            ));
        }
        poll(&mut fds, PollTimeout::NONE)?;
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            while let Ok(Some(_)) = sigchld.read_signal() {}
        }
        if ready[2] {
            self.pump(code_out, "stdout", STDOUT);
        }
        if ready[3] {
            self.pump(code_err, "stderr", STDERR);
        }
        for (k, i) in stdin_clients.iter().enumerate().rev() {
            if ready[4 + k] {
                self.feed_stdin(*i);
            }
        }
        if ready[1] {
            if let Ok((sock, _)) = self.listener.accept() {
                self.answer(sock);
            }
        }
        Ok(())
    }

    /// Read what the container wrote on one stream; log it and pass it on.
    fn pump(&mut self, fd: i32, stream: &str, tag: u8) -> usize {
        // SAFETY: fd is one of our pipe ends, alive for the whole call.
        let n = nix::unistd::read(
            unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
            &mut self.buf,
        )
        .unwrap_or(0);
        if n == 0 {
            return 0;
        }
        let data = &self.buf[..n];
        if let Err(e) = self.log.write(stream, data) {
            eprintln!("wharf-monitor: writing the log: {e}");
        }
        let frame = attach::frame(tag, data);
        self.clients
            .retain_mut(|c| c.sock.write_all(&frame).is_ok());
        n
    }

    /// Take everything left in the pipes without waiting (the container
    /// is gone; what it wrote is all in the pipe already).
    fn drain(&mut self) {
        for (fd, stream, tag) in [
            (self.out.as_raw_fd(), "stdout", STDOUT),
            (self.err.as_raw_fd(), "stderr", STDERR),
        ] {
            loop {
                let mut p = [PollFd::new(
                    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
                    PollFlags::POLLIN,
                )];
                if poll(&mut p, PollTimeout::ZERO).unwrap_or(0) == 0 {
                    break;
                }
                if self.pump(fd, stream, tag) == 0 {
                    break;
                }
            }
        }
    }

    fn feed_stdin(&mut self, i: usize) {
        let n = self.clients[i].sock.read(&mut self.buf).unwrap_or(0);
        match (&self.stdin, n) {
            (Some(w), n) if n > 0 => {
                let _ = nix::unistd::write(w, &self.buf[..n]);
            }
            // The client's end of input is the container's: close stdin.
            _ => {
                self.stdin = None;
                self.clients[i].stdin = false;
            }
        }
    }

    /// One request line from a new client (see `wharf::lifecycle::attach`).
    fn answer(&mut self, mut sock: UnixStream) {
        let _ = sock.set_read_timeout(Some(std::time::Duration::from_secs(2)));
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while sock.read(&mut b).unwrap_or(0) == 1 && b[0] != b'\n' && line.len() < 64 {
            line.push(b[0]);
        }
        let _ = sock.set_read_timeout(None);
        let _ = sock.set_write_timeout(Some(std::time::Duration::from_secs(5)));
        let answer = match line.as_slice() {
            b"start" if self.status.phase == Phase::Created => self.start().map(|()| None),
            b"start" => Err(anyhow::anyhow!("the container is not waiting to start")),
            b"attach" => Ok(Some(false)),
            b"attach stdin" => Ok(Some(self.stdin.is_some())),
            _ => Err(anyhow::anyhow!("unknown request")),
        };
        let _ = match &answer {
            Ok(_) => sock.write_all(b"ok\n"),
            Err(e) => sock.write_all(format!("error: {e:#}\n").as_bytes()),
        };
        if let Ok(Some(stdin)) = answer {
            self.clients.push(Client { sock, stdin });
        }
    }

    /// Reap every child that ended; the init's exit code if it was one.
    fn reap(&mut self) -> anyhow::Result<Option<i32>> {
        let mut code = None;
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, c)) if pid.as_raw() == self.status.pid => code = Some(c),
                Ok(WaitStatus::Signaled(pid, s, _)) if pid.as_raw() == self.status.pid => {
                    code = Some(128 + s as i32)
                }
                Ok(WaitStatus::StillAlive) | Err(_) => return Ok(code),
                Ok(_) => {}
            }
        }
    }

    /// The init ended with `code`: record it, then restart, or finish.
    /// Whether the monitor goes on.
    fn ended(&mut self, code: i32) -> anyhow::Result<bool> {
        self.drain();
        self.status.exit_code = code;
        self.status.finished_at = clock::now_ns();
        self.status.oom_killed = wharf::lifecycle::oom::killed(&self.rec.id);
        self.status.phase = Phase::Exited;
        self.status.pid = 0;
        // The runtime's state and the cgroup go now; the record, the root
        // and the logs stay until `rm`.
        let _ = self.oci(&["delete", "--force", &self.rec.id]).output();
        let by_user = self.dir.join(status::STOPPED_BY_USER).exists();
        if self
            .rec
            .restart
            .again(code, self.status.restart_count, by_user)
        {
            self.status.phase = Phase::Restarting;
            status::save(&self.dir, &self.status)?;
            // Docker's back-off: 100 ms, doubling with every restart.
            let wait = 100u64 << self.status.restart_count.min(8);
            std::thread::sleep(std::time::Duration::from_millis(wait));
            self.status.restart_count += 1;
            if self.create().and_then(|()| self.start()).is_ok() {
                return Ok(true);
            }
        }
        status::save(&self.dir, &self.status)?;
        let frame = attach::frame(EXIT, code.to_string().as_bytes());
        for c in &mut self.clients {
            let _ = c.sock.write_all(&frame);
        }
        if self.rec.auto_remove {
            let _ = std::fs::remove_file(attach::socket(&self.dir));
            if let Err(e) = remove::remove(&self.rec, true) {
                eprintln!("wharf-monitor: --rm: {e:#}");
            }
        }
        // Our clients see the end of the stream only now: a `run --rm`
        // returns once the container is gone.
        self.clients.clear();
        Ok(false)
    }
}
