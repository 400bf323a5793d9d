//! What a client says to a container's monitor over `<dir>/attach.sock`.
//!
//! The client sends one request line:
//! - `start`: start the created container (the monitor runs the OCI
//!   runtime's start, so it alone records when it began); answer `ok` or
//!   `error: WHY`.
//! - `attach` or `attach stdin`: answer `ok`, then the container's output
//!   as frames — one byte for the stream (1 stdout, 2 stderr, 3 the exit
//!   code as text, sent last), four bytes of length (big-endian), the
//!   bytes — Docker's multiplexed stream, plus the exit frame. With
//!   `stdin`, what the client writes next goes to the container's stdin,
//!   and its shutdown(SHUT_WR) closes it.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

pub const SOCKET: &str = "attach.sock";
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const EXIT: u8 = 3;

pub fn socket(dir: &Path) -> PathBuf {
    dir.join(SOCKET)
}

/// A socket's path must fit sun_path's 108 bytes, and a container's
/// directory can be deeper than that: reach it through a descriptor of
/// the directory, `/proc/self/fd/N/attach.sock`, which the kernel
/// resolves like the long path (conmon does the same).
fn with_short_path<T>(dir: &Path, f: impl FnOnce(&Path) -> io::Result<T>) -> io::Result<T> {
    let d = std::fs::File::open(dir)?;
    let short = PathBuf::from(format!("/proc/self/fd/{}/{SOCKET}", d.as_raw_fd()));
    f(&short)
}

/// The monitor's end: listen on `<dir>/attach.sock`.
pub fn bind(dir: &Path) -> io::Result<UnixListener> {
    let _ = std::fs::remove_file(socket(dir));
    with_short_path(dir, |p| UnixListener::bind(p))
}

fn connect(dir: &Path) -> io::Result<UnixStream> {
    with_short_path(dir, |p| UnixStream::connect(p))
}

/// One frame's bytes.
pub fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + data.len());
    out.push(stream);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// The next frame, or `None` at the end of the stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let mut data = vec![0u8; len];
    r.read_exact(&mut data)?;
    Ok(Some((head[0], data)))
}

/// Send `request` to the monitor of the container in `dir`, and read its
/// `ok`; the connection stays open for what follows.
pub fn request(dir: &Path, request: &str) -> anyhow::Result<UnixStream> {
    let mut s = connect(dir).with_context(|| {
        format!(
            "the container's monitor does not answer on {}",
            socket(dir).display()
        )
    })?;
    s.write_all(format!("{request}\n").as_bytes())?;
    let mut line = String::new();
    BufReader::new(&s)
        .read_line(&mut line)
        .context("reading the monitor's answer")?;
    match line.trim_end() {
        "ok" => Ok(s),
        "" => bail!("the container's monitor hung up"),
        other => bail!("{}", other.strip_prefix("error: ").unwrap_or(other)),
    }
}

/// Copy the output frames to our stdout and stderr until the monitor
/// hangs up; the exit frame's code is returned (`None` if there was none).
pub fn relay_output(s: &mut UnixStream) -> anyhow::Result<Option<i32>> {
    let (mut out, mut err) = (io::stdout(), io::stderr());
    let mut code = None;
    while let Some((stream, data)) = read_frame(s)? {
        match stream {
            STDOUT => {
                out.write_all(&data)?;
                out.flush()?;
            }
            STDERR => err.write_all(&data)?,
            EXIT => code = String::from_utf8_lossy(&data).trim().parse().ok(),
            _ => {}
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut bytes = frame(STDOUT, b"hi\n");
        bytes.extend(frame(EXIT, b"3"));
        let mut r = &bytes[..];
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((STDOUT, b"hi\n".to_vec()))
        );
        assert_eq!(read_frame(&mut r).unwrap(), Some((EXIT, b"3".to_vec())));
        assert_eq!(read_frame(&mut r).unwrap(), None);
    }
}
