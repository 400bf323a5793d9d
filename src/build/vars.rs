//! Build variables: `ARG` declarations and their values (from
//! `--build-arg`, a default, or a global ARG), and `$NAME`, `${NAME}`,
//! `${NAME:-default}` replaced from the ENV and ARG values in scope, as the
//! Dockerfile reference says.

use std::collections::HashMap;

use anyhow::bail;

/// The ARGs a build may be given without the Dockerfile declaring them
/// (Docker's predefined proxy args).
const PREDEFINED: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// `ARG NAME[=default]` lines: the value from `--build-arg`, else the
/// default, else (for a global ARG redeclared in a stage) the global value.
pub fn declared(
    lines: &[String],
    build_args: &[(String, String)],
    global: &[(String, String)],
) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for l in lines {
        let (name, default) = match l.split_once('=') {
            Some((n, d)) => (n.trim(), Some(d.trim().trim_matches('"').to_string())),
            None => (l.trim(), None),
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            bail!("ARG {l:?}: expected NAME or NAME=default");
        }
        let given = build_args
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone());
        let inherited = global
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone());
        if let Some(v) = given.or(default).or(inherited) {
            out.push((name.to_string(), v));
        }
    }
    for p in PREDEFINED {
        if let Some((k, v)) = build_args.iter().find(|(k, _)| k == p) {
            if !out.iter().any(|(n, _)| n == k) {
                out.push((k.clone(), v.clone()));
            }
        }
    }
    Ok(out)
}

/// Replace `$NAME`, `${NAME}` and `${NAME:-default}`; `\$` stays a `$`.
pub fn expand(s: &str, vars: &HashMap<String, String>) -> String {
    let (mut out, mut rest) = (String::new(), s);
    while let Some(i) = rest.find(['$', '\\']) {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if rest.as_bytes()[i] == b'\\' {
            let next = after.chars().next();
            match next {
                Some('$') => out.push('$'),
                Some(c) => {
                    out.push('\\');
                    out.push(c);
                }
                None => out.push('\\'),
            }
            rest = &after[next.map_or(0, char::len_utf8)..];
            continue;
        }
        let (name, default, used) = if let Some(body) = after.strip_prefix('{') {
            match body.find('}') {
                Some(end) => {
                    let inner = &body[..end];
                    let (n, d) = match inner.split_once(":-") {
                        Some((n, d)) => (n, Some(d)),
                        None => (inner, None),
                    };
                    (n, d, end + 2)
                }
                None => ("", None, 0),
            }
        } else {
            let n = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..n], None, n)
        };
        if name.is_empty() {
            out.push('$');
        } else {
            let v = vars
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty() || default.is_none());
            out.push_str(v.or(default).unwrap_or(""));
        }
        rest = &after[used..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_expand_as_the_reference_says() {
        let vars = HashMap::from([
            ("A".to_string(), "1".to_string()),
            ("E".into(), String::new()),
        ]);
        assert_eq!(
            expand("x$A-${A}/${B:-d}/${E:-e}/\\$A/$", &vars),
            "x1-1/d/e/$A/$"
        );
    }

    #[test]
    fn build_args_override_defaults() {
        let given = [
            ("V".to_string(), "2".to_string()),
            ("HTTP_PROXY".into(), "p".into()),
        ];
        let d = declared(&["V=1".into(), "W=x".into(), "U".into()], &given, &[]).unwrap();
        assert_eq!(
            d,
            [
                ("V".into(), "2".into()),
                ("W".into(), "x".into()),
                ("HTTP_PROXY".into(), "p".into())
            ]
        );
    }
}
