//! `folio annotate`, `value`, `classify` and `trained`: ledger events that
//! change no data.

use super::commit::{author, now};
use super::{Ctx, Result, out};
use folio::repo::{Annotation, Recorder, Valuation};

/// Who records, from --author, FOLIO_AUTHOR or git's configuration.
fn recorder(flag: Option<&str>) -> Result<Recorder> {
    Ok(Recorder {
        actor: author(flag),
        time: now()?,
    })
}

#[derive(clap::Args, Debug)]
pub struct AnnotateArgs {
    /// An example id (or unique prefix), a file path, or TABLE:KEY for a row
    #[arg(required_unless_present = "from")]
    selector: Option<String>,
    /// The label
    #[arg(long, required_unless_present = "from")]
    label: Option<String>,
    /// Record every label of a CSV/TSV/JSONL file with columns example,
    /// label, annotator, confidence (e.g. a labelling tool's export)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["selector", "label", "confidence", "annotator"])]
    from: Option<std::path::PathBuf>,
    /// How sure the annotator is, 0 to 1
    #[arg(long, allow_hyphen_values = true)]
    confidence: Option<f64>,
    /// Who labelled it
    #[arg(long)]
    annotator: Option<String>,
    /// Who records the event (default: as for commit)
    #[arg(long)]
    author: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ValueArgs {
    /// An example id (or unique prefix), a file path, or TABLE:KEY for a row
    selector: String,
    /// Acquisition cost, a decimal amount (e.g. 12.50)
    #[arg(long, allow_hyphen_values = true)]
    cost: String,
    /// Labelling cost, a decimal amount
    #[arg(long, allow_hyphen_values = true)]
    labelling_cost: Option<String>,
    /// ISO 4217 currency code
    #[arg(long)]
    currency: String,
    /// Who was paid
    #[arg(long)]
    vendor: Option<String>,
    /// Who records the event (default: as for commit)
    #[arg(long)]
    author: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ClassifyArgs {
    /// An example id (or unique prefix), a file path, or TABLE:KEY for a row
    selector: String,
    /// public, internal, confidential or pii
    #[arg(long)]
    sensitivity: String,
    /// Who records the event (default: as for commit)
    #[arg(long)]
    author: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct TrainedArgs {
    /// The commit the model was trained on
    rev: String,
    /// The model's name
    #[arg(long)]
    model: String,
    /// The training run's id
    #[arg(long)]
    run: String,
    /// Who records the event (default: as for commit)
    #[arg(long)]
    author: Option<String>,
}

pub fn annotate(ctx: &Ctx, a: &AnnotateArgs) -> Result {
    let repo = ctx.repo()?;
    let lock = repo.lock(ctx.wait)?;
    let who = recorder(a.author.as_deref())?;
    if let Some(file) = &a.from {
        let path = if file.is_absolute() {
            file.clone()
        } else {
            ctx.cwd.join(file)
        };
        let n = repo.annotate_from(&lock, &path, &who)?;
        return out(&format!(
            "recorded {n} annotations from {}\n",
            file.display()
        ));
    }
    let (Some(selector), Some(label)) = (&a.selector, &a.label) else {
        return Err(super::Failure::user(
            "give SELECTOR and --label, or --from FILE",
        ));
    };
    let ann = Annotation {
        label: label.clone(),
        annotator: a.annotator.clone(),
        confidence: a.confidence,
    };
    repo.annotate(&lock, selector, &ann, &who)?;
    out(&format!("annotated {selector} as {label}\n"))
}

pub fn value(ctx: &Ctx, a: &ValueArgs) -> Result {
    let repo = ctx.repo()?;
    let lock = repo.lock(ctx.wait)?;
    let v = Valuation {
        cost: a.cost.clone(),
        labelling: a.labelling_cost.clone(),
        currency: a.currency.clone(),
        vendor: a.vendor.clone(),
    };
    repo.value(&lock, &a.selector, &v, &recorder(a.author.as_deref())?)?;
    out(&format!(
        "valued {} at {} {}\n",
        a.selector,
        a.cost,
        a.currency.to_ascii_uppercase()
    ))
}

pub fn classify(ctx: &Ctx, a: &ClassifyArgs) -> Result {
    let repo = ctx.repo()?;
    let lock = repo.lock(ctx.wait)?;
    repo.classify(
        &lock,
        &a.selector,
        &a.sensitivity,
        &recorder(a.author.as_deref())?,
    )?;
    out(&format!(
        "classified {} as {}\n",
        a.selector,
        a.sensitivity.to_ascii_lowercase()
    ))
}

pub fn trained(ctx: &Ctx, a: &TrainedArgs) -> Result {
    let repo = ctx.repo()?;
    let rev = repo.resolve(&a.rev)?;
    let lock = repo.lock(ctx.wait)?;
    let n = repo.trained(
        &lock,
        rev,
        &a.model,
        &a.run,
        &recorder(a.author.as_deref())?,
    )?;
    out(&format!(
        "recorded model {} (run {}) trained on {} ({n} datasets)\n",
        a.model,
        a.run,
        rev.0.short(12)
    ))
}
