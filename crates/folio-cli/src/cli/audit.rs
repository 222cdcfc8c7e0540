//! `folio audit`.

use super::{Ctx, Failure, Result, out, out_json};
use folio_core::ledger::inventory::{AuditFilter, AuditReport};
use folio_core::ledger::money::format_micros;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The commit to audit, as its ledger head attests it (default: HEAD
    /// with every event recorded since)
    #[arg(long)]
    rev: Option<String>,
    /// Only examples from this source
    #[arg(long)]
    source: Option<String>,
    /// Only examples of this dataset
    #[arg(long)]
    dataset: Option<String>,
    /// Only examples of this sensitivity
    #[arg(long)]
    sensitivity: Option<String>,
    /// Print the report as JSON
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print the groups as CSV
    #[arg(long)]
    csv: bool,
    /// List the access log instead: reads of encrypted data (who, when,
    /// why, what) and grants
    #[arg(long, conflicts_with_all = ["rev", "source", "dataset", "sensitivity", "csv"])]
    access: bool,
    /// With --access: only entries from this date on (YYYY-MM-DD or RFC 3339)
    #[arg(long, value_name = "DATE", requires = "access")]
    since: Option<String>,
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    if a.access {
        return super::access::list(ctx, a.since.as_deref(), a.json);
    }
    let repo = ctx.repo()?;
    let rev = a.rev.as_deref().map(|r| repo.resolve(r)).transpose()?;
    let filter = AuditFilter {
        source: a.source.clone(),
        dataset: a.dataset.clone(),
        sensitivity: a.sensitivity.clone(),
        // The text lists the first few; JSON all of them.
        listed: (!a.json).then_some(LISTED),
    };
    let r = repo.audit(rev, &filter)?;
    if a.json {
        return out_json(&r);
    }
    if a.csv {
        return out(&csv_text(&r)?);
    }
    out(&text(&r))
}

/// Costs per currency, as `12.50 EUR + 3 JPY`.
fn costs(m: &std::collections::BTreeMap<String, i128>) -> String {
    m.iter()
        .map(|(c, v)| format!("{} {c}", format_micros(*v, c)))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn opt(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| format!("{v:.3}"))
}

fn csv_text(r: &AuditReport) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| Failure::user(e.to_string());
    w.write_record([
        "source",
        "dataset",
        "examples",
        "annotated",
        "sensitivity",
        "annotators",
        "mean_confidence",
        "min_confidence",
        "cost",
    ])
    .map_err(io)?;
    for g in &r.groups {
        let sens: Vec<String> = g
            .sensitivity
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let anns: Vec<&str> = g.annotators.iter().map(String::as_str).collect();
        w.write_record([
            g.source.clone().unwrap_or_default(),
            g.dataset.clone(),
            g.examples.to_string(),
            g.annotated.to_string(),
            sens.join(";"),
            anns.join(";"),
            opt(g.mean_confidence),
            opt(g.min_confidence),
            costs(&g.cost_micros),
        ])
        .map_err(io)?;
    }
    let bytes = w.into_inner().map_err(|e| Failure::user(e.to_string()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Locators the text lists of each kind of missing value.
const LISTED: usize = 20;

fn text(r: &AuditReport) -> String {
    let mut s = format!("audit of {}\n", r.commit.short(12));
    for g in &r.groups {
        let sens: Vec<String> = g
            .sensitivity
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let mut lic: Vec<String> = g
            .licenses
            .iter()
            .map(|(k, v)| format!("{} {v}", super::visible(k)))
            .collect();
        if g.unlicensed > 0 {
            lic.push(format!("(none) {}", g.unlicensed));
        }
        s += &format!(
            "\nsource {}  dataset {}\n  examples {} ({} annotated)  sensitivity: {}  licenses: {}\n",
            g.source.as_deref().map_or("(none)".into(), super::visible),
            g.dataset,
            g.examples,
            g.annotated,
            sens.join(", "),
            lic.join(", ")
        );
        if !g.annotators.is_empty() {
            let anns: Vec<&str> = g.annotators.iter().map(String::as_str).collect();
            s += &format!(
                "  annotators: {}  confidence mean {} min {}\n",
                anns.join(", "),
                opt(g.mean_confidence),
                opt(g.min_confidence)
            );
        }
        if !g.cost_micros.is_empty() {
            s += &format!("  cost basis: {}\n", costs(&g.cost_micros));
        }
    }
    for (title, list, n) in [
        (
            "without a recorded source",
            &r.without_source,
            r.missing.source,
        ),
        (
            "without an annotation",
            &r.without_annotation,
            r.missing.annotation,
        ),
        ("without a license", &r.without_license, r.missing.license),
    ] {
        s += &format!("\n{n} example{} {title}", if n == 1 { "" } else { "s" });
        if list.is_empty() {
            s += "\n";
            continue;
        }
        s += ":\n";
        for l in list.iter().take(LISTED) {
            s += &format!("  {l}\n");
        }
        if n > LISTED as u64 {
            s += &format!("  … {} more (use --json)\n", n - LISTED as u64);
        }
    }
    s
}
