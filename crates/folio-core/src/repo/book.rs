//! `book`: lots from the ledger, schedules and book value.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::{Repo, RepoError};
use crate::book::report::{
    self, BookError, By, Impairments, Lot, Month, Part, PeriodKind, Runs, Schedule,
};
use crate::book::{Policy, PolicyConfig};
use crate::id::CommitId;
use crate::ledger::query::LedgerView;
use crate::ledger::{ExampleId, Payload, Subject};

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

/// The carrying amount of a snapshot's examples.
#[derive(Debug, Clone, Serialize)]
pub struct BookValue {
    /// The commit.
    pub commit: String,
    /// The month whose end it is measured at.
    pub as_of: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// Cost basis of the examples present.
    pub cost: i64,
    /// Their carrying amount.
    pub carrying: i64,
    /// Per dataset: cost and carrying amount.
    pub datasets: BTreeMap<String, (i64, i64)>,
    /// Examples present that have no cost basis (not on the book).
    pub without_cost: u64,
}

/// One example's membership of a lot.
struct Member {
    lot: usize,
    /// Sequence number of its `example_added` event.
    added: u64,
    /// Month and sequence number of its `example_removed` event.
    removed: Option<(Month, u64)>,
}

/// What the ledger says the book holds.
struct Ledgered {
    lots: Vec<Lot>,
    /// Each example's memberships, in order.
    members: HashMap<ExampleId, Vec<Member>>,
    costs: HashMap<ExampleId, (i64, String)>,
    runs: Runs,
    impairments: Impairments,
}

impl Repo {
    /// The policies of the config.
    pub fn book_policies(&self) -> Result<BTreeMap<String, Policy>, RepoError> {
        let config = self.config()?;
        config
            .book
            .iter()
            .map(|(d, p)| {
                p.policy().map(|p| (d.clone(), p)).map_err(|source| {
                    RepoError::from(BookError::Policy {
                        at: format!("[book.\"{d}\"]"),
                        source,
                    })
                })
            })
            .collect()
    }

    /// Sets a dataset's policy in `.folio/config.toml` (replacing its
    /// `[book."DATASET"]` section; other settings are kept as written).
    pub fn set_book_policy(
        &self,
        _lock: &crate::lock::RepoLock,
        dataset: &str,
        p: &PolicyConfig,
    ) -> Result<Policy, RepoError> {
        let policy = p.policy().map_err(|source| BookError::Policy {
            at: format!("book policy for {dataset}"),
            source,
        })?;
        let path = self.dot.join("config.toml");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let header = format!("[book.\"{dataset}\"]");
        let changes_header = format!("[[book.\"{dataset}\".changes]]");
        let mut out = String::new();
        let mut skipping = false;
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with('[') {
                skipping = t == header || t == changes_header;
            }
            if !skipping {
                out.push_str(line);
                out.push('\n');
            }
        }
        let q = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
        // The settings both a policy and its changes have, as TOML lines.
        let common = |method: &Option<String>,
                      factor: Option<f64>,
                      life: Option<u32>,
                      residual: Option<f64>,
                      runs: Option<u64>| {
            [
                ("method", method.as_deref().map(q)),
                ("factor", factor.map(|f| format!("{f:?}"))),
                ("life", life.map(|l| l.to_string())),
                ("residual", residual.map(|r| format!("{r:?}"))),
                ("expected_runs", runs.map(|n| n.to_string())),
            ]
        };
        let lines = |pairs: &[(&str, Option<String>)]| -> String {
            pairs
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} = {v}\n")))
                .collect()
        };
        out.push_str(&format!("{header}\n"));
        out.push_str(&lines(&common(
            &p.method,
            p.factor,
            p.life,
            p.residual,
            p.expected_runs,
        )));
        out.push_str(&lines(&[
            ("convention", p.convention.as_deref().map(q)),
            ("currency", p.currency.as_deref().map(q)),
        ]));
        for ch in &p.changes {
            out.push_str(&format!("{changes_header}\nfrom = {}\n", q(&ch.from)));
            out.push_str(&lines(&common(
                &ch.method,
                ch.factor,
                ch.life,
                ch.residual,
                ch.expected_runs,
            )));
        }
        // Check the whole file before replacing it.
        toml::from_str::<crate::config::Config>(&out).map_err(|e| {
            crate::config::ConfigError::Invalid {
                path: path.clone(),
                detail: format!("the new config does not parse: {e}"),
            }
        })?;
        crate::fsutil::write_atomic(&path, out.as_bytes()).map_err(RepoError::io(&path))?;
        Ok(policy)
    }

    /// Whether any example of `dataset` with a cost basis is on the book.
    pub fn book_has_lots(&self, dataset: &str) -> Result<bool, RepoError> {
        let l = self.ledgered(&self.ledger_view()?, None)?;
        Ok(l.lots
            .iter()
            .any(|x| x.dataset == dataset && !x.parts.is_empty()))
    }

    /// Lots, memberships, costs and training runs, from every event up to
    /// `limit` whose time is at most `as_of` (end of that month).
    fn ledgered(&self, view: &LedgerView, as_of: Option<Month>) -> Result<Ledgered, RepoError> {
        let heads = self.commit_heads()?;
        let commit_of = |seq: u64| -> String {
            heads
                .iter()
                .find(|(size, _)| *size > seq)
                .map_or_else(|| "(not yet committed)".to_string(), |(_, c)| c.to_string())
        };
        let mut lots: Vec<Lot> = Vec::new();
        let mut lot_index: HashMap<(String, String, String), usize> = HashMap::new();
        let mut members: HashMap<ExampleId, Vec<Member>> = HashMap::new();
        let mut costs: HashMap<ExampleId, (i64, String)> = HashMap::new();
        let mut runs: Runs = BTreeMap::new();
        let mut impairments: Impairments = BTreeMap::new();
        let mut impairment_currency: Vec<(String, String)> = Vec::new();
        view.each(&mut |e| {
            let month = Month::of_time(e.time);
            // Costs are those known at `as_of`; which examples a snapshot
            // holds does not depend on the date.
            let later = as_of.is_some_and(|a| month > a);
            match (&e.subject, &e.payload) {
                (
                    Subject::Example(id),
                    Payload::Added {
                        dataset, source, ..
                    },
                ) => {
                    let commit = e.commit.map_or_else(|| commit_of(e.seq), |c| c.to_string());
                    let src = source.clone().unwrap_or_else(|| "(none)".into());
                    let key = (dataset.clone(), commit.clone(), src.clone());
                    let lot = *lot_index.entry(key).or_insert_with(|| {
                        lots.push(Lot {
                            dataset: dataset.clone(),
                            commit,
                            source: src,
                            start: month,
                            currency: String::new(),
                            parts: Vec::new(),
                        });
                        lots.len() - 1
                    });
                    members.entry(*id).or_default().push(Member {
                        lot,
                        added: e.seq,
                        removed: None,
                    });
                }
                (Subject::Example(id), Payload::Removed { .. }) => {
                    if let Some(m) = members.get_mut(id).and_then(|v| v.last_mut())
                        && m.removed.is_none()
                    {
                        m.removed = Some((month, e.seq));
                    }
                }
                (
                    Subject::Example(id),
                    Payload::Valued {
                        acquisition,
                        labelling,
                        currency,
                        ..
                    },
                ) if !later => {
                    costs.insert(*id, (acquisition + labelling, currency.clone()));
                }
                (Subject::Dataset(d), Payload::Trained { .. }) => {
                    runs.entry(d.clone()).or_default().push(month);
                }
                (
                    Subject::Dataset(d),
                    Payload::Impaired {
                        amount, currency, ..
                    },
                ) if !later => {
                    impairments
                        .entry(d.clone())
                        .or_default()
                        .push((month, *amount));
                    impairment_currency.push((d.clone(), currency.clone()));
                }
                _ => {}
            }
            Ok::<(), RepoError>(())
        })?;
        // Parts: per lot, the cost held and the cost disposed of by month.
        let mut held: Vec<i64> = vec![0; lots.len()];
        let mut gone: Vec<BTreeMap<Month, i64>> = vec![BTreeMap::new(); lots.len()];
        let mut currency: Vec<Option<String>> = vec![None; lots.len()];
        for (id, ms) in &members {
            let Some((cost, cur)) = costs.get(id) else {
                continue;
            };
            for m in ms {
                match &currency[m.lot] {
                    None => currency[m.lot] = Some(cur.clone()),
                    Some(c) if c != cur => {
                        return Err(BookError::LotCurrencies {
                            commit: lots[m.lot].commit[..12.min(lots[m.lot].commit.len())]
                                .to_string(),
                            dataset: lots[m.lot].dataset.clone(),
                            first: c.clone(),
                            second: cur.clone(),
                        }
                        .into());
                    }
                    _ => {}
                }
                match m.removed {
                    None => held[m.lot] += cost,
                    Some((month, _)) => *gone[m.lot].entry(month).or_default() += cost,
                }
            }
        }
        for (i, lot) in lots.iter_mut().enumerate() {
            lot.currency = currency[i].clone().unwrap_or_default();
            if held[i] > 0 {
                lot.parts.push(Part {
                    cost: held[i],
                    disposed: None,
                });
            }
            for (m, c) in &gone[i] {
                lot.parts.push(Part {
                    cost: *c,
                    disposed: Some(*m),
                });
            }
        }
        for (d, c) in impairment_currency {
            if let Some(lot) = lots
                .iter()
                .find(|l| l.dataset == d && !l.currency.is_empty())
                && lot.currency != c
            {
                return Err(BookError::ImpairmentCurrency {
                    dataset: d.clone(),
                    impairment: c.clone(),
                    cost: lot.currency.clone(),
                }
                .into());
            }
        }
        Ok(Ledgered {
            lots,
            impairments,
            members,
            costs,
            runs,
        })
    }

    /// The depreciation schedule of the book (or of one dataset).
    pub fn book_schedule(&self, o: &ScheduleOptions) -> Result<Schedule, RepoError> {
        let policies = self.book_policies()?;
        let l = self.ledgered(&self.ledger_view()?, None)?;
        let lots: Vec<Lot> = l
            .lots
            .into_iter()
            .filter(|x| !x.parts.is_empty())
            .filter(|x| o.dataset.as_ref().is_none_or(|d| *d == x.dataset))
            .collect();
        if lots.is_empty() {
            return Err(BookError::NoCostBasis(o.dataset.clone()).into());
        }
        report::check(&lots, &policies)?;
        let from = o
            .from
            .or_else(|| lots.iter().map(|x| x.start).min())
            .expect("lots are not empty after check");
        let to =
            o.to.or_else(|| report::last_month(&lots, &policies))
                .expect("lots are not empty after check");
        if to < from {
            return Err(BookError::PeriodOrder { from, to }.into());
        }
        if to.0 - from.0 > 12 * 100 {
            return Err(BookError::PeriodTooLong { from, to }.into());
        }
        report::schedule(
            &lots,
            &policies,
            &l.runs,
            &l.impairments,
            from,
            to,
            o.period,
            o.by,
        )
        .map_err(RepoError::from)
    }

    /// The carrying amount of the examples present at `rev`, at the end of
    /// month `as_of` (default: this month).
    pub fn book_value(&self, rev: CommitId, as_of: Month) -> Result<BookValue, RepoError> {
        let policies = self.book_policies()?;
        let size = self.read_commit(rev)?.ledger.map_or(0, |(s, _)| s);
        let l = self.ledgered(&self.ledger_view()?, Some(as_of))?;
        // The examples present at `rev`: a membership added before its
        // ledger head and not removed before it.
        let mut held: BTreeMap<(usize, usize), i64> = BTreeMap::new();
        let mut without_cost = 0;
        let mut per_dataset: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for (id, ms) in &l.members {
            for m in ms {
                let present = m.added < size && m.removed.is_none_or(|(_, r)| r >= size);
                if !present {
                    continue;
                }
                let Some((cost, _)) = l.costs.get(id) else {
                    without_cost += 1;
                    continue;
                };
                let lot_pos = m.lot;
                let lot = &l.lots[lot_pos];
                let part = lot
                    .parts
                    .iter()
                    .position(|p| p.disposed == m.removed.map(|(mo, _)| mo))
                    .unwrap_or(0);
                *held.entry((lot_pos, part)).or_default() += cost;
            }
        }
        let in_scope: Vec<Lot> = held.keys().map(|(i, _)| l.lots[*i].clone()).collect();
        let currency = if in_scope.is_empty() {
            String::new()
        } else {
            report::check(&in_scope, &policies)?
        };
        let values = report::carrying(&l.lots, &held, &policies, &l.runs, &l.impairments, as_of);
        let (mut cost, mut carrying) = (0, 0);
        for (k, h) in &held {
            let c = values[k];
            let lot = &l.lots[k.0];
            cost += h;
            carrying += c;
            let e = per_dataset.entry(lot.dataset.clone()).or_default();
            e.0 += h;
            e.1 += c;
        }
        Ok(BookValue {
            commit: rev.to_string(),
            as_of: as_of.to_string(),
            currency,
            cost,
            carrying,
            datasets: per_dataset,
            without_cost,
        })
    }
}

/// An impairment to record or propose.
#[derive(Debug, Clone, Serialize)]
pub struct Impairment {
    /// The dataset.
    pub dataset: String,
    /// The month it takes effect in.
    pub month: String,
    /// The carrying amount before it, in minor units.
    pub carrying: i64,
    /// The loss, in minor units.
    pub amount: i64,
    /// ISO 4217 currency.
    pub currency: String,
    /// Why.
    pub reason: String,
    /// Whether it was recorded in the ledger.
    pub recorded: bool,
}

impl Repo {
    /// The carrying amount of a dataset at the end of `month` and its
    /// currency (an error when nothing of it is on the book).
    fn dataset_carrying(&self, dataset: &str, month: Month) -> Result<(i64, String), RepoError> {
        let policies = self.book_policies()?;
        if !policies.contains_key(dataset) {
            return Err(BookError::NoPolicy(dataset.to_string()).into());
        }
        let l = self.ledgered(&self.ledger_view()?, None)?;
        let mut held = BTreeMap::new();
        let mut scope = Vec::new();
        for (i, lot) in l
            .lots
            .iter()
            .enumerate()
            .filter(|(_, x)| x.dataset == dataset)
        {
            for (j, part) in lot.parts.iter().enumerate() {
                held.insert((i, j), part.cost);
            }
            if !lot.parts.is_empty() {
                scope.push(lot.clone());
            }
        }
        if scope.is_empty() {
            return Err(BookError::NothingOnBook(dataset.to_string()).into());
        }
        let currency = report::check(&scope, &policies)?;
        let values = report::carrying(&l.lots, &held, &policies, &l.runs, &l.impairments, month);
        Ok((values.values().sum(), currency))
    }

    /// Writes a dataset's carrying amount down by `amount` (a decimal in
    /// the dataset's currency) in the month of `who.time`, recording an
    /// `impaired` event. The amount must be positive and at most the
    /// carrying amount.
    pub fn book_impair(
        &self,
        lock: &crate::lock::RepoLock,
        dataset: &str,
        amount: &str,
        reason: &str,
        who: &super::Recorder,
    ) -> Result<Impairment, RepoError> {
        if reason.trim().is_empty() {
            return Err(BookError::NoReason.into());
        }
        let month = Month::of_time(who.time);
        let (carrying, currency) = self.dataset_carrying(dataset, month)?;
        let minor =
            crate::ledger::money::parse_minor(amount, &currency).map_err(BookError::Amount)?;
        if minor <= 0 {
            return Err(BookError::NotPositive(amount.to_string()).into());
        }
        if minor > carrying {
            return Err(BookError::ExceedsCarrying {
                amount: amount.to_string(),
                carrying: crate::ledger::money::format_minor(carrying, &currency),
                currency,
                dataset: dataset.to_string(),
                month,
            }
            .into());
        }
        self.record(
            lock,
            vec![crate::ledger::Draft {
                time: who.time,
                actor: who.actor.clone(),
                commit: self.refs.head_commit()?,
                subject: crate::ledger::Subject::Dataset(dataset.to_string()),
                payload: Payload::Impaired {
                    amount: minor,
                    currency: currency.clone(),
                    reason: reason.to_string(),
                },
            }],
        )?;
        Ok(Impairment {
            dataset: dataset.to_string(),
            month: month.to_string(),
            carrying,
            amount: minor,
            currency,
            reason: reason.to_string(),
            recorded: true,
        })
    }

    /// The impairment drift suggests: the share of the dataset's compared
    /// columns that drifted from `r` to `c`, times its carrying amount now
    /// (docs/BOOK.md), rounded half away from zero.
    pub fn book_impairment_from_drift(
        &self,
        dataset: &str,
        r: CommitId,
        c: CommitId,
        settings: crate::drift::Settings,
        when: i64,
    ) -> Result<(Impairment, crate::drift::report::DriftReport), RepoError> {
        let month = Month::of_time(when);
        let (carrying, currency) = self.dataset_carrying(dataset, month)?;
        let report = self.drift(
            r,
            c,
            &crate::drift::report::DriftOptions {
                paths: vec![dataset.to_string()],
                columns: Vec::new(),
                settings,
            },
        )?;
        let (n, k) = report.tables.iter().fold((0u64, 0u64), |(n, k), t| {
            (n + t.columns.len() as u64, k + t.drifted_columns as u64)
        });
        let amount = if n == 0 {
            0
        } else {
            ((2 * i128::from(carrying) * i128::from(k) + i128::from(n)) / (2 * i128::from(n)))
                as i64
        };
        Ok((
            Impairment {
                dataset: dataset.to_string(),
                month: month.to_string(),
                carrying,
                amount,
                currency,
                reason: format!(
                    "drift {}..{}: {k} of {n} columns drifted",
                    &r.to_string()[..12],
                    &c.to_string()[..12]
                ),
                recorded: false,
            },
            report,
        ))
    }
}

/// One line of the data balance sheet.
#[derive(Debug, Clone, Serialize)]
pub struct PortfolioRow {
    /// `dataset` or `source`.
    pub kind: &'static str,
    /// The dataset path or source.
    pub name: String,
    /// Cost of what is held.
    pub cost: i64,
    /// Depreciation and impairment charged on it.
    pub accumulated: i64,
    /// Carrying amount.
    pub carrying: i64,
    /// Share of the total carrying amount.
    pub share: f64,
    /// Mean latest confidence of its examples present now (when any).
    pub mean_confidence: Option<f64>,
    /// Its examples present now, per sensitivity class (`unclassified`
    /// when none is recorded).
    pub sensitivity: BTreeMap<String, u64>,
    /// For datasets: the drift verdict from HEAD's first parent to HEAD
    /// (`drifted`, `stable`, or none when there is no parent or nothing to
    /// compare).
    pub drift: Option<String>,
}

/// The data balance sheet.
#[derive(Debug, Clone, Serialize)]
pub struct Portfolio {
    /// The month whose end it is measured at.
    pub as_of: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// Per dataset, then per source.
    pub rows: Vec<PortfolioRow>,
    /// Total carrying amount.
    pub carrying: i64,
    /// Total cost.
    pub cost: i64,
    /// Carrying amount at the end of each month from the first lot's.
    pub history: Vec<(String, i64)>,
}

impl Repo {
    /// The book at the end of `as_of`: per dataset and per source, cost,
    /// accumulated depreciation and impairment, carrying amount, share,
    /// mean confidence, sensitivity and the latest drift verdict.
    pub fn book_portfolio(&self, as_of: Month) -> Result<Portfolio, RepoError> {
        let policies = self.book_policies()?;
        let l = self.ledgered(&self.ledger_view()?, Some(as_of))?;
        let lots: Vec<Lot> = l
            .lots
            .iter()
            .filter(|x| !x.parts.is_empty())
            .cloned()
            .collect();
        let currency = report::check(&lots, &policies)?;
        let from = lots
            .iter()
            .map(|x| x.start)
            .min()
            .expect("checked: not empty");
        let to = as_of.max(from);
        let mut rows = Vec::new();
        let mut history = Vec::new();
        for (kind, by) in [("dataset", By::Dataset), ("source", By::Source)] {
            let s = report::schedule(
                &lots,
                &policies,
                &l.runs,
                &l.impairments,
                from,
                to,
                PeriodKind::Month,
                by,
            )?;
            if by == By::Dataset {
                history = s
                    .totals
                    .iter()
                    .map(|t| (t.period.clone(), t.closing))
                    .collect();
            }
            let last = to.to_string();
            for r in s.rows.iter().filter(|r| r.period == last) {
                rows.push(PortfolioRow {
                    kind,
                    name: r.key.clone(),
                    cost: r.cost,
                    accumulated: r.cost - r.closing,
                    carrying: r.closing,
                    share: 0.0,
                    mean_confidence: None,
                    sensitivity: BTreeMap::new(),
                    drift: None,
                });
            }
        }
        // Confidence and sensitivity of the examples present now.
        let states = self.ledger_view()?.states()?;
        let mut conf: HashMap<(&str, String), (f64, u64)> = HashMap::new();
        let mut sens: HashMap<(&str, String), BTreeMap<String, u64>> = HashMap::new();
        for st in states.values().filter(|s| s.present) {
            let source = st.source.clone().unwrap_or_else(|| "(none)".into());
            for key in [("dataset", st.dataset.clone()), ("source", source)] {
                if let Some(c) = st.confidence {
                    let e = conf.entry(key.clone()).or_default();
                    e.0 += c;
                    e.1 += 1;
                }
                let class = st
                    .sensitivity
                    .clone()
                    .unwrap_or_else(|| "unclassified".into());
                *sens.entry(key).or_default().entry(class).or_default() += 1;
            }
        }
        // The latest drift verdict per dataset: HEAD's first parent → HEAD.
        let head = self.refs.head_commit()?;
        let parent = match head {
            Some(h) => self.read_commit(h)?.parents.first().copied(),
            None => None,
        };
        let settings = self.config()?.drift_settings()?;
        let total: i64 = rows
            .iter()
            .filter(|r| r.kind == "dataset")
            .map(|r| r.carrying)
            .sum();
        let cost: i64 = rows
            .iter()
            .filter(|r| r.kind == "dataset")
            .map(|r| r.cost)
            .sum();
        for r in &mut rows {
            let key = (r.kind, r.name.clone());
            r.share = if total > 0 {
                r.carrying as f64 / total as f64
            } else {
                0.0
            };
            r.mean_confidence = conf.get(&key).map(|(s, n)| s / *n as f64);
            r.sensitivity = sens.get(&key).cloned().unwrap_or_default();
            if r.kind == "dataset"
                && let (Some(p), Some(h)) = (parent, head)
            {
                let o = crate::drift::report::DriftOptions {
                    paths: vec![r.name.clone()],
                    columns: Vec::new(),
                    settings: settings.clone(),
                };
                r.drift = match self.drift(p, h, &o) {
                    Ok(d) => Some(if d.drifted { "drifted" } else { "stable" }.to_string()),
                    Err(RepoError::Drift(_)) => None,
                    Err(e) => return Err(e),
                };
            }
        }
        Ok(Portfolio {
            as_of: as_of.to_string(),
            currency,
            rows,
            carrying: total,
            cost,
            history,
        })
    }
}
