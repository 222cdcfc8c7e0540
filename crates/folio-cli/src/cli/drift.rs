//! `folio drift`.

use std::path::PathBuf;

use super::{Ctx, Failure, Result, out, out_json};
use folio_core::drift::report::{DriftOptions, DriftReport, RowFilter, Selection};
use folio_core::drift::{Rule, TableDrift, parse_metric};
use folio_core::id::CommitId;
use folio_core::repo::Repo;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The reference commit
    reference: String,
    /// The current commit (or, with --series, a range A..B: each commit
    /// after A up to B, along first parents)
    current: String,
    /// Tables or dataset folders to compare (default: all)
    paths: Vec<PathBuf>,
    /// Compare only this column (repeatable)
    #[arg(long = "column", value_name = "NAME")]
    columns: Vec<String>,
    /// Leave out columns matching this glob, e.g. 'annotator*' (repeatable)
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Compare only the rows CURRENT added or changed since REFERENCE
    #[arg(long)]
    added: bool,
    /// Compare only examples from this source, on both sides
    #[arg(long, value_name = "SOURCE")]
    where_source: Option<String>,
    /// Compare only examples whose latest label is this, on both sides
    #[arg(long, value_name = "LABEL")]
    where_label: Option<String>,
    /// Only reference examples from this source
    #[arg(long, value_name = "SOURCE", conflicts_with = "where_source")]
    ref_where_source: Option<String>,
    /// Only reference examples with this latest label
    #[arg(long, value_name = "LABEL", conflicts_with = "where_label")]
    ref_where_label: Option<String>,
    /// Only current examples from this source
    #[arg(long, value_name = "SOURCE", conflicts_with = "where_source")]
    cur_where_source: Option<String>,
    /// Only current examples with this latest label
    #[arg(long, value_name = "LABEL", conflicts_with = "where_label")]
    cur_where_label: Option<String>,
    /// Metadata columns (mapped to the ledger) and the ledger's label and
    /// confidence count toward the verdict
    #[arg(long)]
    count_metadata: bool,
    /// Whose default tests and thresholds decide each column: folio,
    /// evidently or nannyml (docs/DRIFT.md, "Presets")
    #[arg(long, value_name = "NAME")]
    preset: Option<String>,
    /// Bins of numeric columns, from the reference's quantiles (default 10)
    #[arg(long, value_name = "N")]
    bins: Option<usize>,
    /// A table drifts when this share of its columns drifts (default 0.5)
    #[arg(long, value_name = "X")]
    share: Option<f64>,
    /// A column drifts when its missing rate moves by this much (default 0.1)
    #[arg(long, value_name = "X")]
    missing: Option<f64>,
    /// The metric of a column's verdict, as COLUMN=METRIC (repeatable):
    /// psi, jensen_shannon, kl, hellinger, l_infinity, ks, ks_p,
    /// chi_square_p or wasserstein_norm (docs/DRIFT.md defines each)
    #[arg(long, value_name = "COLUMN=METRIC")]
    metric: Vec<String>,
    /// The threshold of a column's verdict, as COLUMN=X (repeatable)
    #[arg(long, value_name = "COLUMN=X")]
    threshold: Vec<String>,
    /// Every figure and definition as JSON
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML report to FILE
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Exit with 3 when anything drifted (for CI and retraining triggers)
    #[arg(long)]
    fail_on_drift: bool,
    /// Write the current examples in the most-grown bin or category of
    /// each drifted column, lowest confidence first, as CSV to FILE: fill
    /// in `label` and give it to `folio annotate --file FILE`
    #[arg(long, value_name = "FILE")]
    relabel_queue: Option<PathBuf>,
    /// Compare each commit of the range CURRENT (A..B) against REFERENCE
    #[arg(long)]
    series: bool,
}

fn options(ctx: &Ctx, repo: &Repo, a: &Args) -> Result<DriftOptions> {
    let paths = a
        .paths
        .iter()
        .map(|p| repo.dataset_path(&ctx.cwd.join(p)))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut opts = repo
        .config()?
        .drift_options(paths)
        .map_err(|e| Failure::user(format!(".folio/config.toml: {e}")))?;
    let settings = &mut opts.settings;
    if let Some(p) = &a.preset {
        let preset = folio_core::drift::parse_preset(p)?;
        let share_set = a.share.is_some() || repo.config()?.drift.share.is_some();
        folio_core::drift::apply_preset(settings, preset, share_set);
    }
    if let Some(b) = a.bins {
        settings.bins = folio_core::drift::check_bins(b)?;
    }
    if let Some(x) = a.share {
        settings.share = folio_core::drift::check_unit("--share", x)?;
    }
    if let Some(x) = a.missing {
        settings.missing = folio_core::drift::check_unit("--missing", x)?;
    }
    let split = |s: &str, flag: &str| -> Result<(String, String)> {
        s.rsplit_once('=')
            .map(|(c, v)| (c.to_string(), v.to_string()))
            .filter(|(c, v)| !c.is_empty() && !v.is_empty())
            .ok_or_else(|| Failure::user(format!("{flag} '{s}': write COLUMN=VALUE")))
    };
    for m in &a.metric {
        let (col, name) = split(m, "--metric")?;
        let metric = parse_metric(&name).map_err(|e| Failure::user(format!("--metric {e}")))?;
        opts.named.push(("--metric".into(), col.clone()));
        settings
            .rules
            .entry(col)
            .or_insert_with(Rule::default)
            .metric = Some(metric);
    }
    for t in &a.threshold {
        let (col, v) = split(t, "--threshold")?;
        let x: f64 = v
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite())
            .ok_or_else(|| Failure::user(format!("--threshold '{t}': '{v}' is not a number")))?;
        opts.named.push(("--threshold".into(), col.clone()));
        settings
            .rules
            .entry(col)
            .or_insert_with(Rule::default)
            .threshold = Some(x);
    }
    let flags = Selection {
        added: a.added,
        reference: RowFilter {
            source: a
                .ref_where_source
                .clone()
                .or_else(|| a.where_source.clone()),
            label: a.ref_where_label.clone().or_else(|| a.where_label.clone()),
        },
        current: RowFilter {
            source: a
                .cur_where_source
                .clone()
                .or_else(|| a.where_source.clone()),
            label: a.cur_where_label.clone().or_else(|| a.where_label.clone()),
        },
        exclude: a.exclude.clone(),
        columns: a.columns.clone(),
        count_metadata: a.count_metadata,
    };
    flags.exclusions()?;
    opts.named.extend(
        a.columns
            .iter()
            .map(|c| ("--column".to_string(), c.clone())),
    );
    opts.patterns.extend(
        a.exclude
            .iter()
            .map(|p| ("--exclude".to_string(), p.clone())),
    );
    opts.selection = opts.selection.overlay(&flags);
    Ok(opts)
}

fn num(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x != 0.0 && x.abs() < 1e-4 => format!("{x:.2e}"),
        Some(x) => format!("{x:.4}"),
    }
}

fn table_text(t: &TableDrift) -> String {
    let mut s = format!(
        "\n{}  {} → {} {}: {} of {} columns drifted ({:.0}%) — {}\n",
        t.path,
        t.rows.0,
        t.rows.1,
        if t.path.ends_with('/') {
            "files"
        } else {
            "rows"
        },
        t.drifted_columns,
        t.counted_columns,
        t.drifted_share * 100.0,
        if t.drifted { "DRIFTED" } else { "stable" }
    );
    for line in &t.selected {
        s += &format!("  selected: {line}\n");
    }
    if let Some(n) = &t.note {
        s += &format!("  {n}\n");
    }
    for n in &t.notes {
        s += &format!("  note: {n}\n");
    }
    for sc in &t.schema {
        s += &format!("  schema: column {} {}\n", sc.column, sc.change);
    }
    if !t.key.is_empty() {
        s += &format!("  key (not compared): {}\n", t.key.join(", "));
    }
    if t.columns.is_empty() && t.metadata.is_empty() {
        return s;
    }
    let w = t
        .columns
        .iter()
        .chain(&t.metadata)
        .map(|c| c.column.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    s += &columns_text(&t.columns, w);
    if !t.metadata.is_empty() {
        s += &format!(
            "  metadata and labels ({}):\n",
            if t.selection.count_metadata {
                "counted toward the verdict"
            } else {
                "not counted toward the verdict"
            }
        );
        s += &columns_text(&t.metadata, w);
    }
    s
}

/// A table of compared columns, `w` wide for names.
fn columns_text(columns: &[folio_core::drift::ColumnDrift], w: usize) -> String {
    let mut s = String::new();
    if columns.is_empty() {
        return s;
    }
    // Preset metrics have long names: the column is as wide as they are.
    let mw = columns
        .iter()
        .map(|c| c.metric.name().len())
        .max()
        .unwrap_or(6)
        .max(16);
    s += &format!(
        "  {:<w$}  {:<11}  {:<mw$}  {:>10}  {:>10}  {:>15}  {}\n",
        "column", "kind", "metric", "value", "threshold", "missing", "drifted"
    );
    for c in columns {
        let kind = format!("{:?}", c.kind).to_lowercase();
        let thr = match c.metric {
            folio_core::drift::Metric::EvidentlyKsP => format!("≤ {}", c.threshold),
            folio_core::drift::Metric::NannymlJensenShannon => format!("> {}", c.threshold),
            m if m.is_p_value() => format!("< {}", c.threshold),
            _ => format!("≥ {}", c.threshold),
        };
        let crossed = c.value.is_some_and(|v| c.metric.crossed(v, c.threshold));
        let missing = format!(
            "{:.1}%→{:.1}%",
            c.missing.reference * 100.0,
            c.missing.current * 100.0
        );
        s += &format!(
            "  {:<w$}  {:<11}  {:<mw$}  {:>10}  {:>10}  {:>15}  {}\n",
            c.column,
            kind,
            c.metric.name(),
            num(c.value),
            thr,
            missing,
            match (c.drifted, crossed, c.missing.drifted) {
                (false, _, _) => "no",
                (true, true, true) => "yes (and missing)",
                (true, false, true) => "yes (missing)",
                _ => "yes",
            }
        );
        if let Some(b) = &c.bins {
            let what = if c.kind == folio_core::drift::Kind::Text {
                "length bins"
            } else {
                "bins"
            };
            s += &format!("  {:<w$}  {what}: {} from the {}\n", "", b.count, b.source);
        }
        for (what, list) in [
            ("new", &c.new_categories),
            ("vanished", &c.vanished_categories),
        ] {
            if !list.is_empty() {
                let items: Vec<String> = list
                    .iter()
                    .take(5)
                    .map(|(k, v)| format!("{k} ({:.1}%)", v * 100.0))
                    .collect();
                let more = if list.len() > 5 {
                    format!(" and {} more", list.len() - 5)
                } else {
                    String::new()
                };
                s += &format!("  {:<w$}  {what}: {}{more}\n", "", items.join(", "));
            }
        }
        if let Some(n) = &c.note {
            s += &format!("  {:<w$}  note: {n}\n", "");
        }
    }
    s
}

fn report_text(r: &DriftReport) -> String {
    let mut s = format!(
        "drift {} → {}: {}{}\n",
        r.reference.short(12),
        r.current.short(12),
        if r.drifted { "DRIFTED" } else { "no drift" },
        match r.preset {
            folio_core::drift::preset::Preset::Folio => String::new(),
            p => format!(" (preset {})", p.name()),
        }
    );
    for t in &r.tables {
        s += &table_text(t);
    }
    s + "\n" + &r.footer()
}

/// The commits of `range` (A..B), oldest first.
fn range(repo: &Repo, range: &str) -> Result<Vec<CommitId>> {
    let (a, b) = range
        .split_once("..")
        .ok_or_else(|| Failure::user(format!("--series needs a range A..B, not '{range}'")))?;
    Ok(repo.first_parent_range(range, repo.resolve(a)?, repo.resolve(b)?)?)
}

/// One line of `--series`.
fn series_line(r: &DriftReport, time: i64, message: &str) -> String {
    let (cols, drifted, worst, more) = r.drifted_columns(3);
    let worst = match (worst.is_empty(), more) {
        (true, _) => String::new(),
        (false, 0) => format!(" ({})", worst.join(", ")),
        (false, n) => format!(" ({} +{n} more)", worst.join(", ")),
    };
    format!(
        "{}  {}  {:<9} {drifted}/{cols} columns drifted{worst}  {}\n",
        r.current.short(12),
        chrono::DateTime::from_timestamp(time, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default(),
        if r.drifted { "DRIFTED" } else { "stable" },
        message.lines().next().unwrap_or("")
    )
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    let repo = ctx.repo()?;
    let opts = options(ctx, &repo, a)?;
    let reference = repo.resolve(&a.reference)?;
    if a.series {
        if a.html.is_some() || a.relabel_queue.is_some() {
            return Err(Failure::user(
                "--html and --relabel-queue write one comparison: drop --series",
            ));
        }
        let mut reports = Vec::new();
        let mut text = String::new();
        for c in range(&repo, &a.current)? {
            let r = repo.drift(reference, c, &opts)?;
            let commit = repo.read_commit(c)?;
            text += &series_line(&r, commit.time, &commit.message);
            reports.push(r);
        }
        let any = reports.iter().any(|r| r.drifted);
        if a.json {
            out_json(
                &serde_json::json!({"reference": reference.to_string(), "series": reports, "definitions": DriftReport::definitions_json()}),
            )?;
        } else {
            out(&text)?;
        }
        if a.fail_on_drift && any {
            return Err(Failure::silent(super::exit::DRIFTED));
        }
        return Ok(());
    }
    let current = repo.resolve(&a.current)?;
    let r = repo.drift(reference, current, &opts)?;
    if let Some(file) = &a.html {
        let path = ctx.cwd.join(file);
        folio_core::write_atomic(&path, folio_core::drift::html::render(&r).as_bytes()).map_err(
            |e| {
                Failure::from(std::io::Error::new(
                    e.kind(),
                    format!("{}: {e}", path.display()),
                ))
            },
        )?;
        ctx.hint(&format!("wrote {}", file.display()));
    }
    if let Some(file) = &a.relabel_queue {
        let q = repo.relabel_queue(&r, &opts)?;
        let path = ctx.cwd.join(file);
        folio_core::write_atomic(&path, &q.to_csv()).map_err(|e| {
            Failure::from(std::io::Error::new(
                e.kind(),
                format!("{}: {e}", path.display()),
            ))
        })?;
        for (table, s) in &q.spots {
            ctx.hint(&format!(
                "{table}: {} in {} ({:.1}% → {:.1}%)",
                s.column,
                s.label,
                s.shares.0 * 100.0,
                s.shares.1 * 100.0
            ));
        }
        for table in &q.unlabelled {
            ctx.hint(&format!(
                "{table}: drifted, but no selected example has a label: nothing to relabel"
            ));
        }
        ctx.hint(&format!(
            "wrote {} to relabel to {}: fill in 'label' (and 'annotator', 'confidence' if you wish), delete rows you keep as they are, then run: folio annotate --file {}",
            super::count(q.entries.len() as u64, "example"),
            file.display(),
            file.display()
        ));
    }
    if a.json {
        let mut v = serde_json::to_value(&r).map_err(|e| Failure::user(e.to_string()))?;
        v["definitions"] = DriftReport::definitions_json();
        out_json(&v)?;
    } else {
        out(&report_text(&r))?;
    }
    if a.fail_on_drift && r.drifted {
        return Err(Failure::silent(super::exit::DRIFTED));
    }
    Ok(())
}
