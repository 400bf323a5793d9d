//! json-file logs, Docker's default log driver: one JSON object a line,
//! `{"log":"hello\n","stream":"stdout","time":"2026-…Z"}`. The monitor
//! writes them as the container's output arrives; when the file would
//! pass its size cap it is rotated (`container.log` → `.1` → `.2` …, the
//! oldest dropped), so a chatty container cannot fill the disk.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::clock;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Line {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// The writing end, held by the monitor.
pub struct Writer {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_files: u32,
}

impl Writer {
    pub fn open(path: &Path, max_size: u64, max_files: u32) -> std::io::Result<Writer> {
        let file = File::options().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(Writer {
            path: path.to_path_buf(),
            file,
            size,
            max_size,
            max_files: max_files.max(1),
        })
    }

    /// Log `bytes` that arrived on `stream`: one line per newline, and a
    /// partial line as it is (as Docker does, so nothing waits in memory).
    pub fn write(&mut self, stream: &str, bytes: &[u8]) -> std::io::Result<()> {
        let time = clock::rfc3339(clock::now_ns());
        for piece in bytes.split_inclusive(|b| *b == b'\n') {
            let line = Line {
                log: String::from_utf8_lossy(piece).into_owned(),
                stream: stream.to_string(),
                time: time.clone(),
            };
            let mut json = serde_json::to_vec(&line)?;
            json.push(b'\n');
            if self.max_size > 0 && self.size + json.len() as u64 > self.max_size && self.size > 0 {
                self.rotate()?;
            }
            self.file.write_all(&json)?;
            self.size += json.len() as u64;
        }
        Ok(())
    }

    /// `.N-1` → `.N` down to the live file → `.1`, then a fresh live file.
    fn rotate(&mut self) -> std::io::Result<()> {
        let kept = self.max_files - 1;
        if kept == 0 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        for n in (1..kept).rev() {
            let _ = std::fs::rename(numbered(&self.path, n), numbered(&self.path, n + 1));
        }
        std::fs::rename(&self.path, numbered(&self.path, 1))?;
        self.file = File::options().create(true).append(true).open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Every line kept, oldest first (the rotated files, then the live one).
pub fn read_all(path: &Path, max_files: u32) -> Vec<Line> {
    let mut files: Vec<PathBuf> = (1..max_files.max(1))
        .rev()
        .map(|n| numbered(path, n))
        .collect();
    files.push(path.to_path_buf());
    files.iter().flat_map(|p| read_from(p, 0).0).collect()
}

/// The lines of one file from byte `offset` on, and the offset after the
/// last whole line (for `logs -f`, which reads on from there).
pub fn read_from(path: &Path, offset: u64) -> (Vec<Line>, u64) {
    use std::io::{Seek, SeekFrom};
    let Ok(mut f) = File::open(path) else {
        return (Vec::new(), offset);
    };
    if f.seek(SeekFrom::Start(offset)).is_err() {
        return (Vec::new(), offset);
    }
    let mut out = Vec::new();
    let mut at = offset;
    let mut r = BufReader::new(f);
    let mut buf = String::new();
    while let Ok(n) = r.read_line(&mut buf) {
        if n == 0 || !buf.ends_with('\n') {
            break;
        }
        at += n as u64;
        if let Ok(line) = serde_json::from_str(&buf) {
            out.push(line);
        }
        buf.clear();
    }
    (out, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json_file_and_rotate_at_the_cap() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("container.log");
        let mut w = Writer::open(&p, 200, 2).unwrap();
        w.write("stdout", b"one\ntwo\npart").unwrap();
        let lines = read_all(&p, 2);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].log, "one\n");
        assert_eq!(lines[2].log, "part");
        for _ in 0..20 {
            w.write("stderr", b"0123456789\n").unwrap();
        }
        assert!(std::fs::metadata(&p).unwrap().len() <= 200);
        assert!(numbered(&p, 1).exists() && !numbered(&p, 2).exists());
        assert!(read_all(&p, 2).iter().all(|l| l.stream == "stderr"));
    }
}
