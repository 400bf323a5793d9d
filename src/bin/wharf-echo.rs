//! A tiny echo server and client for chapter 09's traffic, TCP or UDP, so
//! the lesson and its tests need nothing the rootfs lacks (busybox's nc
//! has no UDP). Copied into a rootfs with `wharf rootfs create --with`.
//!
//! `wharf-echo serve tcp|udp PORT` answers every line or datagram with
//! `echo <it>`, forever. `wharf-echo send tcp|udp HOST PORT MSG` prints the
//! answer; it retries for 5 s, so a server that is still starting is fine.
//! For the benchmark: `wharf-echo sink PORT` reads each TCP connection to
//! its end and answers with the byte count; `wharf-echo blast HOST PORT
//! MIB` sends MIB MiB and prints the rate in MiB/s.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

fn serve(proto: &str, port: u16) -> std::io::Result<()> {
    if proto == "udp" {
        let sock = UdpSocket::bind(("0.0.0.0", port))?;
        let mut buf = [0u8; 2048];
        loop {
            let (n, from) = sock.recv_from(&mut buf)?;
            let reply = format!("echo {}", String::from_utf8_lossy(&buf[..n]).trim_end());
            sock.send_to(reply.as_bytes(), from)?;
        }
    }
    let listener = TcpListener::bind(("0.0.0.0", port))?;
    for conn in listener.incoming() {
        let mut conn = conn?;
        let mut line = String::new();
        BufReader::new(&conn).read_line(&mut line)?;
        writeln!(conn, "echo {}", line.trim_end())?;
    }
    Ok(())
}

fn sink(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(("0.0.0.0", port))?;
    for conn in listener.incoming() {
        let mut conn = conn?;
        let n = std::io::copy(&mut conn, &mut std::io::sink())?;
        writeln!(conn, "{n}")?;
    }
    Ok(())
}

fn blast(addr: &str, mib: usize) -> std::io::Result<String> {
    // The first connection may race a server still starting: retry it.
    let start = Instant::now();
    let mut conn = loop {
        match TcpStream::connect(addr) {
            Ok(c) => break c,
            Err(e) if start.elapsed() > Duration::from_secs(5) => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let chunk = vec![0x5au8; 1 << 20];
    let t = Instant::now();
    for _ in 0..mib {
        conn.write_all(&chunk)?;
    }
    conn.shutdown(std::net::Shutdown::Write)?;
    let mut line = String::new();
    BufReader::new(&conn).read_line(&mut line)?;
    let secs = t.elapsed().as_secs_f64();
    Ok(format!("{:.1}", mib as f64 / secs))
}

fn send_once(proto: &str, addr: &str, msg: &str) -> std::io::Result<String> {
    let to = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{addr} has no address")))?;
    let wait = Some(Duration::from_secs(1));
    if proto == "udp" {
        let sock = UdpSocket::bind("0.0.0.0:0")?;
        sock.set_read_timeout(wait)?;
        sock.send_to(msg.as_bytes(), to)?;
        let mut buf = [0u8; 2048];
        let n = sock.recv(&mut buf)?;
        return Ok(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let mut conn = TcpStream::connect_timeout(&to, Duration::from_secs(1))?;
    conn.set_read_timeout(wait)?;
    writeln!(conn, "{msg}")?;
    let mut line = String::new();
    BufReader::new(&conn).read_line(&mut line)?;
    Ok(line.trim_end().to_string())
}

fn send(proto: &str, addr: &str, msg: &str) -> std::io::Result<String> {
    let start = Instant::now();
    loop {
        match send_once(proto, addr, msg) {
            Ok(r) => return Ok(r),
            Err(e) if start.elapsed() > Duration::from_secs(5) => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match argv[..] {
        ["serve", proto @ ("tcp" | "udp"), port] => match port.parse() {
            Ok(p) => serve(proto, p).map(|()| String::new()),
            Err(_) => Err(std::io::Error::other(format!("{port:?} is not a port"))),
        },
        ["send", proto @ ("tcp" | "udp"), host, port, msg] => {
            send(proto, &format!("{host}:{port}"), msg)
        }
        ["sink", port] => match port.parse() {
            Ok(p) => sink(p).map(|()| String::new()),
            Err(_) => Err(std::io::Error::other(format!("{port:?} is not a port"))),
        },
        ["blast", host, port, mib] => match mib.parse() {
            Ok(m) => blast(&format!("{host}:{port}"), m),
            Err(_) => Err(std::io::Error::other(format!("{mib:?} is not a number of MiB"))),
        },
        _ => Err(std::io::Error::other(
            "usage: wharf-echo serve tcp|udp PORT | send tcp|udp HOST PORT MSG | sink PORT | blast HOST PORT MIB",
        )),
    };
    match result {
        Ok(reply) => println!("{reply}"),
        Err(e) => {
            eprintln!("wharf-echo: {e}");
            std::process::exit(1)
        }
    }
}
