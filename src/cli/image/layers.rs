//! `wharf layers IMAGE` and `wharf df [-v]`: the layer view and disk usage.

use tabled::settings::Style;
use tabled::{Table, Tabled};

use super::table::size;
use crate::image::df::Usage;
use crate::image::layers::Analysis;
use crate::image::reference::Reference;
use crate::image::remove::short;

#[derive(Tabled)]
struct LayerRow {
    #[tabled(rename = "LAYER")]
    n: usize,
    #[tabled(rename = "SIZE")]
    size: String,
    #[tabled(rename = "ADDED")]
    added: u64,
    #[tabled(rename = "CHANGED")]
    changed: u64,
    #[tabled(rename = "REMOVED")]
    removed: u64,
    #[tabled(rename = "CREATED BY")]
    created_by: String,
}

pub fn layers(a: &Analysis, verbose: bool) -> String {
    let rows = a.layers.iter().enumerate().map(|(i, l)| LayerRow {
        n: i + 1,
        size: size(l.size),
        added: l.added,
        changed: l.changed,
        removed: l.removed,
        created_by: l.created_by.chars().take(60).collect(),
    });
    let mut t = Table::new(rows);
    t.with(Style::blank());
    let mut out = format!("{t}\n");
    for (i, l) in a.layers.iter().enumerate() {
        for d in &l.deletions {
            out += &format!("layer {} removes {d} (whiteout)\n", i + 1);
        }
    }
    out += &format!(
        "\nTotal layer bytes:      {}\nPotential wasted space: {}\nImage efficiency score: {:.1} %\n",
        size(a.total),
        size(a.wasted),
        a.efficiency() * 100.0
    );
    let shown = if verbose {
        a.waste.len()
    } else {
        a.waste.len().min(10)
    };
    if shown > 0 {
        out += "\nCOUNT  TOTAL SPACE  PATH\n";
        for w in &a.waste[..shown] {
            out += &format!("{:<6} {:<12} /{}\n", w.count + 1, size(w.bytes), w.path);
        }
    }
    out
}

#[derive(Tabled)]
struct DfRow {
    #[tabled(rename = "TYPE")]
    kind: &'static str,
    #[tabled(rename = "TOTAL")]
    total: u64,
    #[tabled(rename = "SIZE")]
    size: String,
}

#[derive(Tabled)]
struct DfImageRow {
    #[tabled(rename = "REPOSITORY")]
    repository: String,
    #[tabled(rename = "TAG")]
    tag: String,
    #[tabled(rename = "IMAGE ID")]
    id: String,
    #[tabled(rename = "SIZE")]
    size: String,
    #[tabled(rename = "SHARED SIZE")]
    shared: String,
    #[tabled(rename = "UNIQUE SIZE")]
    unique: String,
}

pub fn df(u: &Usage, verbose: bool) -> String {
    let row = |kind, c: crate::image::df::Count| DfRow {
        kind,
        total: c.items,
        size: size(c.bytes),
    };
    let rows = [
        row("Images", u.images),
        row("Layers", u.layers),
        row("Image blobs", u.blobs),
        row("Containers", u.containers),
        row("Local Volumes", u.volumes),
    ];
    let mut t = Table::new(rows);
    t.with(Style::blank());
    let mut out = format!("{t}\n");
    out += &format!(
        "Layer sharing saves {}: the {} image{} would take {} with a copy of their layers each.\n",
        size(u.saved()),
        u.images.items,
        if u.images.items == 1 { "" } else { "s" },
        size(u.unshared())
    );
    if verbose {
        let rows = u.per_image.iter().map(|i| {
            let r = i.image.tags.first().and_then(|t| Reference::parse(t).ok());
            DfImageRow {
                repository: r
                    .as_ref()
                    .map_or("<none>".into(), Reference::familiar_repository),
                tag: r.and_then(|r| r.tag).unwrap_or_else(|| "<none>".into()),
                id: short(i.image.id()),
                size: size(i.size),
                shared: size(i.shared),
                unique: size(i.size - i.shared),
            }
        });
        let mut t = Table::new(rows);
        t.with(Style::blank());
        out += &format!("\nImages space usage:\n{t}\n");
    }
    out
}
