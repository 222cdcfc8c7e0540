//! The drift report as one self-contained HTML page: no scripts, no
//! network resources, charts as inline SVG.

use std::fmt::Write;

use super::compare::{ColumnDrift, Shares, TableDrift};
use crate::drift::report::{DEFINITIONS, DriftReport};

/// Bars drawn per chart; further categories are summed into one.
const MAX_BARS: usize = 30;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(x) if x != 0.0 && x.abs() < 1e-4 => format!("{x:.3e}"),
        Some(x) => format!("{x:.4}"),
    }
}

/// At most [`MAX_BARS`] bars: the first ones, then the rest summed.
fn capped(s: &Shares) -> Shares {
    if s.labels.len() <= MAX_BARS {
        return s.clone();
    }
    let k = MAX_BARS - 1;
    let rest = |v: &[f64]| v[k..].iter().sum::<f64>();
    let mut labels = s.labels[..k].to_vec();
    labels.push(format!("({} others)", s.labels.len() - k));
    let mut reference = s.reference[..k].to_vec();
    reference.push(rest(&s.reference));
    let mut current = s.current[..k].to_vec();
    current.push(rest(&s.current));
    Shares {
        labels,
        reference,
        current,
    }
}

/// Reference and current shares as overlaid bars.
fn chart(s: &Shares) -> String {
    let s = capped(s);
    let (w, h, left, bottom, top) = (640.0, 220.0, 40.0, 70.0, 10.0);
    let n = s.labels.len().max(1) as f64;
    let max = s
        .reference
        .iter()
        .chain(&s.current)
        .copied()
        .fold(0.0, f64::max)
        .max(1e-12);
    let plot_h = h - bottom - top;
    let slot = (w - left - 10.0) / n;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">"#
    );
    let _ = write!(
        out,
        r##"<line x1="{left}" y1="{y}" x2="{x2}" y2="{y}" stroke="#888"/>"##,
        y = h - bottom,
        x2 = w - 10.0
    );
    let _ = write!(
        out,
        r##"<text x="2" y="{}" font-size="10" fill="#555">{:.0}%</text>"##,
        top + 8.0,
        max * 100.0
    );
    for (i, label) in s.labels.iter().enumerate() {
        let x = left + i as f64 * slot;
        for (k, (v, color)) in [(s.reference[i], "#4c78a8"), (s.current[i], "#f58518")]
            .into_iter()
            .enumerate()
        {
            let bh = v / max * plot_h;
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}" fill-opacity="0.75"><title>{}: {} {:.2}%</title></rect>"#,
                x + slot * (0.1 + 0.4 * k as f64),
                h - bottom - bh,
                slot * 0.4,
                bh,
                esc(label),
                if k == 0 { "reference" } else { "current" },
                v * 100.0
            );
        }
        let short: String = label.chars().take(14).collect();
        let _ = write!(
            out,
            r##"<text transform="translate({:.1},{:.1}) rotate(-40)" font-size="10" text-anchor="end" fill="#333">{}</text>"##,
            x + slot / 2.0,
            h - bottom + 12.0,
            esc(&short)
        );
    }
    out.push_str("</svg>");
    out
}

fn column(c: &ColumnDrift) -> String {
    let verdict = if c.drifted { "drifted" } else { "stable" };
    let mut out = format!(
        r#"<section class="col {verdict}"><h3>{} <small>{:?}, {} → {}</small> <span class="badge">{verdict}</span></h3>"#,
        esc(&c.column),
        c.kind,
        esc(&c.types.0),
        esc(&c.types.1)
    );
    let _ = write!(
        out,
        "<p>verdict metric <b>{}</b> = {} (threshold {}{}); values {} → {}; missing rate {:.2}% → {:.2}% (z = {:.3}, p = {})</p>",
        c.metric.name(),
        num(c.value),
        if c.metric.is_p_value() { "below " } else { "" },
        c.threshold,
        c.n.0,
        c.n.1,
        c.missing.reference * 100.0,
        c.missing.current * 100.0,
        c.missing.z,
        num(Some(c.missing.p_value))
    );
    if let Some(b) = &c.bins {
        let edges: Vec<String> = b.edges.iter().map(|e| format!("{e}")).collect();
        let _ = write!(
            out,
            "<p class=\"def\">{} bins from the {}; interior edges: {}</p>",
            b.count,
            b.source,
            esc(&edges.join(", "))
        );
    }
    out.push_str(&chart(&c.shares));
    out.push_str("<table class=\"m\"><tr>");
    for k in c.metrics.keys() {
        let _ = write!(out, "<th>{k}</th>");
    }
    out.push_str("</tr><tr>");
    for v in c.metrics.values() {
        let _ = write!(out, "<td>{}</td>", num(*v));
    }
    out.push_str("</tr></table>");
    for (what, list) in [
        ("new in current", &c.new_categories),
        ("vanished from current", &c.vanished_categories),
    ] {
        if !list.is_empty() {
            let items: Vec<String> = list
                .iter()
                .take(20)
                .map(|(k, s)| format!("{} ({:.2}%)", esc(k), s * 100.0))
                .collect();
            let _ = write!(out, "<p>categories {what}: {}</p>", items.join(", "));
        }
    }
    if let Some(n) = &c.note {
        let _ = write!(out, "<p class=\"note\">{}</p>", esc(n));
    }
    out.push_str("</section>");
    out
}

fn table(t: &TableDrift) -> String {
    let mut out = format!(
        "<h2>{} <small>{} → {} rows; {} of {} columns drifted ({:.0}%)</small> <span class=\"badge {}\">{}</span></h2>",
        esc(&t.path),
        t.rows.0,
        t.rows.1,
        t.drifted_columns,
        t.columns.len(),
        t.drifted_share * 100.0,
        if t.drifted { "drifted" } else { "stable" },
        if t.drifted { "drifted" } else { "stable" }
    );
    if let Some(n) = &t.note {
        let _ = write!(out, "<p class=\"note\">{}</p>", esc(n));
    }
    for s in &t.schema {
        let _ = write!(
            out,
            "<p class=\"note\">schema: column {} {}</p>",
            esc(&s.column),
            esc(&s.change)
        );
    }
    for c in &t.columns {
        out.push_str(&column(c));
    }
    out
}

/// The whole page.
pub fn render(r: &DriftReport) -> String {
    let mut out = String::from(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>folio drift report</title><style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
small{color:#666;font-weight:normal}
.badge{font-size:.75em;padding:.1em .5em;border-radius:.6em;background:#2a7;color:#fff}
.drifted .badge,.badge.drifted{background:#c33}
section.col{border-left:4px solid #2a7;padding-left:1em;margin:1.5em 0}
section.col.drifted{border-left-color:#c33}
table.m{border-collapse:collapse;font-size:12px}table.m td,table.m th{border:1px solid #ddd;padding:2px 6px;text-align:right}
.def,.note{color:#555;font-size:12px}.legend span{display:inline-block;width:1em;height:1em;vertical-align:middle}
</style></head><body>"#,
    );
    let _ = write!(
        out,
        "<h1>Drift {} → {}</h1><p><b>{}</b>: a table drifts when at least {:.0}% of its columns drift; a column drifts when its metric crosses its threshold or its missing rate moves by {:.0} points or more.</p>",
        r.reference.short(12),
        r.current.short(12),
        if r.drifted { "drifted" } else { "no drift" },
        r.share_threshold * 100.0,
        r.missing_threshold * 100.0
    );
    out.push_str(
        r##"<p class="legend"><span style="background:#4c78a8"></span> reference &nbsp; <span style="background:#f58518"></span> current</p>
"##,
    );
    let _ = write!(out, "<p class=\"def\">{}</p>", esc(&r.footer()));
    out.push_str("<details class=\"def\"><summary>Definitions</summary><dl>");
    for (k, v) in DEFINITIONS {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    }
    out.push_str("</dl></details>");
    for t in &r.tables {
        out.push_str(&table(t));
    }
    out.push_str("</body></html>\n");
    out
}
