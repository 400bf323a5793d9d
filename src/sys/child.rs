//! How a process forked by [`super::clone`] ends when it cannot become the
//! container's command: one error line on stderr (the same line a face
//! prints), and the exit code the failure carries. A child after clone must
//! not return into the code that called clone, nor end through a face.

use super::journal;

/// An error that carries the exit code it should end the process with
/// (127: command not found, 126: not executable — as docker and sh do).
#[derive(Debug)]
pub struct ExitCode(pub i32, pub String);

impl std::fmt::Display for ExitCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}
impl std::error::Error for ExitCode {}

/// The exit code an error asks for: its [`ExitCode`], or 1.
pub fn exit_code_of(e: &anyhow::Error) -> i32 {
    e.downcast_ref::<ExitCode>().map(|c| c.0).unwrap_or(1)
}

/// An error as one line for another process to read back with
/// [`from_report`]: `error CODE: WHY`, so the code (127: not found …)
/// survives the trip.
pub fn report_line(e: &anyhow::Error) -> String {
    format!("error {}: {}", exit_code_of(e), one_line(e))
}

/// The error a [`report_line`] describes (a line without a code is
/// taken as the reason alone, code 1).
pub fn from_report(line: &str) -> anyhow::Error {
    let coded = line
        .strip_prefix("error ")
        .and_then(|r| r.split_once(": "))
        .and_then(|(c, why)| Some((c.parse::<i32>().ok()?, why)));
    match coded {
        Some((1, why)) => anyhow::anyhow!("{why}"),
        Some((code, why)) => ExitCode(code, why.to_string()).into(),
        None => anyhow::anyhow!("{}", line.strip_prefix("error: ").unwrap_or(line)),
    }
}

/// This program's name, for error lines: `ch02-namespaces: error: ...`.
pub fn program_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "wharf".into())
}

/// The error and its causes on one line: `a: b: c`.
pub fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

/// End a forked child: on error write `NAME: error: ...` and exit with the
/// error's code; otherwise exit with `result`'s code.
pub fn child_exit(result: anyhow::Result<i32>) -> ! {
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            journal::emit(&format!("{}: error: {}\n", program_name(), one_line(&e)));
            std::process::exit(exit_code_of(&e))
        }
    }
}
