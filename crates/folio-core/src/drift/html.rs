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

/// Characters of a bin or category label drawn under a chart; a longer
/// label ends with an ellipsis and shows whole on hover.
const LABEL_CHARS: usize = 14;

/// `s`, cut to `n` characters with an ellipsis when longer.
fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n - 1).collect();
        out.push('…');
        out
    }
}

/// The largest share of either side (never 0: bar heights divide by it).
fn peak(s: &Shares) -> f64 {
    s.reference
        .iter()
        .chain(&s.current)
        .copied()
        .fold(0.0, f64::max)
        .max(1e-12)
}

/// A chart the size of a table cell: reference and current shares as thin
/// bars, the whole distribution at a glance.
fn sparkline(s: &Shares) -> String {
    let s = capped(s);
    let (w, h) = (120.0, 24.0);
    let n = s.labels.len().max(1) as f64;
    let max = peak(&s);
    let slot = w / n;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="spark" width="{w}" height="{h}" viewBox="0 0 {w} {h}" aria-hidden="true">"#
    );
    for i in 0..s.labels.len() {
        for (k, (v, color)) in [(s.reference[i], "#4c78a8"), (s.current[i], "#f58518")]
            .into_iter()
            .enumerate()
        {
            let bh = (v / max * (h - 2.0)).max(0.0);
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}"/>"#,
                i as f64 * slot + slot * (0.05 + 0.45 * k as f64),
                h - bh,
                slot * 0.45,
                bh
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// Reference and current shares as overlaid bars.
fn chart(s: &Shares) -> String {
    let s = capped(s);
    // The left margin holds the first label, rotated: LABEL_CHARS characters
    // at 10px reach about 70px to the left of their bar.
    let (w, h, left, bottom, top) = (640.0, 230.0, 80.0, 80.0, 10.0);
    let n = s.labels.len().max(1) as f64;
    let max = peak(&s);
    let plot_h = h - bottom - top;
    let slot = (w - left - 10.0) / n;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">"#
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
        let _ = write!(
            out,
            r##"<text class="bin" transform="translate({:.1},{:.1}) rotate(-40)" font-size="10" text-anchor="end" fill="#333"><title>{}</title>{}</text>"##,
            x + slot / 2.0,
            h - bottom + 12.0,
            esc(label),
            esc(&shorten(label, LABEL_CHARS))
        );
    }
    out.push_str("</svg>");
    out
}

fn column(c: &ColumnDrift, id: usize, open: bool) -> String {
    let verdict = if c.drifted { "drifted" } else { "stable" };
    let mut out = format!(
        r#"<section class="col {verdict}" id="c{id}"><details{}><summary><h3>{} <small>{}, {} → {}</small> <span class="badge">{verdict}</span></h3></summary>"#,
        if open { " open" } else { "" },
        esc(&c.column),
        format!("{:?}", c.kind).to_lowercase(),
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
    // Metrics as a wrapping grid: as many as fit on a line, never wider
    // than the page.
    out.push_str("<div class=\"m\">");
    for (k, v) in &c.metrics {
        let _ = write!(out, "<span><b>{k}</b> {}</span>", num(*v));
    }
    out.push_str("</div>");
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
    out.push_str("</details></section>");
    out
}

/// Drifted column sections open at most this many; the rest, and every
/// stable column, start collapsed (the summary links to each).
const OPEN_SECTIONS: usize = 20;

/// Every compared column of the report, numbered as its section is.
fn numbered(r: &DriftReport) -> Vec<(usize, &TableDrift, &ColumnDrift, bool)> {
    let mut out = Vec::new();
    for t in &r.tables {
        for c in &t.columns {
            out.push((out.len(), t, c, false));
        }
        for c in &t.metadata {
            out.push((out.len(), t, c, true));
        }
    }
    out
}

/// How far past its threshold a column is: the metric's value over its
/// threshold (the threshold over the value for p-values), or the missing
/// rate's move over its threshold, whichever is larger.
fn severity(c: &ColumnDrift, missing_threshold: f64) -> f64 {
    let metric = match c.value {
        Some(v) if c.metric.is_p_value() => c.threshold / v.max(f64::MIN_POSITIVE),
        Some(v) if c.threshold > 0.0 => v / c.threshold,
        _ => 0.0,
    };
    let missing = (c.missing.current - c.missing.reference).abs() / missing_threshold.max(1e-12);
    metric.max(missing)
}

/// Counters and a table of every column, worst first, with a small chart
/// each, linking to its section.
fn summary(r: &DriftReport) -> String {
    let cols = numbered(r);
    let count = |meta: bool| {
        let of: Vec<_> = cols.iter().filter(|x| x.3 == meta).collect();
        (of.iter().filter(|x| x.2.drifted).count(), of.len())
    };
    let (data_drifted, data) = count(false);
    let (meta_drifted, meta) = count(true);
    let tables_drifted = r.tables.iter().filter(|t| t.drifted).count();
    let counted_meta = r.tables.iter().any(|t| t.selection.count_metadata);
    let mut out = String::from("<div class=\"counters\">");
    let mut counter = |value: String, what: &str, class: &str| {
        let _ = write!(
            out,
            "<div class=\"counter {class}\"><b>{value}</b><span>{}</span></div>",
            esc(what)
        );
    };
    counter(
        if r.drifted { "DRIFTED" } else { "stable" }.into(),
        "verdict",
        if r.drifted { "drifted" } else { "stable" },
    );
    counter(
        format!("{tables_drifted} / {}", r.tables.len()),
        "tables drifted",
        "",
    );
    counter(
        format!("{data_drifted} / {data}"),
        "data columns drifted",
        "",
    );
    if meta > 0 {
        counter(
            format!("{meta_drifted} / {meta}"),
            if counted_meta {
                "metadata and label columns drifted (counted)"
            } else {
                "metadata and label columns drifted (not counted)"
            },
            "",
        );
    }
    out.push_str("</div>");
    let mut order = cols.clone();
    order.sort_by(|a, b| {
        b.2.drifted
            .cmp(&a.2.drifted)
            .then(severity(b.2, r.missing_threshold).total_cmp(&severity(a.2, r.missing_threshold)))
            .then(a.0.cmp(&b.0))
    });
    out.push_str("<table class=\"summary\"><thead><tr><th>column</th><th>table</th><th>kind</th><th>metric</th><th>value</th><th>threshold</th><th>distribution</th><th>verdict</th></tr></thead><tbody>");
    for (id, t, c, meta) in order {
        let verdict = if c.drifted { "drifted" } else { "stable" };
        let _ = write!(
            out,
            "<tr class=\"{verdict}\"><td><a href=\"#c{id}\">{}</a>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td><span class=\"badge\">{verdict}</span></td></tr>",
            esc(&c.column),
            if meta {
                " <small>(metadata)</small>"
            } else {
                ""
            },
            esc(&t.path),
            format!("{:?}", c.kind).to_lowercase(),
            c.metric.name(),
            num(c.value),
            if c.metric.is_p_value() { "&lt; " } else { "" },
            c.threshold,
            sparkline(&c.shares),
        );
    }
    out.push_str("</tbody></table>");
    out
}

fn table(t: &TableDrift, first: usize, opened: &mut usize) -> String {
    let mut out = format!(
        "<h2>{} <small>{} → {} rows; {} of {} columns drifted ({:.0}%)</small> <span class=\"badge {}\">{}</span></h2>",
        esc(&t.path),
        t.rows.0,
        t.rows.1,
        t.drifted_columns,
        t.counted_columns,
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
    for line in &t.selected {
        let _ = write!(out, "<p class=\"note\">selected: {}</p>", esc(line));
    }
    for n in &t.notes {
        let _ = write!(out, "<p class=\"note\">note: {}</p>", esc(n));
    }
    let mut id = first;
    let mut section = |c: &ColumnDrift, id: &mut usize| {
        let open = c.drifted && *opened < OPEN_SECTIONS;
        *opened += usize::from(open);
        let s = column(c, *id, open);
        *id += 1;
        s
    };
    for c in &t.columns {
        out.push_str(&section(c, &mut id));
    }
    if !t.metadata.is_empty() {
        let _ = write!(
            out,
            "<h4 class=\"group\">metadata and labels ({})</h4>",
            if t.selection.count_metadata {
                "counted toward the verdict"
            } else {
                "not counted toward the verdict"
            }
        );
        for c in &t.metadata {
            out.push_str(&section(c, &mut id));
        }
    }
    out
}

/// The whole page.
pub fn render(r: &DriftReport) -> String {
    let mut out = String::from(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>folio drift report</title><style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;padding:0 1em;max-width:60em;color:#222;overflow-wrap:anywhere}
svg.chart{max-width:100%;height:auto;display:block}
.counters{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}
.counter{border:1px solid #ddd;border-radius:.4em;padding:.5em 1em;min-width:8em}
.counter b{display:block;font-size:1.6em}.counter span{color:#555;font-size:12px}
.counter.drifted b{color:#c33}.counter.stable b{color:#2a7}
table.summary{border-collapse:collapse;width:100%;font-size:12px}
table.summary th,table.summary td{border-bottom:1px solid #eee;padding:2px 6px;text-align:left;vertical-align:middle}
table.summary tr.drifted td:first-child{border-left:3px solid #c33}
details>summary{cursor:pointer;list-style-position:outside}details>summary h3{display:inline;font-size:1em}
div.m{display:flex;flex-wrap:wrap;gap:.2em 1.2em;font-size:12px;margin:.5em 0}div.m b{font-weight:600;color:#555}
h4.group{margin:1.5em 0 .5em;color:#555}
h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
small{color:#666;font-weight:normal}
.badge{font-size:.75em;padding:.1em .5em;border-radius:.6em;background:#2a7;color:#fff}
.drifted .badge,.badge.drifted{background:#c33}
section.col{border-left:4px solid #2a7;padding-left:1em;margin:1.5em 0}
section.col.drifted{border-left-color:#c33}
.def,.note{color:#555;font-size:12px}.legend span{display:inline-block;width:1em;height:1em;vertical-align:middle}
</style></head><body>"#,
    );
    let _ = write!(
        out,
        "<h1>Drift {} → {}</h1>",
        r.reference.short(12),
        r.current.short(12)
    );
    out.push_str(
        r##"<p class="legend"><span style="background:#4c78a8"></span> reference &nbsp; <span style="background:#f58518"></span> current</p>
"##,
    );
    out.push_str(&summary(r));
    let _ = write!(
        out,
        "<p>A table drifts when at least {:.0}% of its data columns drift; a column drifts when its metric crosses its threshold or its missing rate moves by {:.0} points or more.</p>",
        r.share_threshold * 100.0,
        r.missing_threshold * 100.0
    );
    let _ = write!(out, "<p class=\"def\">{}</p>", esc(&r.footer()));
    out.push_str("<details class=\"def\"><summary>Definitions</summary><dl>");
    for (k, v) in DEFINITIONS {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    }
    out.push_str("</dl></details>");
    let (mut first, mut opened) = (0, 0);
    for t in &r.tables {
        out.push_str(&table(t, first, &mut opened));
        first += t.columns.len() + t.metadata.len();
    }
    out.push_str("</body></html>\n");
    out
}
