//! `folio lineage`.

use super::{Ctx, Result, fmt_time, out, out_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// An example id (or unique prefix), a file path, or TABLE:KEY for a row
    selector: String,
    /// As of this revision (default: HEAD with the events waiting on the
    /// current branch)
    #[arg(long)]
    rev: Option<String>,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    let repo = ctx.repo()?;
    let rev = a.rev.as_deref().map(|r| repo.resolve(r)).transpose()?;
    let l = repo.lineage_at(&a.selector, rev)?;
    if a.json {
        return out_json(&l);
    }
    let short = |c: &Option<folio_core::id::CommitId>| c.map_or("-".to_string(), |c| c.short(12));
    let mut s = format!("example {}\n", l.example);
    s += &format!("  locator:  {}\n", l.locator);
    s += &format!("  dataset:  {}\n", l.dataset.as_deref().unwrap_or("-"));
    s += &format!(
        "  source:   {}\n",
        l.source.as_deref().unwrap_or("(none recorded)")
    );
    if let Some(t) = &l.collected_at {
        s += &format!("  collected: {t}\n");
    }
    for row in &l.described_by {
        s += &format!("  described by: row {row}\n");
    }
    s += &format!("  added in: {}\n", short(&l.added_in));
    if l.removed_in.is_some() {
        s += &format!("  removed in: {}\n", short(&l.removed_in));
    }
    if let Some(label) = &l.label {
        let by = l
            .annotator
            .as_deref()
            .map(|a| format!(" by {a}"))
            .unwrap_or_default();
        let conf = l
            .confidence
            .map(|c| format!(", confidence {c}"))
            .unwrap_or_default();
        s += &format!("  label:    {label}{by}{conf}\n");
    }
    if let (Some(c), Some(cur)) = (&l.cost, &l.currency) {
        s += &format!("  cost:     {c} {cur}\n");
    }
    if let Some(sens) = &l.sensitivity {
        s += &format!("  sensitivity: {sens}\n");
    }
    if let Some(lic) = &l.license {
        s += &format!("  license:  {lic}\n");
    }
    for m in &l.models {
        s += &format!("  trained:  {m}\n");
    }
    // Its content erased (D86): every snapshot still names it.
    for e in l
        .events
        .iter()
        .filter(|e| e.kind == "purged" && e.voided.is_none())
    {
        s += &format!(
            "  purged:   {} by {} (record {}): {}\n",
            super::fmt_time(e.time),
            super::visible(&e.actor),
            e.payload["record"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(12)
                .collect::<String>(),
            super::visible(e.payload["reason"].as_str().unwrap_or(""))
        );
    }
    if !l.branches.is_empty() {
        s += "  branches:\n";
        for b in &l.branches {
            s += &format!(
                "    {:<20} {}  added in {}{}\n",
                super::visible(&b.branch),
                if b.present { "holds it " } else { "not there" },
                short(&b.added_in),
                b.removed_in
                    .map_or(String::new(), |r| format!(", removed in {}", r.short(12)))
            );
        }
    }
    s += "  events:\n";
    for e in &l.events {
        s += &format!(
            "    #{:<6} {}  {:<16} by {}  (commit {}){}\n",
            e.seq,
            fmt_time(e.time),
            e.kind,
            e.actor,
            short(&e.commit),
            e.voided
                .as_ref()
                .map_or(String::new(), |r| format!("  VOID: {}", super::visible(r)))
        );
    }
    out(&s)
}
