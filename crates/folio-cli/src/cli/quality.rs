//! `folio quality`.

use super::{Ctx, Failure, Result, out, out_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Examples whose latest confidence is below this need relabelling
    #[arg(long, default_value_t = 0.5)]
    min_confidence: f64,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    if !(0.0..=1.0).contains(&a.min_confidence) {
        return Err(Failure::user(format!(
            "--min-confidence {} is outside 0..1",
            a.min_confidence
        )));
    }
    let repo = ctx.repo()?;
    let r = repo.quality(a.min_confidence)?;
    if a.json {
        return out_json(&r);
    }
    let mut s = format!(
        "{} examples with two or more annotators\n",
        r.examples.len()
    );
    for e in &r.examples {
        let labels: Vec<String> = e.labels.iter().map(|(l, c)| format!("{l}×{c}")).collect();
        s += &format!(
            "  {:<30} agreement {:.3} (entropy {:.3})  {}\n",
            e.locator,
            e.agreement,
            e.entropy,
            labels.join(" ")
        );
    }
    s += "\nannotators (agreement with the majority label):\n";
    for a in &r.annotators {
        let share = a.agreement.map_or("-".to_string(), |v| format!("{v:.3}"));
        s += &format!(
            "  {:<20} {share}  ({} of {})\n",
            a.annotator, a.agreed, a.compared
        );
    }
    s += &format!(
        "\n{} examples to relabel (annotators disagree, or confidence below {}):\n",
        r.relabel.len(),
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
