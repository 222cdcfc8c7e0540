//! `book`: lots from the ledger, schedules and book value.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::{Repo, RepoError};
use crate::book::report::{self, By, Lot, Month, Part, PeriodKind, Runs, Schedule};
use crate::book::{Policy, PolicyConfig};
use crate::id::CommitId;
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
    removed: Option<(Month, u64)>,
}

/// What the ledger says the book holds.
struct Ledgered {
    lots: Vec<Lot>,
    /// Each example's memberships, in order.
    members: HashMap<ExampleId, Vec<Member>>,
    costs: HashMap<ExampleId, (i64, String)>,
    runs: Runs,
    added_seq: HashMap<ExampleId, Vec<u64>>,
}

impl Repo {
    /// The policies of the config.
    pub fn book_policies(&self) -> Result<BTreeMap<String, Policy>, RepoError> {
        let config = self.config()?;
        config
            .book
            .iter()
            .map(|(d, p)| {
                p.policy()
                    .map(|p| (d.clone(), p))
                    .map_err(|e| RepoError::Refused(format!("[book.\"{d}\"] {e}")))
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
        let policy = p
            .policy()
            .map_err(|e| RepoError::Refused(format!("book policy for {dataset}: {e}")))?;
        let path = self.dot.join("config.toml");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let header = format!("[book.\"{dataset}\"]");
        let mut out = String::new();
        let mut skipping = false;
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with('[') {
                skipping = t == header;
            }
            if !skipping {
                out.push_str(line);
                out.push('\n');
            }
        }
        let q = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
        out.push_str(&header);
        out.push('\n');
        let mut line = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push_str(&format!("{k} = {v}\n"));
            }
        };
        line("method", p.method.as_deref().map(q));
        line("factor", p.factor.map(|f| format!("{f:?}")));
        line("life", p.life.map(|l| l.to_string()));
        line("residual", p.residual.map(|r| format!("{r:?}")));
        line("convention", p.convention.as_deref().map(q));
        line("expected_runs", p.expected_runs.map(|n| n.to_string()));
        line("currency", p.currency.as_deref().map(q));
        // Check the whole file before replacing it.
        toml::from_str::<crate::config::Config>(&out)
            .map_err(|e| RepoError::Refused(format!("the new config does not parse: {e}")))?;
        crate::fsutil::write_atomic(&path, out.as_bytes()).map_err(RepoError::io(&path))?;
        Ok(policy)
    }

    /// Lots, memberships, costs and training runs, from every event up to
    /// `limit` whose time is at most `as_of` (end of that month).
    fn ledgered(&self, limit: u64, as_of: Option<Month>) -> Result<Ledgered, RepoError> {
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
        let mut added_seq: HashMap<ExampleId, Vec<u64>> = HashMap::new();
        self.read_ledger(&None, limit, &|_| true, &mut |e| {
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
                    members
                        .entry(*id)
                        .or_default()
                        .push(Member { lot, removed: None });
                    added_seq.entry(*id).or_default().push(e.seq);
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
                _ => {}
            }
            Ok(())
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
                        return Err(RepoError::Refused(format!(
                            "commit {} added examples to {} costed in {c} and in {cur}: one lot cannot add currencies",
                            &lots[m.lot].commit[..12.min(lots[m.lot].commit.len())],
                            lots[m.lot].dataset
                        )));
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
        Ok(Ledgered {
            lots,
            members,
            costs,
            runs,
            added_seq,
        })
    }

    /// The depreciation schedule of the book (or of one dataset).
    pub fn book_schedule(&self, o: &ScheduleOptions) -> Result<Schedule, RepoError> {
        let policies = self.book_policies()?;
        let l = self.ledgered(self.ledger_limit()?, None)?;
        let lots: Vec<Lot> = l
            .lots
            .into_iter()
            .filter(|x| !x.parts.is_empty())
            .filter(|x| o.dataset.as_ref().is_none_or(|d| *d == x.dataset))
            .collect();
        if lots.is_empty() {
            return Err(RepoError::Refused(match &o.dataset {
                Some(d) => format!(
                    "no example of {d} has a cost basis: record costs with `folio value` or a cost column"
                ),
                None => {
                    "no example has a cost basis: record costs with `folio value` or a cost column"
                        .into()
                }
            }));
        }
        let bad = |e: report::BookError| RepoError::Refused(e.to_string());
        report::check(&lots, &policies).map_err(bad)?;
        let from = o
            .from
            .or_else(|| lots.iter().map(|x| x.start).min())
            .expect("lots are not empty after check");
        let to =
            o.to.or_else(|| report::last_month(&lots, &policies))
                .expect("lots are not empty after check");
        if to < from {
            return Err(RepoError::Refused(format!(
                "--to {to} is before --from {from}"
            )));
        }
        if to.0 - from.0 > 12 * 100 {
            return Err(RepoError::Refused(format!(
                "{from} to {to} spans more than 100 years: give --from and --to"
            )));
        }
        report::schedule(&lots, &policies, &l.runs, from, to, o.period, o.by).map_err(bad)
    }

    /// The carrying amount of the examples present at `rev`, at the end of
    /// month `as_of` (default: this month).
    pub fn book_value(&self, rev: CommitId, as_of: Month) -> Result<BookValue, RepoError> {
        let policies = self.book_policies()?;
        let size = self.read_commit(rev)?.ledger.map_or(0, |(s, _)| s);
        let l = self.ledgered(self.ledger_limit()?, Some(as_of))?;
        let bad = |e: report::BookError| RepoError::Refused(e.to_string());
        // The examples present at `rev`: a membership added before its
        // ledger head and not removed before it.
        let mut held: HashMap<(usize, usize), i64> = HashMap::new();
        let mut without_cost = 0;
        let mut per_dataset: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for (id, ms) in &l.members {
            let seqs = &l.added_seq[id];
            for (m, seq) in ms.iter().zip(seqs) {
                let present = *seq < size && m.removed.is_none_or(|(_, r)| r >= size);
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
            report::check(&in_scope, &policies).map_err(bad)?
        };
        let (mut cost, mut carrying) = (0, 0);
        let mut keys: Vec<&(usize, usize)> = held.keys().collect();
        keys.sort();
        for k in keys {
            let h = held[k];
            let lot = &l.lots[k.0];
            let part = &lot.parts[k.1];
            let c = report::carrying(lot, part, h, &policies[&lot.dataset], &l.runs, as_of);
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
