//! Reading a Dockerfile. The grammar (line continuations, the escape
//! directive, JSON exec forms, heredocs, flags such as `--from=`) is the
//! parse-dockerfile crate's: it follows BuildKit's parser closely, keeps
//! the byte span of every piece (so an error names its line and column,
//! and a step can be shown as it was written), and has no dependencies
//! beyond smallvec. dockerfile-parser, the other candidate, is built on a
//! pest grammar that lags the reference (no heredocs) and is less kept.
//!
//! This file only turns the crate's syntax tree into the plain steps the
//! builder runs: one [`Step`] per instruction, with its text.

use anyhow::{bail, Context};
use parse_dockerfile::{Command, Instruction};

/// A parsed Dockerfile: the ARGs before the first FROM, then the stages.
pub struct Parsed<'t, 'f> {
    pub global_args: Vec<String>,
    pub stages: Vec<StageText<'t, 'f>>,
}

/// One stage: `FROM image [AS name]` and what follows it.
pub struct StageText<'t, 'f> {
    pub from: String,
    pub name: Option<String>,
    /// The FROM line as written, for `Step 1/7 : FROM …`.
    pub from_text: String,
    pub steps: Vec<(String, &'f Instruction<'t>)>,
}

pub fn parse(text: &str) -> anyhow::Result<parse_dockerfile::Dockerfile<'_>> {
    // The crate's message already says "at line L column C".
    parse_dockerfile::parse(text).map_err(|e| anyhow::anyhow!("Dockerfile: {e}"))
}

/// The stages of a parsed Dockerfile, each instruction with its text.
pub fn stages<'t, 'f>(
    text: &'t str,
    file: &'f parse_dockerfile::Dockerfile<'t>,
) -> anyhow::Result<Parsed<'t, 'f>> {
    let starts: Vec<usize> = file.instructions.iter().map(keyword_start).collect();
    let source = |n: usize| {
        let end = starts.get(n + 1).copied().unwrap_or(text.len());
        one_line(&text[starts[n]..end])
    };
    let mut parsed = Parsed {
        global_args: Vec::new(),
        stages: Vec::new(),
    };
    for (n, ins) in file.instructions.iter().enumerate() {
        match (ins, parsed.stages.last_mut()) {
            (Instruction::From(f), _) => parsed.stages.push(StageText {
                from: f.image.value.to_string(),
                name: f.as_.as_ref().map(|(_, n)| n.value.to_ascii_lowercase()),
                from_text: source(n),
                steps: Vec::new(),
            }),
            (Instruction::Arg(a), None) => parsed.global_args.push(a.arguments.value.to_string()),
            (_, None) => bail!("Dockerfile: {} comes before the first FROM", source(n)),
            (_, Some(stage)) => stage.steps.push((source(n), ins)),
        }
    }
    if parsed.stages.is_empty() {
        bail!("Dockerfile: no FROM instruction");
    }
    Ok(parsed)
}

/// Where an instruction's keyword begins in the file.
fn keyword_start(i: &Instruction) -> usize {
    let k = match i {
        Instruction::Add(x) => &x.add,
        Instruction::Arg(x) => &x.arg,
        Instruction::Cmd(x) => &x.cmd,
        Instruction::Copy(x) => &x.copy,
        Instruction::Entrypoint(x) => &x.entrypoint,
        Instruction::Env(x) => &x.env,
        Instruction::Expose(x) => &x.expose,
        Instruction::From(x) => &x.from,
        Instruction::Healthcheck(x) => &x.healthcheck,
        Instruction::Label(x) => &x.label,
        Instruction::Maintainer(x) => &x.maintainer,
        Instruction::Onbuild(x) => &x.onbuild,
        Instruction::Run(x) => &x.run,
        Instruction::Shell(x) => &x.shell,
        Instruction::Stopsignal(x) => &x.stopsignal,
        Instruction::User(x) => &x.user,
        Instruction::Volume(x) => &x.volume,
        Instruction::Workdir(x) => &x.workdir,
        _ => unreachable!("parse-dockerfile added an instruction this builder does not know"),
    };
    k.span.start
}

/// An instruction's text on one line: continuations joined, comment
/// lines inside it dropped, blanks squeezed.
fn one_line(raw: &str) -> String {
    let kept: Vec<&str> = raw
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.strip_suffix('\\').unwrap_or(l).trim())
        .collect();
    kept.join(" ")
}

/// A command's words: the exec form as written, the shell form after
/// the stage's SHELL (`/bin/sh -c` unless changed).
pub fn command(c: &Command, shell: &[String]) -> Vec<String> {
    match c {
        Command::Exec(words) => words.value.iter().map(|w| w.value.to_string()).collect(),
        Command::Shell(s) => {
            let mut v = shell.to_vec();
            v.push(s.value.to_string());
            v
        }
        _ => unreachable!("parse-dockerfile added a command form"),
    }
}

/// The value of a `--name=value` flag, refusing flags the step does not know.
pub fn flags<'f>(
    flags: &'f [parse_dockerfile::Flag<'f>],
    known: &[&str],
    what: &str,
) -> anyhow::Result<Vec<(&'f str, &'f str)>> {
    flags
        .iter()
        .map(|f| {
            let name = f.name.value.as_ref();
            if !known.contains(&name) {
                bail!(
                    "{what}: unknown flag --{name} (known: --{})",
                    known.join(", --")
                );
            }
            let value = f
                .value
                .as_ref()
                .with_context(|| format!("{what}: --{name} needs a value"))?;
            Ok((name, value.value.as_ref()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_and_their_text() {
        let text = "ARG V=1\nFROM base:$V AS one\n# note\nRUN echo a \\\n  && echo b\nFROM scratch\nCOPY --from=one /a /b\n";
        let file = parse(text).unwrap();
        let p = stages(text, &file).unwrap();
        assert_eq!(p.global_args, ["V=1"]);
        assert_eq!(p.stages.len(), 2);
        assert_eq!(p.stages[0].name.as_deref(), Some("one"));
        assert_eq!(p.stages[0].from, "base:$V");
        assert_eq!(p.stages[0].steps[0].0, "RUN echo a && echo b");
        assert_eq!(p.stages[1].steps[0].0, "COPY --from=one /a /b");
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = parse("FROM scratch\nHEALTHCHECK --interval=1s BOGUS\n")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        let err = parse("FROM scratch\nFROBNICATE x\n")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("line 2") && err.to_lowercase().contains("unknown"),
            "{err}"
        );
    }
}
