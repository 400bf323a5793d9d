//! `wharf images` and `wharf history`: Docker's columns and units.

use tabled::settings::Style;
use tabled::{Table, Tabled};

use super::ImagesArgs;
use crate::image::reference::Reference;
use crate::image::remove::short;
use crate::image::store::{Image, Store};
use crate::image::{digest, time};

#[derive(Tabled)]
struct ImageRow {
    #[tabled(rename = "REPOSITORY")]
    repository: String,
    #[tabled(rename = "TAG")]
    tag: String,
    #[tabled(rename = "DIGEST")]
    digest: String,
    #[tabled(rename = "IMAGE ID")]
    id: String,
    #[tabled(rename = "CREATED")]
    created: String,
    #[tabled(rename = "SIZE")]
    size: String,
}

/// One row per name; an image without a name is `<none>` `<none>`.
fn rows(images: &[Image], a: &ImagesArgs) -> anyhow::Result<Vec<ImageRow>> {
    let filter = a.repository.as_deref().map(Reference::parse).transpose()?;
    let mut out = Vec::new();
    for i in images {
        let names: Vec<Option<Reference>> = match i.tags.is_empty() {
            true => vec![None],
            false => i.tags.iter().map(|t| Reference::parse(t).ok()).collect(),
        };
        for r in names {
            if let Some(f) = &filter {
                let repo_ok = r.as_ref().is_some_and(|r| r.repository() == f.repository());
                let explicit_tag = a
                    .repository
                    .as_deref()
                    .is_some_and(|s| s.rsplit('/').next().is_some_and(|l| l.contains(':')));
                let tag_ok = !explicit_tag || r.as_ref().is_some_and(|r| r.tag == f.tag);
                if !(repo_ok && tag_ok) {
                    continue;
                }
            }
            out.push(row(i, r.as_ref(), a.no_trunc));
        }
    }
    Ok(out)
}

fn row(i: &Image, r: Option<&Reference>, no_trunc: bool) -> ImageRow {
    let none = || "<none>".to_string();
    ImageRow {
        repository: r.map_or_else(none, Reference::familiar_repository),
        tag: r.and_then(|r| r.tag.clone()).unwrap_or_else(none),
        digest: i.manifest_digest.to_string(),
        id: if no_trunc {
            i.id().to_string()
        } else {
            short(i.id())
        },
        created: since(i.config.created().as_deref()),
        size: size(i.size),
    }
}

pub fn images(store: &Store, a: &ImagesArgs) -> anyhow::Result<String> {
    let images = store.images()?;
    let rows = rows(&images, a)?;
    if a.quiet {
        let mut ids: Vec<String> = Vec::new();
        for r in rows {
            if !ids.contains(&r.id) {
                ids.push(r.id);
            }
        }
        return Ok(ids.iter().map(|i| format!("{i}\n")).collect());
    }
    if a.format.as_deref() == Some("json") {
        return Ok(rows.iter().map(|r| format!("{}\n", json_row(r))).collect());
    }
    if let Some(f) = &a.format {
        anyhow::bail!("--format {f:?} is not supported: use json");
    }
    let mut t = Table::new(rows);
    if !a.digests {
        t.with(tabled::settings::Remove::column(
            tabled::settings::location::ByColumnName::new("DIGEST"),
        ));
    }
    t.with(Style::blank());
    Ok(format!("{t}\n"))
}

/// The fields `docker images --format json` prints.
fn json_row(r: &ImageRow) -> serde_json::Value {
    serde_json::json!({
        "Repository": r.repository,
        "Tag": r.tag,
        "Digest": r.digest,
        "ID": r.id,
        "CreatedSince": r.created,
        "Size": r.size,
    })
}

#[derive(Tabled)]
struct HistoryRow {
    #[tabled(rename = "IMAGE")]
    image: String,
    #[tabled(rename = "CREATED")]
    created: String,
    #[tabled(rename = "CREATED BY")]
    created_by: String,
    #[tabled(rename = "SIZE")]
    size: String,
    #[tabled(rename = "COMMENT")]
    comment: String,
}

/// Newest first, as Docker prints it. Entries that made a layer take its
/// size from the unpacked layer on disk; the others are 0B.
pub fn history(
    store: &Store,
    image: &Image,
    no_trunc: bool,
    quiet: bool,
) -> anyhow::Result<String> {
    let chains = digest::chain_ids(&image.diff_ids()?);
    let mut sizes = chains.iter().map(|c| store.layer_size(c));
    let entries = image.config.history().clone().unwrap_or_default();
    let mut rows = Vec::new();
    for h in &entries {
        let size = match h.empty_layer() {
            Some(true) => 0,
            _ => sizes.next().transpose()?.unwrap_or(0),
        };
        let by = h.created_by().clone().unwrap_or_default();
        rows.push(HistoryRow {
            image: "<missing>".into(),
            created: since(h.created().as_deref()),
            created_by: if no_trunc { by } else { truncate(&by, 45) },
            size: self::size(size),
            comment: h.comment().clone().unwrap_or_default(),
        });
    }
    rows.reverse();
    let id = if no_trunc {
        image.id().to_string()
    } else {
        short(image.id())
    };
    match rows.first_mut() {
        Some(top) => top.image = id.clone(),
        None => rows.push(HistoryRow {
            image: id.clone(),
            created: String::new(),
            created_by: String::new(),
            size: size(image.size),
            comment: String::new(),
        }),
    }
    if quiet {
        return Ok(rows.iter().map(|r| format!("{}\n", r.image)).collect());
    }
    let mut t = Table::new(rows);
    t.with(Style::blank());
    Ok(format!("{t}\n"))
}

fn truncate(s: &str, n: usize) -> String {
    match s.char_indices().nth(n - 1) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

/// Docker's sizes: decimal units, three significant digits (`4.26MB`).
pub fn size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    let digits = if i == 0 || v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{}", units[i])
}

/// `3 hours ago`, from a config's RFC 3339 time.
fn since(created: Option<&str>) -> String {
    let Some(t) = created.and_then(time::parse_rfc3339) else {
        return "N/A".into();
    };
    let s = (time::now() - t).max(0);
    let (n, unit) = match s {
        0..60 => return "Less than a minute ago".into(),
        60..3600 => (s / 60, "minute"),
        3600..86400 => (s / 3600, "hour"),
        86400..1209600 => (s / 86400, "day"),
        1209600..5184000 => (s / 604800, "week"),
        5184000..63072000 => (s / 2592000, "month"),
        _ => (s / 31536000, "year"),
    };
    let plural = if n == 1 { "" } else { "s" };
    let article = if n == 1 {
        if unit == "hour" { "An" } else { "A" }.to_string()
    } else {
        n.to_string()
    };
    format!("{article} {unit}{plural} ago")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_docker_prints_them() {
        assert_eq!(size(0), "0B");
        assert_eq!(size(999), "999B");
        assert_eq!(size(4_261_000), "4.26MB");
        assert_eq!(size(12_500_000), "12.5MB");
        assert_eq!(size(300_000_000), "300MB");
        assert_eq!(size(1_000), "1kB");
    }

    #[test]
    fn truncates_with_an_ellipsis() {
        assert_eq!(truncate("short", 45), "short");
        assert_eq!(truncate(&"x".repeat(50), 45).chars().count(), 45);
    }
}
