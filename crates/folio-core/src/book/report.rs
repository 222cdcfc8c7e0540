//! Lots and their schedules, aggregated by period and by tranche, dataset
//! or source, in exact minor units.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::{Convention, Method, Policy, charges};

/// A calendar month, counted from year 0 (`year * 12 + month - 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub i32);

impl Month {
    /// The month of a UTC time (seconds since the epoch).
    pub fn of_time(secs: i64) -> Month {
        use chrono::Datelike;
        let t = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
        Month(t.year() * 12 + t.month0() as i32)
    }

    /// Parses `YYYY-MM` or `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Month> {
        let s = s.trim();
        let ym = if s.len() == 10 {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
            &s[..7]
        } else {
            s
        };
        let (y, m) = ym.split_once('-')?;
        let (y, m): (i32, i32) = (y.parse().ok()?, m.parse().ok()?);
        ((1..=9999).contains(&y) && (1..=12).contains(&m) && ym.len() == 7)
            .then_some(Month(y * 12 + m - 1))
    }

    /// The month `n` later.
    pub fn plus(self, n: i32) -> Month {
        Month(self.0 + n)
    }

    /// The label of the period it falls in.
    pub fn period(self, kind: PeriodKind) -> String {
        let (y, m) = (self.0.div_euclid(12), self.0.rem_euclid(12) + 1);
        match kind {
            PeriodKind::Month => format!("{y:04}-{m:02}"),
            PeriodKind::Quarter => format!("{y:04}-Q{}", (m - 1) / 3 + 1),
            PeriodKind::Year => format!("{y:04}"),
        }
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.period(PeriodKind::Month))
    }
}

/// Reporting periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PeriodKind {
    /// Calendar months.
    Month,
    /// Calendar quarters.
    Quarter,
    /// Calendar years.
    Year,
}

/// How rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum By {
    /// One row per lot (commit × source).
    Tranche,
    /// One row per dataset.
    Dataset,
    /// One row per source.
    Source,
}

/// Examples one commit placed in service in one dataset from one source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lot {
    /// Dataset path.
    pub dataset: String,
    /// The commit that added them (none while not yet committed).
    pub commit: Option<crate::id::CommitId>,
    /// Their source (`(none)` when unrecorded; JSON `null`).
    #[serde(serialize_with = "none_as_null")]
    pub source: String,
    /// The month placed in service.
    #[serde(serialize_with = "month_str")]
    pub start: Month,
    /// ISO 4217 currency.
    pub currency: String,
    /// The part still held, and each part disposed of, by month.
    pub parts: Vec<Part>,
}

impl Lot {
    /// Its commit for humans: 12 hex digits, or `(not yet committed)`.
    pub fn commit_short(&self) -> String {
        self.commit
            .map_or_else(|| "(not yet committed)".to_string(), |c| c.short(12))
    }
}

/// Part of a lot: its cost and, when its examples left, the month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Part {
    /// Cost basis in minor units.
    #[serde(rename = "cost_minor")]
    pub cost: i64,
    /// When its examples were removed.
    #[serde(serialize_with = "opt_month_str")]
    pub disposed: Option<Month>,
}

/// `(none)`, the text for an unrecorded value, as JSON `null`.
pub(crate) fn none_as_null<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    if v == "(none)" {
        s.serialize_none()
    } else {
        s.serialize_str(v)
    }
}

fn month_str<S: serde::Serializer>(m: &Month, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&m.to_string())
}

fn opt_month_str<S: serde::Serializer>(m: &Option<Month>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => s.serialize_str(&m.to_string()),
        None => s.serialize_none(),
    }
}

impl Lot {
    /// Total cost.
    pub fn cost(&self) -> i64 {
        self.parts.iter().map(|p| p.cost).sum()
    }
}

/// One month of one part: what happened to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Moves {
    additions: i64,
    depreciation: i64,
    impairment: i64,
    disposals: i64,
}

/// Impairment losses recorded per dataset: (month, amount in minor units).
pub type Impairments = BTreeMap<String, Vec<(Month, i64)>>;

/// `round(num / den)` half away from zero, for num ≥ 0 and den > 0.
fn round_div(num: i128, den: i128) -> i128 {
    (2 * num + den) / (2 * den)
}

/// The monthly moves of a part, from its lot's start to `until`, with the
/// impairment losses allocated to it. After an impairment the rest of the
/// schedule is the current schedule's remainder scaled to the new
/// depreciable amount (carrying amount − residual), so later charges are
/// recomputed over the remaining life. A change of estimate from month q
/// depreciates the carrying amount at the start of q over the life left
/// under the new policy (its life less the months already in service), by
/// the new method, from q on (full months) — prospectively.
fn part_moves(
    lot: &Lot,
    part: &Part,
    policy: &Policy,
    runs: &dyn Fn(Month) -> u64,
    until: Month,
    impairments: &[(Month, i64)],
) -> BTreeMap<Month, Moves> {
    let periods = (until.0 - lot.start.0 + 1).max(0) as usize;
    // The policy in force when the lot was placed in service, and the
    // changes after it.
    let mut active = policy;
    let mut pending: Vec<(Month, &Policy)> = Vec::new();
    for (from, p) in &policy.changes {
        if *from <= lot.start {
            active = p;
        } else {
            pending.push((*from, p));
        }
    }
    let residual_of =
        |p: &Policy, cap: i64| ((part.cost as f64 * p.residual).round() as i64).min(cap);
    let mut residual = residual_of(active, part.cost);
    let by_period = |p: u32| runs(lot.start.plus(p as i32));
    let mut base = charges(
        part.cost,
        residual,
        active.life,
        &active.method,
        active.convention,
        &by_period,
        periods as u32,
    );
    let mut base_start = 0usize;
    let mut d = i128::from(part.cost - residual);
    let mut out: BTreeMap<Month, Moves> = BTreeMap::new();
    out.entry(lot.start).or_default().additions += part.cost;
    let (mut accumulated, mut impaired) = (0i64, 0i64);
    let mut cum_base: i128 = 0;
    // After an impairment: (new depreciable amount, base cumulative then).
    let mut anchor: Option<(i128, i128)> = None;
    let mut prev_scaled: i128 = 0;
    for p in 0..periods {
        let m = lot.start.plus(p as i32);
        if part.disposed.is_some_and(|x| m >= x) {
            break;
        }
        if let Some((_, np)) = pending.iter().find(|(f, _)| *f == m) {
            let carrying = part.cost - accumulated - impaired;
            residual = residual_of(np, carrying);
            let left = (i64::from(np.life) - p as i64).max(1) as u32;
            let before = runs(m.plus(-1));
            let seg_runs = |q: u32| runs(m.plus(q as i32)).saturating_sub(before);
            base = charges(
                carrying,
                residual,
                left,
                &np.method,
                Convention::FullMonth,
                &seg_runs,
                (periods - p) as u32,
            );
            base_start = p;
            d = i128::from(carrying - residual);
            cum_base = 0;
            anchor = None;
            prev_scaled = 0;
        }
        let step = i128::from(base.get(p - base_start).copied().unwrap_or(0));
        cum_base += step;
        let c = match anchor {
            None => step as i64,
            Some((dp, at)) => {
                let rest = d - at;
                let scaled = if rest <= 0 {
                    0
                } else {
                    round_div(dp * (cum_base - at), rest)
                };
                let c = scaled - prev_scaled;
                prev_scaled = scaled;
                c as i64
            }
        };
        if c != 0 {
            out.entry(m).or_default().depreciation += c;
        }
        accumulated += c;
        for (_, a) in impairments.iter().filter(|(q, _)| *q == m) {
            out.entry(m).or_default().impairment += a;
            impaired += a;
            let carrying = i128::from(part.cost - accumulated - impaired);
            anchor = Some(((carrying - i128::from(residual)).max(0), cum_base));
            prev_scaled = 0;
        }
    }
    if let Some(x) = part.disposed {
        out.entry(x.max(lot.start)).or_default().disposals += part.cost - accumulated - impaired;
    }
    out
}

/// The carrying amount of a part at the end of month `at` from its moves.
fn carrying_of(part: &Part, moves: &BTreeMap<Month, Moves>, at: Month) -> i64 {
    if part.disposed.is_some_and(|d| d <= at) {
        return 0;
    }
    part.cost
        - moves
            .iter()
            .filter(|(m, _)| **m <= at)
            .map(|(_, mv)| mv.depreciation + mv.impairment)
            .sum::<i64>()
}

/// Allocates each dataset's impairment losses over the parts it holds that
/// month, in proportion to their carrying amounts after that month's
/// depreciation (largest remainder, so the parts' shares sum exactly);
/// returns `[lot][part]` lists.
fn allocate(
    lots: &[Lot],
    policies: &BTreeMap<String, Policy>,
    runs: &Runs,
    impairments: &Impairments,
) -> Vec<Vec<Vec<(Month, i64)>>> {
    let mut out: Vec<Vec<Vec<(Month, i64)>>> = lots
        .iter()
        .map(|l| vec![Vec::new(); l.parts.len()])
        .collect();
    for (dataset, list) in impairments {
        let mut list = list.clone();
        list.sort();
        for (q, amount) in list {
            let mut held: Vec<(usize, usize, i64)> = Vec::new();
            for (i, lot) in lots
                .iter()
                .enumerate()
                .filter(|(_, l)| l.dataset == *dataset)
            {
                let Some(policy) = policies.get(&lot.dataset) else {
                    continue;
                };
                if lot.start > q {
                    continue;
                }
                for (j, part) in lot.parts.iter().enumerate() {
                    let moves = part_moves(lot, part, policy, &runs_fn(runs, lot), q, &out[i][j]);
                    let c = carrying_of(part, &moves, q);
                    if c > 0 {
                        held.push((i, j, c));
                    }
                }
            }
            let total: i128 = held.iter().map(|h| i128::from(h.2)).sum();
            if total == 0 {
                continue;
            }
            let a = i128::from(amount.min(total as i64));
            let mut shares: Vec<(i128, i128, usize)> = held
                .iter()
                .enumerate()
                .map(|(k, h)| {
                    let exact = a * i128::from(h.2);
                    (exact / total, exact % total, k)
                })
                .collect();
            let mut left = a - shares.iter().map(|s| s.0).sum::<i128>();
            let mut order: Vec<usize> = (0..shares.len()).collect();
            order.sort_by(|x, y| shares[*y].1.cmp(&shares[*x].1).then(x.cmp(y)));
            for k in order {
                if left == 0 {
                    break;
                }
                shares[k].0 += 1;
                left -= 1;
            }
            for (share, _, k) in shares {
                if share > 0 {
                    let (i, j, _) = held[k];
                    out[i][j].push((q, share as i64));
                }
            }
        }
    }
    out
}

/// One row of a schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The tranche, dataset or source.
    pub key: String,
    /// The period label.
    pub period: String,
    /// Carrying amount at the start of the period. Every amount is in
    /// minor units (JSON names end in `_minor`).
    #[serde(rename = "opening_minor")]
    pub opening: i64,
    /// Cost placed in service in the period.
    #[serde(rename = "additions_minor")]
    pub additions: i64,
    /// Depreciation charged.
    #[serde(rename = "depreciation_minor")]
    pub depreciation: i64,
    /// Impairment losses.
    #[serde(rename = "impairment_minor")]
    pub impairment: i64,
    /// Carrying amount derecognised on disposal.
    #[serde(rename = "disposals_minor")]
    pub disposals: i64,
    /// Carrying amount at the end: opening + additions − depreciation −
    /// impairment − disposals.
    #[serde(rename = "closing_minor")]
    pub closing: i64,
    /// Depreciation charged so far on what is still held.
    #[serde(rename = "accumulated_minor")]
    pub accumulated: i64,
    /// Cost of what is still held at the end.
    #[serde(rename = "cost_minor")]
    pub cost: i64,
}

/// A schedule: rows per key and period, and totals per period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    /// ISO 4217 currency of every amount.
    pub currency: String,
    /// First and last month covered.
    pub from: String,
    /// See `from`.
    pub to: String,
    /// Period length.
    pub period: PeriodKind,
    /// Grouping.
    pub by: By,
    /// Rows, by key then period.
    pub rows: Vec<Row>,
    /// All keys together, per period.
    pub totals: Vec<Row>,
}

/// Errors building a report.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BookError {
    /// Amounts in more than one currency.
    #[error("the report would add {0} to {1}: amounts in different currencies are never added")]
    Currencies(String, String),
    /// A dataset with lots has no policy.
    #[error(
        "dataset {0} has no book policy: set one with `folio book policy {0} --method straight-line --life 18`"
    )]
    NoPolicy(String),
    /// A lot's currency differs from its policy's.
    #[error("dataset {dataset}: its policy is in {policy} but commit {commit} cost {lot}")]
    PolicyCurrency {
        /// Dataset.
        dataset: String,
        /// The policy's currency.
        policy: String,
        /// The commit of the lot.
        commit: String,
        /// The lot's currency.
        lot: String,
    },
    /// No example in scope has a cost basis.
    #[error("{}", no_cost_basis(.0))]
    NoCostBasis(Option<String>),
    /// The examples of a dataset have a cost basis but none is on the book.
    #[error("no example of {0} has a cost basis: nothing of it is on the book")]
    NothingOnBook(String),
    /// One commit added examples of a dataset costed in two currencies.
    #[error(
        "commit {commit} added examples to {dataset} costed in {first} and in {second}: one lot cannot add currencies"
    )]
    LotCurrencies {
        /// The commit (12 digits).
        commit: String,
        /// The dataset.
        dataset: String,
        /// One currency.
        first: String,
        /// The other.
        second: String,
    },
    /// An impairment in another currency than the dataset's cost.
    #[error(
        "an impairment of {dataset} is in {impairment} but its cost is in {cost}: amounts in different currencies are never added"
    )]
    ImpairmentCurrency {
        /// The dataset.
        dataset: String,
        /// The impairment's currency.
        impairment: String,
        /// The cost's currency.
        cost: String,
    },
    /// A period that ends before it starts.
    #[error("--to {to} is before --from {from}")]
    PeriodOrder {
        /// First month.
        from: Month,
        /// Last month.
        to: Month,
    },
    /// A period over a century.
    #[error("{from} to {to} spans more than 100 years: give --from and --to")]
    PeriodTooLong {
        /// First month.
        from: Month,
        /// Last month.
        to: Month,
    },
    /// An impairment without a reason.
    #[error("give a --reason for the impairment")]
    NoReason,
    /// A booked amount beyond what an amount in minor units can hold.
    #[error(
        "a lot's cost exceeds 9,223,372,036,854,775,807 minor units: check the costs recorded with `folio lineage`"
    )]
    Overflow,
    /// An impairment amount that is not money.
    #[error("--amount: {0}")]
    Amount(crate::ledger::money::MoneyError),
    /// An impairment of zero or less.
    #[error("--amount {0}: an impairment is a positive amount")]
    NotPositive(String),
    /// An impairment above the carrying amount.
    #[error(
        "--amount {amount} {currency} exceeds the carrying amount of {dataset}, {carrying} {currency}, at the end of {month}"
    )]
    ExceedsCarrying {
        /// The amount given.
        amount: String,
        /// Its currency.
        currency: String,
        /// The dataset.
        dataset: String,
        /// The carrying amount, formatted.
        carrying: String,
        /// The month.
        month: Month,
    },
    /// A change of estimate that would change what cannot change once a
    /// dataset is on the book.
    #[error(
        "{0} is on the book: its convention and currency cannot change (a change of estimate may set --method, --life, --residual, --factor, --expected-runs)"
    )]
    FixedOnBook(String),
    /// A change of estimate before one already recorded.
    #[error(
        "--from {from}: a change from {last} is already recorded; changes apply in month order"
    )]
    ChangeOrder {
        /// The month asked for.
        from: Month,
        /// The latest change recorded.
        last: Month,
    },
    /// A policy that does not check.
    #[error("{at}: {source}")]
    Policy {
        /// Where it was given: `[book."D"]` or `book policy for D`.
        at: String,
        /// What is wrong.
        source: crate::book::PolicyError,
    },
}

fn no_cost_basis(dataset: &Option<String>) -> String {
    match dataset {
        Some(d) => format!(
            "no example of {d} has a cost basis: record costs with `folio value` or a cost column"
        ),
        None => {
            "no example has a cost basis: record costs with `folio value` or a cost column".into()
        }
    }
}

impl BookError {
    /// What kind of failure this is.
    pub fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Invalid
    }
}

fn key_of(lot: &Lot, by: By) -> String {
    match by {
        By::Tranche => format!(
            "{} @ {} from {}",
            lot.dataset,
            lot.commit_short(),
            lot.source
        ),
        By::Dataset => lot.dataset.clone(),
        By::Source => lot.source.clone(),
    }
}

/// Checks that every lot has a policy and all share one currency; returns it.
pub fn check(lots: &[Lot], policies: &BTreeMap<String, Policy>) -> Result<String, BookError> {
    let mut currency: Option<&str> = None;
    for lot in lots {
        let p = policies
            .get(&lot.dataset)
            .ok_or_else(|| BookError::NoPolicy(lot.dataset.clone()))?;
        if let Some(c) = &p.currency
            && *c != lot.currency
        {
            return Err(BookError::PolicyCurrency {
                dataset: lot.dataset.clone(),
                policy: c.clone(),
                commit: lot.commit_short(),
                lot: lot.currency.clone(),
            });
        }
        match currency {
            None => currency = Some(&lot.currency),
            Some(c) if c != lot.currency => {
                return Err(BookError::Currencies(c.to_string(), lot.currency.clone()));
            }
            _ => {}
        }
    }
    currency
        .map(str::to_string)
        .ok_or(BookError::NoCostBasis(None))
}

/// What a schedule covers.
#[derive(Debug, Clone)]
pub struct ScheduleOptions {
    /// Only this dataset.
    pub dataset: Option<String>,
    /// First month (default: the first lot's).
    pub from: Option<Month>,
    /// Last month (default: when the last lot is fully depreciated).
    pub to: Option<Month>,
    /// Period length.
    pub period: PeriodKind,
    /// Grouping.
    pub by: By,
}

/// Training runs by month, cumulative, per dataset: `runs[d]` lists the
/// months of each run.
pub type Runs = BTreeMap<String, Vec<Month>>;

fn runs_fn<'a>(runs: &'a Runs, lot: &'a Lot) -> impl Fn(Month) -> u64 + 'a {
    move |m: Month| {
        runs.get(&lot.dataset).map_or(0, |v| {
            v.iter().filter(|r| **r >= lot.start && **r <= m).count() as u64
        })
    }
}

/// The schedule of `lots` from `from` to `to`.
#[allow(clippy::too_many_arguments)]
pub fn schedule(
    lots: &[Lot],
    policies: &BTreeMap<String, Policy>,
    runs: &Runs,
    impairments: &Impairments,
    from: Month,
    to: Month,
    period: PeriodKind,
    by: By,
) -> Result<Schedule, BookError> {
    let currency = check(lots, policies)?;
    let allocated = allocate(lots, policies, runs, impairments);
    // Per key: month → moves; the carrying amount, accumulated
    // depreciation and cost before `from`; and, per month, the cost and
    // accumulated depreciation of parts that leave.
    #[derive(Default)]
    struct KeyState {
        moves: BTreeMap<Month, Moves>,
        carrying: i64,
        accumulated: i64,
        cost: i64,
        gone: BTreeMap<Month, (i64, i64)>,
    }
    let mut per_key: BTreeMap<String, KeyState> = BTreeMap::new();
    for (i, lot) in lots.iter().enumerate() {
        let policy = &policies[&lot.dataset];
        let st = per_key.entry(key_of(lot, by)).or_default();
        for (j, part) in lot.parts.iter().enumerate() {
            if part.disposed.is_some_and(|d| d < from) {
                continue; // gone before the range: nothing of it remains
            }
            let moves = part_moves(lot, part, policy, &runs_fn(runs, lot), to, &allocated[i][j]);
            let dep_total: i64 = moves.values().map(|x| x.depreciation).sum();
            if let Some(d) = part.disposed.filter(|d| *d <= to) {
                let g = st.gone.entry(d.max(lot.start)).or_default();
                g.0 += part.cost;
                g.1 += dep_total;
            }
            for (m, mv) in moves {
                if m < from {
                    st.carrying += mv.additions - mv.depreciation - mv.impairment - mv.disposals;
                    st.accumulated += mv.depreciation;
                    st.cost += mv.additions;
                } else if m <= to {
                    let e = st.moves.entry(m).or_default();
                    e.additions += mv.additions;
                    e.depreciation += mv.depreciation;
                    e.impairment += mv.impairment;
                    e.disposals += mv.disposals;
                }
            }
        }
    }
    // Period labels, computed once: month offset → period index.
    let months = (to.0 - from.0 + 1).max(0) as usize;
    let mut labels: Vec<String> = Vec::new();
    let mut period_of: Vec<usize> = Vec::with_capacity(months);
    for k in 0..months {
        let label = from.plus(k as i32).period(period);
        if labels.last() != Some(&label) {
            labels.push(label);
        }
        period_of.push(labels.len() - 1);
    }
    let mut rows = Vec::new();
    for (key, st) in &per_key {
        let (mut carrying, mut accumulated, mut cost) = (st.carrying, st.accumulated, st.cost);
        let mut row: Option<Row> = None;
        let mut current = usize::MAX;
        for (k, &pi) in period_of.iter().enumerate() {
            let m = from.plus(k as i32);
            if pi != current {
                rows.extend(row.take());
                current = pi;
                row = Some(Row {
                    key: key.clone(),
                    period: labels[pi].clone(),
                    opening: carrying,
                    ..Row::default()
                });
            }
            let r = row.as_mut().expect("set above");
            if let Some(mv) = st.moves.get(&m) {
                r.additions += mv.additions;
                r.depreciation += mv.depreciation;
                r.impairment += mv.impairment;
                r.disposals += mv.disposals;
                carrying += mv.additions - mv.depreciation - mv.impairment - mv.disposals;
                accumulated += mv.depreciation;
                cost += mv.additions;
            }
            if let Some((c, a)) = st.gone.get(&m) {
                cost -= c;
                accumulated -= a;
            }
            r.closing = carrying;
            r.accumulated = accumulated;
            r.cost = cost;
        }
        rows.extend(row);
    }
    // A key with nothing left (all of it disposed of) has no further rows.
    rows.retain(|r: &Row| {
        r.opening != 0
            || r.additions != 0
            || r.depreciation != 0
            || r.impairment != 0
            || r.disposals != 0
            || r.closing != 0
            || r.cost != 0
    });
    let mut totals: Vec<Row> = labels
        .iter()
        .map(|l| Row {
            key: "total".into(),
            period: l.clone(),
            ..Row::default()
        })
        .collect();
    let index: std::collections::HashMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    for r in &rows {
        let t = &mut totals[index[r.period.as_str()]];
        t.opening += r.opening;
        t.additions += r.additions;
        t.depreciation += r.depreciation;
        t.impairment += r.impairment;
        t.disposals += r.disposals;
        t.closing += r.closing;
        t.accumulated += r.accumulated;
        t.cost += r.cost;
    }
    Ok(Schedule {
        currency,
        from: from.to_string(),
        to: to.to_string(),
        period,
        by,
        rows,
        totals,
    })
}

/// The carrying amount at the end of month `at` of the share `held / part
/// cost` of each part of `lots` (rounded half away from zero, part by
/// part): `held[(lot, part)]`.
pub fn carrying(
    lots: &[Lot],
    held: &BTreeMap<(usize, usize), i64>,
    policies: &BTreeMap<String, Policy>,
    runs: &Runs,
    impairments: &Impairments,
    at: Month,
) -> BTreeMap<(usize, usize), i64> {
    let allocated = allocate(lots, policies, runs, impairments);
    held.iter()
        .map(|(&(i, j), &h)| {
            let (lot, part) = (&lots[i], &lots[i].parts[j]);
            if at < lot.start || part.cost == 0 {
                return ((i, j), 0);
            }
            let moves = part_moves(
                lot,
                part,
                &policies[&lot.dataset],
                &runs_fn(runs, lot),
                at,
                &allocated[i][j],
            );
            let c = i128::from(carrying_of(part, &moves, at)) * i128::from(h);
            ((i, j), round_div(c, i128::from(part.cost)) as i64)
        })
        .collect()
}

/// The last month any lot still moves (fully depreciated or disposed).
pub fn last_month(
    lots: &[Lot],
    policies: &BTreeMap<String, Policy>,
    runs: &Runs,
    impairments: &Impairments,
) -> Option<Month> {
    lots.iter()
        .map(|l| {
            let base = &policies[&l.dataset];
            // The policy of the last change (its life counts from the start).
            let p = base.changes.last().map_or(base, |c| &c.1);
            // The month of the last charge.
            let life_end = match (p.method, p.convention) {
                (Method::UnitsOfUse { .. }, _) | (_, Convention::FullMonth) => {
                    l.start.plus(p.life as i32 - 1)
                }
                _ => l.start.plus(p.life as i32),
            };
            // Units of use charge only in months with runs: the schedule
            // ends at the last activity (a run, an impairment), not after
            // years of empty months.
            let end = if matches!(p.method, Method::UnitsOfUse { .. }) {
                let activity = runs
                    .get(&l.dataset)
                    .into_iter()
                    .flatten()
                    .copied()
                    .chain(
                        impairments
                            .get(&l.dataset)
                            .into_iter()
                            .flatten()
                            .map(|(m, _)| *m),
                    )
                    .filter(|m| *m >= l.start)
                    .max()
                    .unwrap_or(l.start);
                activity.min(life_end)
            } else {
                life_end
            };
            l.parts
                .iter()
                .filter_map(|x| x.disposed)
                .fold(end, Month::max)
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::{Convention, Method};

    fn sl18() -> BTreeMap<String, Policy> {
        BTreeMap::from([(
            "d".to_string(),
            Policy {
                method: Method::StraightLine,
                life: 18,
                residual: 0.0,
                convention: Convention::FullMonth,
                currency: None,
                changes: Vec::new(),
            },
        )])
    }

    /// A change of estimate in July 2026 (life 18 → 24 months): the
    /// carrying amount then, 120,000 × 12/18 = 80,000.00, is spread over
    /// the 24 − 6 = 18 months left, 4,444.44⅘ a month; January to June keep
    /// their 6,666.67-ish charges.
    #[test]
    fn a_change_of_estimate_applies_prospectively() {
        let mut policies = sl18();
        let p = policies.get_mut("d").expect("d");
        let mut longer = p.clone();
        longer.life = 24;
        p.changes
            .push((Month::parse("2026-07").expect("m"), longer));
        let l = lot(vec![Part {
            cost: 12_000_000,
            disposed: None,
        }]);
        let s = schedule(
            std::slice::from_ref(&l),
            &policies,
            &Runs::new(),
            &Impairments::new(),
            Month::parse("2026-01").expect("m"),
            last_month(
                std::slice::from_ref(&l),
                &policies,
                &Runs::new(),
                &Impairments::new(),
            )
            .expect("last"),
            PeriodKind::Month,
            By::Dataset,
        )
        .expect("schedule");
        assert_eq!(s.to, "2027-12");
        let dep: Vec<i64> = s.rows.iter().map(|r| r.depreciation).collect();
        assert_eq!(dep.len(), 24);
        assert_eq!(
            dep[..6].iter().sum::<i64>(),
            4_000_000,
            "six months at the old estimate"
        );
        assert_eq!(dep[6], 444_444);
        assert_eq!(dep[6..].iter().sum::<i64>(), 8_000_000);
        assert!(
            dep[6..].iter().all(|c| (444_444..=444_445).contains(c)),
            "{dep:?}"
        );
    }

    fn lot(parts: Vec<Part>) -> Lot {
        Lot {
            dataset: "d".into(),
            commit: Some(crate::id::CommitId(crate::id::ObjectId([0xcc; 32]))),
            source: "s3://v".into(),
            start: Month::parse("2026-01").expect("month"),
            currency: "EUR".into(),
            parts,
        }
    }

    #[test]
    fn rows_tie_out_and_a_disposal_derecognises_the_carrying_amount() {
        // 60,000.00 held; 60,000.00 whose examples leave in April, after
        // three months of 60,000 / 18 = 3,333.33⅓ (10,000.00 in all).
        let l = lot(vec![
            Part {
                cost: 6_000_000,
                disposed: None,
            },
            Part {
                cost: 6_000_000,
                disposed: Month::parse("2026-04"),
            },
        ]);
        let (from, to) = (
            Month::parse("2026-01").expect("m"),
            Month::parse("2027-12").expect("m"),
        );
        let s = schedule(
            std::slice::from_ref(&l),
            &sl18(),
            &Runs::new(),
            &Impairments::new(),
            from,
            to,
            PeriodKind::Quarter,
            By::Dataset,
        )
        .expect("schedule");
        for r in &s.rows {
            assert_eq!(
                r.opening + r.additions - r.depreciation - r.impairment - r.disposals,
                r.closing,
                "{r:?}"
            );
        }
        let q2 = s.rows.iter().find(|r| r.period == "2026-Q2").expect("Q2");
        assert_eq!(q2.disposals, 6_000_000 - 1_000_000);
        let dep: i64 = s.rows.iter().map(|r| r.depreciation).sum();
        assert_eq!(
            dep,
            6_000_000 + 1_000_000,
            "the held half fully, the other for 3 months"
        );
        let last = s.rows.last().expect("rows");
        assert_eq!(
            (last.closing, last.cost, last.accumulated),
            (0, 6_000_000, 6_000_000)
        );
        // Book value: half the held part at the end of March 2026 is
        // (60,000 − 10,000) / 2; the disposed part is worth nothing after
        // it left.
        let lots = std::slice::from_ref(&l);
        let value = |part: usize, held: i64, at: &str| {
            let m = Month::parse(at).expect("m");
            let held = BTreeMap::from([((0, part), held)]);
            carrying(lots, &held, &sl18(), &Runs::new(), &Impairments::new(), m)[&(0, part)]
        };
        assert_eq!(value(0, 3_000_000, "2026-03"), 2_500_000);
        assert_eq!(value(1, 6_000_000, "2026-05"), 0);
    }

    /// 120,000.00 straight-line over 18 months; 30,000.00 impaired at the
    /// end of month 6 (carrying 80,000.00 → 50,000.00), spread over the 12
    /// months left: 4,166.67 a month (cumulative rounding), and over two
    /// parts of 2:1 in proportion to their carrying amounts.
    #[test]
    fn impairment_writes_down_and_later_charges_follow_the_remaining_life() {
        let l = lot(vec![
            Part {
                cost: 8_000_000,
                disposed: None,
            },
            Part {
                cost: 4_000_000,
                disposed: None,
            },
        ]);
        let june = Month::parse("2026-06").expect("m");
        let imp = Impairments::from([("d".to_string(), vec![(june, 3_000_000)])]);
        let s = schedule(
            std::slice::from_ref(&l),
            &sl18(),
            &Runs::new(),
            &imp,
            Month::parse("2026-01").expect("m"),
            Month::parse("2027-06").expect("m"),
            PeriodKind::Month,
            By::Dataset,
        )
        .expect("schedule");
        let row = |p: &str| s.rows.iter().find(|r| r.period == p).expect(p).clone();
        assert_eq!(row("2026-06").impairment, 3_000_000);
        assert_eq!(row("2026-06").closing, 5_000_000);
        // 50,000.00 over 12 months: 4,166.67, 4,166.66, 4,166.67, …
        let later: Vec<i64> = s
            .rows
            .iter()
            .filter(|r| r.period.as_str() > "2026-06")
            .map(|r| r.depreciation)
            .collect();
        assert_eq!(later.len(), 12);
        assert_eq!(later.iter().sum::<i64>(), 5_000_000);
        for c in &later {
            assert!((416_666..=416_668).contains(c), "{later:?}");
        }
        assert_eq!(s.rows.last().expect("last").closing, 0);
        // By hand: after 6 months the parts carry 80,000 − 26,666.67 =
        // 53,333.33 and 40,000 − 13,333.33 = 26,666.67; the loss splits
        // 19,999.99875 : 10,000.00125, floors 19,999.99 and 10,000.00, the
        // cent left going to the larger remainder: 20,000.00 and 10,000.00.
        let lots = std::slice::from_ref(&l);
        let held = BTreeMap::from([((0, 0), 8_000_000), ((0, 1), 4_000_000)]);
        let v = carrying(lots, &held, &sl18(), &Runs::new(), &imp, june);
        assert_eq!((v[&(0, 0)], v[&(0, 1)]), (3_333_333, 1_666_667));
    }

    #[test]
    fn currencies_never_mix_and_policies_are_required() {
        let mut usd = lot(vec![Part {
            cost: 1,
            disposed: None,
        }]);
        usd.currency = "USD".into();
        let eur = lot(vec![Part {
            cost: 1,
            disposed: None,
        }]);
        assert_eq!(
            check(&[eur.clone(), usd], &sl18()),
            Err(BookError::Currencies("EUR".into(), "USD".into()))
        );
        assert_eq!(
            check(&[eur], &BTreeMap::new()),
            Err(BookError::NoPolicy("d".into()))
        );
        assert_eq!(Month::parse("2026-13"), None);
        assert_eq!(Month::parse("2026-02-30"), None);
        assert_eq!(
            Month::parse("2026-02-28").map(|m| m.to_string()),
            Some("2026-02".into())
        );
    }
}
