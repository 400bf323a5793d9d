//! `--change` for `wharf import`: the Dockerfile instructions that only
//! change an image's config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER,
//! VOLUME, WORKDIR, STOPSIGNAL), applied as `docker import --change` does.

use anyhow::{bail, Context};
use oci_spec::image::Config;

/// Apply one instruction such as `CMD ["/bin/sh"]` or `ENV A=1 B=2`.
pub fn apply(config: &mut Config, change: &str) -> anyhow::Result<()> {
    let change = change.trim();
    let (word, args) = change
        .split_once(char::is_whitespace)
        .unwrap_or((change, ""));
    let args = args.trim();
    match word.to_ascii_uppercase().as_str() {
        "CMD" => config.set_cmd(Some(command(args)?)),
        "ENTRYPOINT" => config.set_entrypoint(Some(command(args)?)),
        "ENV" => {
            let mut env = config.env().clone().unwrap_or_default();
            for (k, v) in pairs(args)? {
                env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k.as_str()));
                env.push(format!("{k}={v}"));
            }
            config.set_env(Some(env))
        }
        "LABEL" => {
            let mut labels = config.labels().clone().unwrap_or_default();
            labels.extend(pairs(args)?);
            config.set_labels(Some(labels))
        }
        "EXPOSE" => {
            let mut ports = config.exposed_ports().clone().unwrap_or_default();
            for p in args.split_whitespace() {
                let p = if p.contains('/') { p.to_string() } else { format!("{p}/tcp") };
                if !ports.contains(&p) {
                    ports.push(p);
                }
            }
            config.set_exposed_ports(Some(ports))
        }
        "VOLUME" => {
            let mut vols = config.volumes().clone().unwrap_or_default();
            vols.extend(list(args)?);
            config.set_volumes(Some(vols))
        }
        "USER" => config.set_user(Some(one(word, args)?)),
        "WORKDIR" => config.set_working_dir(Some(one(word, args)?)),
        "STOPSIGNAL" => config.set_stop_signal(Some(one(word, args)?)),
        "" => bail!("empty --change"),
        other => bail!(
            "--change {other:?} is not supported: use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR or STOPSIGNAL"
        ),
    };
    Ok(())
}

/// The exec form `["a", "b"]` as it is, the shell form through `/bin/sh -c`.
fn command(args: &str) -> anyhow::Result<Vec<String>> {
    if args.starts_with('[') {
        return serde_json::from_str(args)
            .with_context(|| format!("{args:?} is not a JSON array of strings"));
    }
    if args.is_empty() {
        bail!("the command is empty");
    }
    Ok(vec!["/bin/sh".into(), "-c".into(), args.into()])
}

fn list(args: &str) -> anyhow::Result<Vec<String>> {
    if args.starts_with('[') {
        return serde_json::from_str(args)
            .with_context(|| format!("{args:?} is not a JSON array of strings"));
    }
    Ok(args.split_whitespace().map(str::to_string).collect())
}

fn one(word: &str, args: &str) -> anyhow::Result<String> {
    if args.is_empty() || args.split_whitespace().count() != 1 {
        bail!("{word} takes exactly one argument");
    }
    Ok(args.to_string())
}

/// `K=V K2="a b"`, or the old `K V with spaces`.
fn pairs(args: &str) -> anyhow::Result<Vec<(String, String)>> {
    let words = shell_words(args)?;
    if !words.first().is_some_and(|w| w.contains('=')) {
        let (k, v) = args
            .split_once(char::is_whitespace)
            .context("expected KEY=VALUE")?;
        return Ok(vec![(k.to_string(), v.trim().to_string())]);
    }
    words
        .into_iter()
        .map(|w| {
            w.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("{w:?} is not KEY=VALUE"))
        })
        .collect()
}

/// Split on blanks, keeping what double or single quotes hold together.
fn shell_words(s: &str) -> anyhow::Result<Vec<String>> {
    let (mut out, mut cur, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for c in s.chars() {
        match (quote, c) {
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if quote.is_some() {
        bail!("unterminated quote in {s:?}");
    }
    if any {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(changes: &[&str]) -> Config {
        let mut c = Config::default();
        for ch in changes {
            apply(&mut c, ch).unwrap();
        }
        c
    }

    #[test]
    fn cmd_and_entrypoint_forms() {
        let c = applied(&[r#"CMD ["/bin/echo", "hi"]"#, "ENTRYPOINT top -b"]);
        assert_eq!(c.cmd().clone().unwrap(), ["/bin/echo", "hi"]);
        assert_eq!(c.entrypoint().clone().unwrap(), ["/bin/sh", "-c", "top -b"]);
    }

    #[test]
    fn env_label_expose_volume_user_workdir() {
        let c = applied(&[
            "ENV A=1 B=\"two words\"",
            "ENV A=3",
            "ENV OLD style value",
            "LABEL team=core",
            "EXPOSE 80 53/udp",
            "VOLUME /data",
            "USER 1000",
            "workdir /srv",
        ]);
        assert_eq!(
            c.env().clone().unwrap(),
            ["B=two words", "A=3", "OLD=style value"]
        );
        assert_eq!(c.labels().clone().unwrap()["team"], "core");
        assert_eq!(c.exposed_ports().clone().unwrap(), ["80/tcp", "53/udp"]);
        assert_eq!(c.volumes().clone().unwrap(), ["/data"]);
        assert_eq!(c.user().as_deref(), Some("1000"));
        assert_eq!(c.working_dir().as_deref(), Some("/srv"));
    }

    #[test]
    fn refuses_what_it_cannot_do() {
        let mut c = Config::default();
        assert!(apply(&mut c, "RUN make")
            .unwrap_err()
            .to_string()
            .contains("RUN"));
        assert!(apply(&mut c, "CMD [oops").is_err());
        assert!(apply(&mut c, "USER a b").is_err());
        assert!(apply(&mut c, "ENV A=\"open").is_err());
    }
}
