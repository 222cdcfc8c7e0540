//! `folio quality`.

use super::{Ctx, Failure, Result, out, out_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Examples whose latest confidence is below this need relabelling
    #[arg(long, default_value_t = 0.5)]
    min_confidence: f64,
    /// The annotator whose label settles an example (default: `[quality]
    /// adjudicator` in the config); others are measured against it
    #[arg(long, value_name = "ANNOTATOR")]
    adjudicator: Option<String>,
    /// As of this revision (default: HEAD with the events waiting on the
    /// current branch)
    #[arg(long)]
    rev: Option<String>,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

/// `cat 2, dog 1`: most given first, then by label.
fn spelled(labels: &std::collections::BTreeMap<String, usize>) -> String {
    let mut v: Vec<(&String, &usize)> = labels.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.iter()
        .map(|(l, c)| format!("{} {c}", super::visible(l)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    if !(0.0..=1.0).contains(&a.min_confidence) {
        return Err(Failure::user(format!(
            "--min-confidence {} is outside 0..1",
            a.min_confidence
        )));
    }
    if a.adjudicator
        .as_deref()
        .is_some_and(|j| j.trim().is_empty())
    {
        return Err(Failure::user(
            "--adjudicator is empty: name the annotator whose labels settle disagreements",
        ));
    }
    let repo = ctx.repo()?;
    let rev = a.rev.as_deref().map(|r| repo.resolve(r)).transpose()?;
    let r = repo.quality_at(a.min_confidence, a.adjudicator.as_deref(), rev)?;
    if a.json {
        return out_json(&r);
    }
    let n = r.examples.len();
    let mut s = format!(
        "{n} example{} with two or more annotators{}, least agreement first\n",
        if n == 1 { "" } else { "s" },
        match &r.adjudicator {
            Some(j) => format!(" or a ruling by {}", super::visible(j)),
            None => String::new(),
        }
    );
    for e in &r.examples {
        let reference = match (&e.reference, e.adjudicated) {
            (Some(l), true) => format!("  → {} (adjudicated)", super::visible(l)),
            (Some(l), false) => format!("  → {} (majority)", super::visible(l)),
            (None, _) => "  → no majority".to_string(),
        };
        s += &format!(
            "  {:<30} agreement {:.3} (entropy {:.3})  {}{reference}\n",
            super::visible(e.locator.as_str()),
            e.agreement,
            e.entropy,
            spelled(&e.labels)
        );
    }
    s += &format!(
        "\nannotators (agreement with the {}):\n",
        if r.adjudicator.is_some() {
            "adjudicator's label, else the majority"
        } else {
            "majority label"
        }
    );
    for a in &r.annotators {
        let share = a.agreement.map_or("-".to_string(), |v| format!("{v:.3}"));
        s += &format!(
            "  {:<20} {share}  ({} of {})\n",
            super::visible(&a.annotator),
            a.agreed,
            a.compared
        );
    }
    s += &format!(
        "\n{} to relabel (annotators disagree, or confidence below {}):\n",
        super::count(r.relabel.len() as u64, "example"),
        r.min_confidence
    );
    for l in r.relabel.iter().take(50) {
        s += &format!("  {l}\n");
    }
    if r.relabel.len() > 50 {
        s += &format!("  … {} more (use --json)\n", r.relabel.len() - 50);
    }
    out(&s)
}
