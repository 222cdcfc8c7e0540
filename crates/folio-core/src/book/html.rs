//! Book reports as self-contained HTML pages: tables and an inline-SVG
//! chart of the carrying amount over time; no scripts, no network.

use std::fmt::Write;

use super::portfolio::Portfolio;
use super::report::Schedule;
use crate::ledger::money::format_minor;

use crate::drift::html::esc;

const STYLE: &str = "<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:64em;color:#222}\
table{border-collapse:collapse;font-size:12px;margin:1em 0}td,th{border:1px solid #ddd;padding:2px 8px}\
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}.def{color:#555;font-size:12px}</style>";

/// A line chart of `(label, amount)` points.
fn chart(points: &[(String, i64)], currency: &str) -> String {
    let (w, h, left, bottom) = (720.0, 240.0, 70.0, 40.0);
    let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1) as f64;
    let n = points.len().max(2) as f64 - 1.0;
    let x = |i: usize| left + (w - left - 10.0) * i as f64 / n;
    let y = |v: i64| (h - bottom) - (h - bottom - 10.0) * v as f64 / max;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img"><title>carrying amount over time</title>"#
    );
    let _ = write!(
        out,
        r##"<line x1="{left}" y1="{b}" x2="{r}" y2="{b}" stroke="#888"/><line x1="{left}" y1="10" x2="{left}" y2="{b}" stroke="#888"/>"##,
        b = h - bottom,
        r = w - 10.0
    );
    let _ = write!(
        out,
        r##"<text x="2" y="16" font-size="10" fill="#555">{} {}</text><text x="2" y="{}" font-size="10" fill="#555">0</text>"##,
        format_minor(max as i64, currency),
        esc(currency),
        h - bottom
    );
    let pts: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.1)))
        .collect();
    let _ = write!(
        out,
        r##"<polyline fill="none" stroke="#4c78a8" stroke-width="2" points="{}"/>"##,
        pts.join(" ")
    );
    let step = (points.len() / 12).max(1);
    for (i, p) in points.iter().enumerate() {
        let _ = write!(
            out,
            r##"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="#4c78a8"><title>{}: {} {}</title></circle>"##,
            x(i),
            y(p.1),
            esc(&p.0),
            format_minor(p.1, currency),
            esc(currency)
        );
        if i % step == 0 {
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{}" font-size="10" text-anchor="middle" fill="#333">{}</text>"##,
                x(i),
                h - bottom + 14.0,
                esc(&p.0)
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// The schedule page.
pub fn schedule(s: &Schedule) -> String {
    let c = &s.currency;
    let m = |v: i64| format_minor(v, c);
    let mut out = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>folio book schedule</title>{STYLE}</head><body>\
<h1>Book schedule {} to {}</h1><p class=\"def\">per {:?}, by {:?}, amounts in {}; closing = opening + additions − depreciation − impairment − disposals (docs/BOOK.md)</p>",
        esc(&s.from),
        esc(&s.to),
        s.period,
        s.by,
        esc(c)
    );
    let points: Vec<(String, i64)> = s
        .totals
        .iter()
        .map(|t| (t.period.clone(), t.closing))
        .collect();
    out.push_str(&chart(&points, c));
    out.push_str("<table><tr><th>key</th><th>period</th><th>opening</th><th>additions</th><th>depreciation</th><th>impairment</th><th>disposals</th><th>closing</th><th>accumulated</th></tr>");
    for r in s.rows.iter().chain(&s.totals) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&r.key),
            esc(&r.period),
            m(r.opening),
            m(r.additions),
            m(r.depreciation),
            m(r.impairment),
            m(r.disposals),
            m(r.closing),
            m(r.accumulated)
        );
    }
    out.push_str("</table></body></html>\n");
    out
}

/// The portfolio page.
pub fn portfolio(p: &Portfolio) -> String {
    let c = &p.currency;
    let m = |v: i64| format_minor(v, c);
    let mut out = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>folio data balance sheet</title>{STYLE}</head><body>\
<h1>Data balance sheet at the end of {}</h1><p>carrying amount <b>{} {}</b> of cost {} {}</p>",
        esc(&p.as_of),
        m(p.carrying),
        esc(c),
        m(p.cost),
        esc(c)
    );
    out.push_str(&chart(&p.history, c));
    out.push_str("<table><tr><th>kind</th><th>name</th><th>cost</th><th>accumulated</th><th>carrying</th><th>share</th><th>mean confidence</th><th>sensitivity</th><th>drift</th></tr>");
    for r in &p.rows {
        let sens: Vec<String> = r
            .sensitivity
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1}%</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            r.kind,
            esc(&r.name),
            m(r.cost),
            m(r.accumulated),
            m(r.carrying),
            r.share * 100.0,
            r.mean_confidence.map_or("—".into(), |c| format!("{c:.3}")),
            esc(&sens.join(", ")),
            r.drift.as_deref().unwrap_or("—")
        );
    }
    out.push_str("</table></body></html>\n");
    out
}
