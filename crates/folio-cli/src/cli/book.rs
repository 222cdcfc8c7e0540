//! `folio book`: policies, schedules and book value.

use super::{Ctx, Failure, Result, out, out_json};
use folio_core::book::PolicyConfig;
use folio_core::book::report::ScheduleOptions;
use folio_core::book::report::{BookError, By, Month, PeriodKind, Schedule};
use folio_core::ledger::money::format_minor;
use folio_core::repo::RepoError;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: BookCommand,
}

#[derive(clap::Subcommand, Debug)]
enum BookCommand {
    /// Show every dataset's asset policy, or set one
    Policy(PolicyArgs),
    /// The depreciation schedule: per period, opening, additions,
    /// depreciation, impairment, disposals, closing, accumulated depreciation
    Schedule(ScheduleArgs),
    /// The carrying (book) value of the examples in a snapshot
    Value(ValueArgs),
    /// Write a dataset's carrying amount down (or propose it from drift)
    #[command(
        override_usage = "folio book impair <DATASET> --amount <AMOUNT> --reason <TEXT> [--dry-run]\n       folio book impair <DATASET> --from-drift <REF> <CUR> [--apply] [--reason <TEXT>]"
    )]
    Impair(ImpairArgs),
    /// The data balance sheet: per dataset and source, cost, accumulated
    /// depreciation, carrying amount, share, confidence, drift, sensitivity
    Portfolio(PortfolioArgs),
}

#[derive(clap::Args, Debug)]
struct PortfolioArgs {
    /// The date (YYYY-MM or YYYY-MM-DD; the end of its month; default: this month)
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    /// Print as JSON
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print as CSV (amounts in minor units)
    #[arg(long)]
    csv: bool,
    /// Also write a self-contained HTML page to FILE
    #[arg(long, value_name = "FILE")]
    html: Option<std::path::PathBuf>,
}

#[derive(clap::Args, Debug)]
struct ImpairArgs {
    /// The dataset (its path)
    dataset: String,
    /// The loss, a decimal amount in the dataset's currency
    #[arg(
        long,
        required_unless_present = "from_drift",
        conflicts_with = "from_drift",
        allow_hyphen_values = true
    )]
    amount: Option<String>,
    /// Why (recorded in the ledger)
    #[arg(long, required_unless_present = "from_drift")]
    reason: Option<String>,
    /// Propose the amount from the drift between REF and CUR: the share of
    /// drifted columns times the carrying amount
    #[arg(long, num_args = 2, value_names = ["REF", "CUR"])]
    from_drift: Option<Vec<String>>,
    /// With --from-drift: record the proposal
    #[arg(long, requires = "from_drift")]
    apply: bool,
    /// Print the event that would be recorded, and record nothing
    #[arg(long)]
    dry_run: bool,
    /// Who records the event (default: as for commit)
    #[arg(long)]
    author: Option<String>,
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct PolicyArgs {
    /// The dataset (its path); with no option, show its policy
    dataset: Option<String>,
    /// straight-line, declining-balance, sum-of-years-digits or units-of-use
    #[arg(long)]
    method: Option<String>,
    /// Useful life in months
    #[arg(long, value_name = "MONTHS")]
    life: Option<u32>,
    /// Residual value as a share of cost, 0 to 1 (default 0)
    #[arg(long, value_name = "SHARE")]
    residual: Option<f64>,
    /// full-month (default), mid-month or next-month
    #[arg(long)]
    convention: Option<String>,
    /// Declining-balance factor (default 2.0)
    #[arg(long)]
    factor: Option<f64>,
    /// Units of use: training runs expected over the life
    #[arg(long, value_name = "N")]
    expected_runs: Option<u64>,
    /// The ISO 4217 currency of the dataset's costs
    #[arg(long)]
    currency: Option<String>,
    /// Apply the change from this month on (YYYY-MM or a date): a change of
    /// estimate, prospectively. Once the dataset is on the book, changes
    /// always apply from a month (default: this one)
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct ScheduleArgs {
    /// Only this dataset
    #[arg(long)]
    dataset: Option<String>,
    /// First month (YYYY-MM or a date; default: the first lot's)
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// Last month (default: when the last lot is fully depreciated)
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    /// month, quarter or year
    #[arg(long, default_value = "month")]
    period: String,
    /// tranche, dataset or source
    #[arg(long, default_value = "dataset")]
    by: String,
    /// Print as JSON
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print as CSV (amounts in minor units)
    #[arg(long)]
    csv: bool,
    /// Also write a self-contained HTML page to FILE
    #[arg(long, value_name = "FILE")]
    html: Option<std::path::PathBuf>,
}

#[derive(clap::Args, Debug)]
struct ValueArgs {
    /// The snapshot (default HEAD)
    rev: Option<String>,
    /// The snapshot, as every command names a revision (the same as REV)
    #[arg(long = "rev", value_name = "REV", conflicts_with = "rev")]
    rev_flag: Option<String>,
    /// The date (YYYY-MM or YYYY-MM-DD; the end of its month; default: this month)
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

fn month(s: &str, flag: &str) -> Result<Month> {
    Month::parse(s).ok_or_else(|| {
        Failure::user(format!(
            "{flag} '{s}' is not a date: write YYYY-MM or YYYY-MM-DD"
        ))
    })
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    match &a.command {
        BookCommand::Policy(p) => policy(ctx, p),
        BookCommand::Schedule(s) => schedule(ctx, s),
        BookCommand::Value(v) => value(ctx, v),
        BookCommand::Impair(i) => impair(ctx, i),
        BookCommand::Portfolio(p) => portfolio(ctx, p),
    }
}

fn write_html(ctx: &Ctx, file: &std::path::Path, page: &str) -> Result {
    let path = ctx.cwd.join(file);
    folio_core::write_atomic(&path, page.as_bytes()).map_err(|e| {
        Failure::from(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        ))
    })?;
    ctx.hint(&format!("wrote {}", file.display()));
    Ok(())
}

fn portfolio(ctx: &Ctx, a: &PortfolioArgs) -> Result {
    let repo = ctx.repo()?;
    let as_of = match &a.as_of {
        Some(s) => month(s, "--as-of")?,
        None => Month::of_time(super::commit::now()?),
    };
    let p = repo
        .book_portfolio(as_of)
        .map_err(|e| currencies(e, "portfolio"))?;
    if let Some(f) = &a.html {
        write_html(ctx, f, &folio_core::book::html::portfolio(&p))?;
    }
    if a.json {
        return out_json(&p);
    }
    let c = &p.currency;
    if a.csv {
        let mut w = csv::Writer::from_writer(Vec::new());
        let io = |e: csv::Error| Failure::user(e.to_string());
        w.write_record([
            "kind",
            "name",
            "currency",
            "cost_minor",
            "accumulated_minor",
            "carrying_minor",
            "share",
            "mean_confidence",
            "sensitivity",
            "drift",
        ])
        .map_err(io)?;
        for r in &p.rows {
            let sens: Vec<String> = r
                .sensitivity
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            w.write_record([
                r.kind.to_string(),
                r.name.clone(),
                c.clone(),
                r.cost.to_string(),
                r.accumulated.to_string(),
                r.carrying.to_string(),
                format!("{:.6}", r.share),
                r.mean_confidence
                    .map_or(String::new(), |x| format!("{x:.6}")),
                sens.join(";"),
                r.drift.clone().unwrap_or_default(),
            ])
            .map_err(io)?;
        }
        let bytes = w.into_inner().map_err(|e| Failure::user(e.to_string()))?;
        return out(&String::from_utf8_lossy(&bytes));
    }
    let mut s = format!(
        "data balance sheet at the end of {}: carrying amount {} {c} of cost {} {c}\n",
        p.as_of,
        format_minor(p.carrying, c),
        format_minor(p.cost, c)
    );
    let w = p
        .rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    s += &format!(
        "\n{:<8} {:<w$} {:>12} {:>12} {:>12} {:>7} {:>6}  {:<8} sensitivity\n",
        "", "name", "cost", "accumulated", "carrying", "share", "conf", "drift"
    );
    for r in &p.rows {
        let sens: Vec<String> = r
            .sensitivity
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        s += &format!(
            "{:<8} {:<w$} {:>12} {:>12} {:>12} {:>6.1}% {:>6}  {:<8} {}\n",
            r.kind,
            r.name,
            format_minor(r.cost, c),
            format_minor(r.accumulated, c),
            format_minor(r.carrying, c),
            r.share * 100.0,
            r.mean_confidence.map_or("-".into(), |x| format!("{x:.3}")),
            r.drift.as_deref().unwrap_or("-"),
            sens.join(", ")
        );
    }
    out(&s)
}

fn impair(ctx: &Ctx, a: &ImpairArgs) -> Result {
    let repo = ctx.repo()?;
    let dataset = repo.dataset_path(&ctx.cwd.join(&a.dataset))?;
    let who = super::record::recorder(a.author.as_deref(), a.dry_run)?;
    let imp = match &a.from_drift {
        Some(revs) => {
            let (r, c) = (repo.resolve(&revs[0])?, repo.resolve(&revs[1])?);
            let settings = repo
                .config()?
                .drift_settings()
                .map_err(|e| Failure::user(format!(".folio/config.toml: {e}")))?;
            let (mut imp, _) =
                repo.book_impairment_from_drift(&dataset, r, c, settings, who.time)?;
            if let Some(reason) = &a.reason {
                imp.reason = format!("{reason} ({})", imp.reason);
            }
            if a.apply && imp.amount > 0 {
                let lock = repo.lock(ctx.wait)?;
                let amount = format_minor(imp.amount, &imp.currency);
                repo.book_impair(&lock, &dataset, &amount, &imp.reason, &who)?
            } else {
                imp
            }
        }
        None => {
            let lock = repo.lock(ctx.wait)?;
            repo.book_impair(
                &lock,
                &dataset,
                a.amount.as_deref().expect("clap requires it"),
                a.reason.as_deref().expect("clap requires it"),
                &who,
            )?
        }
    };
    if super::record::previewed(&repo, &who)? {
        return Ok(());
    }
    if a.json {
        return out_json(&imp);
    }
    let c = &imp.currency;
    let mut s = if !imp.recorded && imp.amount == 0 {
        format!(
            "nothing to impair in {}: {} (carrying amount {} {c} at the end of {})\n",
            imp.dataset,
            imp.reason,
            format_minor(imp.carrying, c),
            imp.month
        )
    } else {
        format!(
            "{} {} by {} {c} in {} (carrying amount {} {c} → {} {c}): {}\n",
            if imp.recorded {
                "impaired"
            } else {
                "proposed impairment of"
            },
            imp.dataset,
            format_minor(imp.amount, c),
            imp.month,
            format_minor(imp.carrying, c),
            format_minor(imp.carrying - imp.amount, c),
            imp.reason
        )
    };
    if !imp.recorded && imp.amount > 0 {
        s += "rule: the share of the dataset's compared columns that drifted, times its carrying amount; add --apply to record it\n";
    }
    out(&s)
}

fn policy(ctx: &Ctx, a: &PolicyArgs) -> Result {
    let repo = ctx.repo()?;
    let update = folio_core::book::PolicyUpdate {
        settings: PolicyConfig {
            method: a.method.clone(),
            factor: a.factor,
            life: a.life,
            residual: a.residual,
            convention: a.convention.clone(),
            expected_runs: a.expected_runs,
            currency: a.currency.clone(),
            changes: Vec::new(),
        },
        from: a.from.as_deref().map(|s| month(s, "--from")).transpose()?,
    };
    if !update.is_empty() {
        let Some(d) = &a.dataset else {
            return Err(Failure::user("give the DATASET whose policy to set"));
        };
        let d = repo.dataset_path(&ctx.cwd.join(d))?;
        let lock = repo.lock(ctx.wait)?;
        repo.update_book_policy(&lock, &d, &update, super::commit::now()?)?;
    }
    let mut policies = repo.book_policies()?;
    if let Some(d) = &a.dataset {
        let d = repo.dataset_path(&ctx.cwd.join(d))?;
        policies.retain(|k, _| *k == d);
        if policies.is_empty() {
            return Err(folio_core::book::report::BookError::NoPolicy(d).into());
        }
    }
    if a.json {
        return out_json(&policies);
    }
    if policies.is_empty() {
        return out(
            "no book policy: set one with `folio book policy DATASET --method straight-line --life 18`\n",
        );
    }
    let mut s = String::new();
    for (d, p) in &policies {
        let extra = match p.method {
            folio_core::book::Method::DecliningBalance { factor } => format!(" (factor {factor})"),
            folio_core::book::Method::UnitsOfUse { expected_runs } => {
                format!(" ({expected_runs} runs expected)")
            }
            _ => String::new(),
        };
        s += &format!(
            "{d}: {}{extra}, {} months, residual {}% of cost, {}{}\n",
            p.method.name(),
            p.life,
            p.residual * 100.0,
            p.convention.name(),
            p.currency
                .as_deref()
                .map(|c| format!(", in {c}"))
                .unwrap_or_default()
        );
        for (from, c) in &p.changes {
            s += &format!(
                "  from {from}: {}, {} months from placed in service, residual {}% of cost\n",
                c.method.name(),
                c.life,
                c.residual * 100.0
            );
        }
    }
    out(&s)
}

fn schedule_text(s: &Schedule) -> String {
    use std::fmt::Write;
    let c = &s.currency;
    let digits = folio_core::ledger::money::exponent(c).unwrap_or(2);
    let m = |v: i64| folio_core::ledger::money::format_digits(v, digits);
    // Widths without formatting every amount twice: an amount's width is
    // its integer digits, the sign, the point and the decimals.
    let width = |v: i64| {
        let int = (v.unsigned_abs() / 10u64.pow(digits)).max(1);
        int.ilog10() as usize
            + 1
            + usize::from(v < 0)
            + if digits > 0 { 1 + digits as usize } else { 0 }
    };
    let heads = [
        "key",
        "period",
        "opening",
        "additions",
        "depreciation",
        "impairment",
        "disposals",
        "closing",
        "accumulated",
    ];
    let all = || s.rows.iter().chain(&s.totals);
    let mut w: Vec<usize> = heads.iter().map(|h| h.len()).collect();
    for r in all() {
        let vals = [
            r.opening,
            r.additions,
            r.depreciation,
            r.impairment,
            r.disposals,
            r.closing,
            r.accumulated,
        ];
        w[0] = w[0].max(r.key.chars().count());
        w[1] = w[1].max(r.period.len());
        for (i, v) in vals.into_iter().enumerate() {
            w[i + 2] = w[i + 2].max(width(v));
        }
    }
    let mut out = format!(
        "book schedule {} to {} by {}, per {}, in {c}\n",
        s.from,
        s.to,
        format!("{:?}", s.by).to_lowercase(),
        format!("{:?}", s.period).to_lowercase()
    );
    let mut line = format!("{:<a$}  {:<b$}", heads[0], heads[1], a = w[0], b = w[1]);
    for i in 2..9 {
        let _ = write!(line, "  {:>x$}", heads[i], x = w[i]);
    }
    out += line.trim_end();
    out.push('\n');
    for (k, r) in all().enumerate() {
        if k == s.rows.len() {
            out.push('\n');
        }
        let _ = write!(out, "{:<a$}  {:<b$}", r.key, r.period, a = w[0], b = w[1]);
        let vals = [
            r.opening,
            r.additions,
            r.depreciation,
            r.impairment,
            r.disposals,
            r.closing,
            r.accumulated,
        ];
        for (i, v) in vals.into_iter().enumerate() {
            let _ = write!(out, "  {:>x$}", m(v), x = w[i + 2]);
        }
        out.push('\n');
    }
    let dep: i64 = s.totals.iter().map(|r| r.depreciation).sum();
    let imp: i64 = s.totals.iter().map(|r| r.impairment).sum();
    let disp: i64 = s.totals.iter().map(|r| r.disposals).sum();
    let add: i64 = s.totals.iter().map(|r| r.additions).sum();
    let _ = write!(
        out,
        "\ntotals: additions {}, depreciation {}, impairment {}, disposals {}; opening + additions − depreciation − impairment − disposals = closing in every row\n",
        m(add),
        m(dep),
        m(imp),
        m(disp)
    );
    out
}

fn schedule(ctx: &Ctx, a: &ScheduleArgs) -> Result {
    let repo = ctx.repo()?;
    let period = match a.period.as_str() {
        "month" => PeriodKind::Month,
        "quarter" => PeriodKind::Quarter,
        "year" => PeriodKind::Year,
        p => {
            return Err(Failure::user(format!(
                "--period '{p}': use month, quarter or year"
            )));
        }
    };
    let by = match a.by.as_str() {
        "tranche" => By::Tranche,
        "dataset" => By::Dataset,
        "source" => By::Source,
        b => {
            return Err(Failure::user(format!(
                "--by '{b}': use tranche, dataset or source"
            )));
        }
    };
    let dataset = a
        .dataset
        .as_ref()
        .map(|d| repo.dataset_path(&ctx.cwd.join(d)))
        .transpose()?;
    let o = ScheduleOptions {
        dataset,
        from: a.from.as_deref().map(|s| month(s, "--from")).transpose()?,
        to: a.to.as_deref().map(|s| month(s, "--to")).transpose()?,
        period,
        by,
    };
    let s = repo
        .book_schedule(&o)
        .map_err(|e| currencies(e, "schedule"))?;
    if let Some(f) = &a.html {
        write_html(ctx, f, &folio_core::book::html::schedule(&s))?;
    }
    if a.json {
        return out_json(&s);
    }
    if a.csv {
        let mut w = csv::Writer::from_writer(Vec::new());
        let io = |e: csv::Error| Failure::user(e.to_string());
        w.write_record([
            "key",
            "period",
            "currency",
            "opening_minor",
            "additions_minor",
            "depreciation_minor",
            "impairment_minor",
            "disposals_minor",
            "closing_minor",
            "accumulated_minor",
        ])
        .map_err(io)?;
        for r in s.rows.iter().chain(&s.totals) {
            w.write_record([
                r.key.clone(),
                r.period.clone(),
                s.currency.clone(),
                r.opening.to_string(),
                r.additions.to_string(),
                r.depreciation.to_string(),
                r.impairment.to_string(),
                r.disposals.to_string(),
                r.closing.to_string(),
                r.accumulated.to_string(),
            ])
            .map_err(io)?;
        }
        let bytes = w.into_inner().map_err(|e| Failure::user(e.to_string()))?;
        return out(&String::from_utf8_lossy(&bytes));
    }
    out(&schedule_text(&s))
}

fn value(ctx: &Ctx, a: &ValueArgs) -> Result {
    let repo = ctx.repo()?;
    let named = a.rev_flag.as_deref().or(a.rev.as_deref());
    let rev = repo.resolve(named.unwrap_or("HEAD"))?;
    let as_of = match &a.as_of {
        Some(s) => month(s, "--as-of")?,
        // FOLIO_NOW, like every command that needs the time.
        None => Month::of_time(super::commit::now()?),
    };
    let v = repo
        .book_value(rev, as_of)
        .map_err(|e| currencies(e, "value"))?;
    if a.json {
        return out_json(&v);
    }
    let c = &v.currency;
    let examples = |n: u64| format!("{n} example{}", if n == 1 { "" } else { "s" });
    let mut tail = String::new();
    if v.not_yet_booked > 0 {
        tail += &format!(
            "{} present not yet booked at the end of {}: their cost is booked from a later month\n",
            examples(v.not_yet_booked),
            v.as_of
        );
    }
    if v.without_cost > 0 {
        tail += &format!(
            "{} present with no cost basis, not on the book (record costs with `folio value` or a cost column)\n",
            examples(v.without_cost)
        );
    }
    if c.is_empty() {
        return out(&format!(
            "nothing of {} is on the book at the end of {}\n{tail}",
            v.commit.short(12),
            v.as_of
        ));
    }
    let mut s = format!(
        "book value of {} at the end of {}: {} {c} (cost {} {c})\n",
        v.commit.short(12),
        v.as_of,
        format_minor(v.carrying, c),
        format_minor(v.cost, c)
    );
    for (d, (cost, carrying)) in &v.datasets {
        s += &format!(
            "  {d}: {} {c} (cost {} {c})\n",
            format_minor(*carrying, c),
            format_minor(*cost, c)
        );
    }
    s += &tail;
    out(&s)
}

/// A report that would add currencies: what to do instead, for the
/// command that was run (only `schedule` has `--dataset`).
fn currencies(e: RepoError, command: &str) -> Failure {
    match e {
        RepoError::Book(BookError::Currencies(a, b)) => Failure::user(format!(
            "book {command}: the report would add {a} to {b}, and amounts in different currencies are never added: {}",
            if command == "schedule" {
                "give --dataset D to report one dataset (one currency) at a time".to_string()
            } else {
                format!(
                    "`folio book schedule --dataset D` reports one dataset at a time; `folio book {command}` needs the datasets it covers in one currency"
                )
            }
        )),
        other => other.into(),
    }
}
