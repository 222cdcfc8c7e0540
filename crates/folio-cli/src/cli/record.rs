//! `folio annotate`, `value`, `classify` and `trained`: ledger events that
//! change no data.

use super::commit::{author, now};
use super::{Ctx, Result, out};
use folio_core::repo::{Annotation, ExampleFilter, Recorder, Selector, Valuation};

/// Filters that select every present example they all match, instead of
/// one SELECTOR. They read `--where-…` because `annotate --label` and
/// `classify --sensitivity` are the values recorded.
#[derive(clap::Args, Debug, Default)]
pub struct FilterArgs {
    /// Examples from this source
    #[arg(long, value_name = "URI")]
    where_source: Option<String>,
    /// Examples of this dataset
    #[arg(long, value_name = "PATH")]
    where_dataset: Option<String>,
    /// Examples whose latest label is this
    #[arg(long, value_name = "LABEL")]
    where_label: Option<String>,
    /// Examples whose latest label came from this annotator
    #[arg(long, value_name = "NAME")]
    where_annotator: Option<String>,
    /// Examples of this sensitivity
    #[arg(long, value_name = "CLASS")]
    where_sensitivity: Option<String>,
    /// Examples whose latest confidence is at least this
    #[arg(long, value_name = "X", allow_hyphen_values = true)]
    min_confidence: Option<f64>,
    /// Examples whose latest confidence is at most this
    #[arg(long, value_name = "X", allow_hyphen_values = true)]
    max_confidence: Option<f64>,
}

impl FilterArgs {
    /// The filters given (empty when none).
    pub(super) fn filter(&self) -> ExampleFilter {
        ExampleFilter {
            source: self.where_source.clone(),
            dataset: self.where_dataset.clone(),
            label: self.where_label.clone(),
            annotator: self.where_annotator.clone(),
            sensitivity: self
                .where_sensitivity
                .as_ref()
                .map(|s| s.to_ascii_lowercase()),
            min_confidence: self.min_confidence,
            max_confidence: self.max_confidence,
        }
    }

    /// The selector: SELECTOR, or the filters (not both).
    fn selector(&self, one: Option<&String>) -> Result<Selector> {
        let f = self.filter();
        match (one, f.is_empty()) {
            (Some(s), true) => Ok(Selector::One(s.clone())),
            (Some(_), false) => Err(super::Failure::user(
                "give SELECTOR or --where-… filters, not both",
            )),
            (None, _) => Ok(Selector::Filter(f)),
        }
    }
}

/// How a selector reads in a confirmation.
fn named(sel: &Selector, n: u64) -> String {
    match sel {
        Selector::One(s) => s.clone(),
        Selector::Filter(_) => format!("{n} examples"),
    }
}

/// Who records, from --author, FOLIO_AUTHOR or git's configuration;
/// with `dry_run`, the events are only collected.
pub(super) fn recorder(flag: Option<&str>, dry_run: bool) -> Result<Recorder> {
    Ok(Recorder {
        actor: author(flag),
        time: now()?,
        dry_run: dry_run.then(Default::default),
    })
}

/// After a dry run: what would have been recorded, and `Ok(true)`; after a
/// real one, `Ok(false)`.
pub(super) fn previewed(repo: &folio_core::repo::Repo, who: &Recorder) -> Result<bool> {
    let Some(p) = &who.dry_run else {
        return Ok(false);
    };
    let drafts = p.lock().map(|d| d.clone()).unwrap_or_default();
    let lines = repo.describe_drafts(&drafts)?;
    let mut s = format!(
        "dry run: would record {} (nothing was recorded):\n",
        super::count(lines.len() as u64, "event")
    );
    for l in &lines {
        s += &format!(
            "  {}  {}  {}\n",
            super::visible(&l.subject),
            l.kind,
            super::visible(&l.payload.to_string())
        );
    }
    out(&s)?;
    Ok(true)
}

#[derive(clap::Args, Debug)]
pub struct AnnotateArgs {
    /// An example id (or unique prefix), a file path, or TABLE:KEY for a
    /// row (or select with --where-… filters)
    selector: Option<String>,
    #[command(flatten)]
    filters: FilterArgs,
    /// The label
    #[arg(long, required_unless_present = "file")]
    label: Option<String>,
    /// Record every label of a CSV/TSV/JSONL file with columns example,
    /// label, annotator, confidence (e.g. a labelling tool's export)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["selector", "label", "confidence", "annotator"])]
    file: Option<std::path::PathBuf>,
    /// How sure the annotator is, 0 to 1
    #[arg(long, allow_hyphen_values = true)]
    confidence: Option<f64>,
    /// Who labelled it
    #[arg(long)]
    annotator: Option<String>,
    /// Print the events that would be recorded, and record nothing
    #[arg(long)]
    dry_run: bool,
    /// Who records the event (default: as for commit)
    #[arg(long)]
    author: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ValueArgs {
    /// An example id (or unique prefix), a file path, or TABLE:KEY for a
    /// row (or select with --where-… filters)
    selector: Option<String>,
    #[command(flatten)]
    filters: FilterArgs,
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
    /// The amounts are for all the selected examples together: split them
    /// equally, to the minor unit
    #[arg(long)]
    batch: bool,
    /// Print the events that would be recorded, and record nothing
    #[arg(long)]
    dry_run: bool,
    /// Who records the event (default: as for commit)
    #[arg(long)]
    author: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ClassifyArgs {
    /// An example id (or unique prefix), a file path, or TABLE:KEY for a
    /// row (or select with --where-… filters)
    selector: Option<String>,
    #[command(flatten)]
    filters: FilterArgs,
    /// public, internal, confidential or pii
    #[arg(long)]
    sensitivity: String,
    /// Print the events that would be recorded, and record nothing
    #[arg(long)]
    dry_run: bool,
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
    let who = recorder(a.author.as_deref(), a.dry_run)?;
    if let Some(file) = &a.file {
        if a.filters
            .selector(None)
            .is_ok_and(|s| matches!(s, Selector::Filter(f) if !f.is_empty()))
        {
            return Err(super::Failure::user(
                "--from FILE names its examples: drop the --where-… filters",
            ));
        }
        let path = if file.is_absolute() {
            file.clone()
        } else {
            ctx.cwd.join(file)
        };
        let n = repo.annotate_from(&lock, &path, &who)?;
        if previewed(&repo, &who)? {
            return Ok(());
        }
        return out(&format!(
            "recorded {n} annotations from {}\n",
            file.display()
        ));
    }
    let Some(label) = &a.label else {
        return Err(super::Failure::user(
            "give SELECTOR (or --where-… filters) and --label, or --from FILE",
        ));
    };
    let sel = a.filters.selector(a.selector.as_ref())?;
    let ann = Annotation {
        label: label.clone(),
        annotator: a.annotator.clone(),
        confidence: a.confidence,
    };
    let n = repo.annotate(&lock, &sel, &ann, &who)?;
    if previewed(&repo, &who)? {
        return Ok(());
    }
    out(&format!("annotated {} as {label}\n", named(&sel, n)))
}

pub fn value(ctx: &Ctx, a: &ValueArgs) -> Result {
    let repo = ctx.repo()?;
    let lock = repo.lock(ctx.wait)?;
    let v = Valuation {
        cost: a.cost.clone(),
        labelling: a.labelling_cost.clone(),
        currency: a.currency.clone(),
        vendor: a.vendor.clone(),
        batch: a.batch,
    };
    let sel = a.filters.selector(a.selector.as_ref())?;
    let who = recorder(a.author.as_deref(), a.dry_run)?;
    let n = repo.value(&lock, &sel, &v, &who)?;
    if previewed(&repo, &who)? {
        return Ok(());
    }
    out(&format!(
        "valued {} at {} {}{}\n",
        named(&sel, n),
        a.cost,
        a.currency.to_ascii_uppercase(),
        match (&sel, a.batch) {
            (_, true) => " in all",
            (Selector::Filter(_), false) => " each",
            _ => "",
        }
    ))
}

pub fn classify(ctx: &Ctx, a: &ClassifyArgs) -> Result {
    let repo = ctx.repo()?;
    let lock = repo.lock(ctx.wait)?;
    let sel = a.filters.selector(a.selector.as_ref())?;
    let who = recorder(a.author.as_deref(), a.dry_run)?;
    let n = repo.classify(&lock, &sel, &a.sensitivity, &who)?;
    if previewed(&repo, &who)? {
        return Ok(());
    }
    out(&format!(
        "classified {} as {}\n",
        named(&sel, n),
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
        &recorder(a.author.as_deref(), false)?,
    )?;
    out(&format!(
        "recorded model {} (run {}) trained on {} ({n} datasets)\n",
        a.model,
        a.run,
        rev.0.short(12)
    ))
}
