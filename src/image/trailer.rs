//! Layers that end early. A tar member's data is padded to 512 bytes and
//! the archive ends with two zero blocks, but Go's archive/tar reader (so
//! Docker, containerd, podman and umoci) also accepts a stream that simply
//! stops right after a member's data or at a header boundary, and some
//! writers (Debian's umoci 0.4.7) produce exactly that. The tar crate
//! refuses it. This reader follows the headers as they pass and, when the
//! stream ends at one of those two points, supplies the missing padding
//! and end blocks. A stream that ends anywhere else (inside a header or a
//! member's data) is passed on as it is and stays an error.

use std::io::{self, Read};

const BLOCK: u64 = 512;

pub struct Trailer<R> {
    inner: R,
    pos: u64,
    /// Where the next header starts, and its bytes so far.
    next_header: u64,
    header: Vec<u8>,
    /// Where the current member's data ends (its padding begins).
    data_end: u64,
    /// Zeros still to hand out once the inner stream ended cleanly.
    fill: Option<u64>,
}

impl<R: Read> Trailer<R> {
    pub fn new(inner: R) -> Self {
        Trailer {
            inner,
            pos: 0,
            next_header: 0,
            header: Vec::with_capacity(BLOCK as usize),
            data_end: 0,
            fill: None,
        }
    }

    /// Watch the bytes `buf` (read at `self.pos`) for header blocks.
    fn track(&mut self, buf: &[u8]) {
        let mut at = self.pos;
        let end = self.pos + buf.len() as u64;
        while at < end {
            if at < self.next_header {
                at = self.next_header.min(end);
                continue;
            }
            let take = (BLOCK - self.header.len() as u64).min(end - at);
            let from = (at - self.pos) as usize;
            self.header
                .extend_from_slice(&buf[from..from + take as usize]);
            at += take;
            if self.header.len() as u64 == BLOCK {
                let size = member_size(&self.header);
                let data = self.next_header + BLOCK;
                self.data_end = data + size;
                self.next_header = data + size.div_ceil(BLOCK) * BLOCK;
                self.header.clear();
            }
        }
        self.pos = end;
    }

    /// The stream ended: how many zeros make it a complete tar, if it
    /// ended where Go's reader would accept it.
    fn missing(&self) -> Option<u64> {
        let at_header = self.pos == self.next_header && self.header.is_empty();
        let after_data = self.pos == self.data_end && self.pos < self.next_header;
        match (at_header, after_data) {
            (true, _) => Some(2 * BLOCK),
            (_, true) => Some(self.next_header - self.pos + 2 * BLOCK),
            _ => None,
        }
    }
}

/// The size field of a header: octal text, or GNU's base-256 for big files.
pub fn member_size(h: &[u8]) -> u64 {
    let field = &h[124..136];
    if field[0] & 0x80 != 0 {
        return field[1..].iter().fold(0u64, |n, &b| (n << 8) | b as u64);
    }
    let text = std::str::from_utf8(field).unwrap_or("");
    let digits = text.trim_matches(|c: char| c == '\0' || c == ' ');
    u64::from_str_radix(digits, 8).unwrap_or(0)
}

impl<R: Read> Read for Trailer<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(left) = self.fill {
            let n = left.min(buf.len() as u64) as usize;
            buf[..n].fill(0);
            self.fill = Some(left - n as u64);
            return Ok(n);
        }
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            if let Some(zeros) = self.missing() {
                self.fill = Some(zeros);
                return self.read(buf);
            }
            return Ok(0);
        }
        self.track(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(data: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append_data(&mut h, "f", data).unwrap();
        b.into_inner().unwrap()
    }

    fn entries(bytes: &[u8]) -> io::Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        let mut ar = tar::Archive::new(Trailer::new(bytes));
        for e in ar.entries()? {
            let mut v = Vec::new();
            e?.read_to_end(&mut v)?;
            out.push(v);
        }
        Ok(out)
    }

    #[test]
    fn a_stream_cut_after_the_data_or_at_a_header_is_completed() {
        let data = vec![7u8; 1000];
        let full = tar_with(&data);
        let after_data = &full[..512 + 1000];
        let at_header = &full[..512 + 1024];
        for cut in [&full[..], after_data, at_header] {
            assert_eq!(entries(cut).unwrap(), vec![data.clone()]);
        }
    }

    #[test]
    fn a_stream_cut_inside_data_or_a_header_stays_an_error() {
        let full = tar_with(&vec![7u8; 1000]);
        assert!(entries(&full[..512 + 999]).is_err());
        assert!(entries(&full[..300]).is_err());
        assert!(
            entries(&full[..512 + 1010]).is_err(),
            "cut inside the padding"
        );
    }
}
