//! What the ledger says the book holds: lots, each example's memberships,
//! costs, training runs and impairments, folded from events in order; and
//! the carrying amounts of what a snapshot or a dataset holds.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::Policy;
use super::report::{self, BookError, Impairments, Lot, Month, Part, Runs};
use crate::id::CommitId;
use crate::ledger::{Event, ExampleId, Payload, Subject};

/// One example's membership of a lot.
#[derive(Debug, Clone)]
pub struct Member {
    /// Index of the lot.
    pub lot: usize,
    /// Sequence number of its `example_added` event.
    pub added: u64,
    /// Month and sequence number of its `example_removed` event.
    pub removed: Option<(Month, u64)>,
}

/// What the ledger says the book holds.
#[derive(Debug, Clone, Default)]
pub struct Ledgered {
    /// Lots with their parts (cost held, cost disposed of by month).
    pub lots: Vec<Lot>,
    /// Each example's memberships, in order.
    pub members: HashMap<ExampleId, Vec<Member>>,
    /// Each example's latest cost basis, exact (millionths of the minor
    /// unit, `money::parse_micros`), and currency.
    pub costs: HashMap<ExampleId, (i128, String)>,
    /// Examples valued only after the fold's `as_of`: on the book from a
    /// later month.
    pub costed_later: std::collections::HashSet<ExampleId>,
    /// Training runs per dataset, by month.
    pub runs: Runs,
    /// Impairments per dataset, by month.
    pub impairments: Impairments,
}

/// Folds events into a [`Ledgered`].
pub struct LedgeredBuilder<'a> {
    as_of: Option<Month>,
    /// Ledger sizes attested by commits, ascending: an event without a
    /// commit belongs to the first commit whose size exceeds its number.
    heads: &'a [(u64, CommitId)],
    l: Ledgered,
    lot_index: HashMap<(String, Option<CommitId>, String), usize>,
    impairment_currency: Vec<(String, String)>,
}

impl<'a> LedgeredBuilder<'a> {
    /// A fold of costs known at the end of `as_of` (all when `None`);
    /// which examples a snapshot holds does not depend on the date.
    pub fn new(as_of: Option<Month>, heads: &'a [(u64, CommitId)]) -> Self {
        LedgeredBuilder {
            as_of,
            heads,
            l: Ledgered::default(),
            lot_index: HashMap::new(),
            impairment_currency: Vec::new(),
        }
    }

    fn commit_of(&self, e: &Event) -> Option<CommitId> {
        e.commit.or_else(|| {
            self.heads
                .iter()
                .find(|(size, _)| *size > e.seq)
                .map(|(_, c)| *c)
        })
    }

    /// Applies the next event.
    pub fn apply(&mut self, e: &Event) {
        let month = Month::of_time(e.time);
        let later = self.as_of.is_some_and(|a| month > a);
        match (&e.subject, &e.payload) {
            (
                Subject::Example(id),
                Payload::Added {
                    dataset, source, ..
                },
            ) => {
                let commit = self.commit_of(e);
                let src = source.clone().unwrap_or_else(|| "(none)".into());
                let lots = &mut self.l.lots;
                let key = (dataset.clone(), commit, src.clone());
                let lot = *self.lot_index.entry(key).or_insert_with(|| {
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
                self.l.members.entry(*id).or_default().push(Member {
                    lot,
                    added: e.seq,
                    removed: None,
                });
            }
            (Subject::Example(id), Payload::Removed { .. }) => {
                if let Some(m) = self.l.members.get_mut(id).and_then(|v| v.last_mut())
                    && m.removed.is_none()
                {
                    m.removed = Some((month, e.seq));
                }
            }
            (Subject::Example(id), p @ Payload::Valued { .. }) => {
                if later {
                    self.l.costed_later.insert(*id);
                } else if let Some((micros, currency)) = p.cost_micros() {
                    self.l.costs.insert(*id, (micros, currency.to_string()));
                }
            }
            (Subject::Dataset(d), Payload::Trained { .. }) => {
                self.l.runs.entry(d.clone()).or_default().push(month);
            }
            (
                Subject::Dataset(d),
                Payload::Impaired {
                    amount, currency, ..
                },
            ) if !later => {
                self.l
                    .impairments
                    .entry(d.clone())
                    .or_default()
                    .push((month, *amount));
                self.impairment_currency.push((d.clone(), currency.clone()));
            }
            _ => {}
        }
    }

    /// The lots' parts: per lot, the cost held and the cost disposed of by
    /// month. A lot costed in two currencies, or an impairment in another
    /// currency than its dataset's cost, is an error.
    pub fn finish(self) -> Result<Ledgered, BookError> {
        let mut l = self.l;
        let n = l.lots.len();
        let mut held: Vec<i128> = vec![0; n];
        let mut gone: Vec<BTreeMap<Month, i128>> = vec![BTreeMap::new(); n];
        let mut currency: Vec<Option<String>> = vec![None; n];
        for (id, ms) in &l.members {
            let Some((cost, cur)) = l.costs.get(id) else {
                continue;
            };
            for m in ms {
                match &currency[m.lot] {
                    None => currency[m.lot] = Some(cur.clone()),
                    Some(c) if c != cur => {
                        let lot = &l.lots[m.lot];
                        return Err(BookError::LotCurrencies {
                            commit: lot.commit_short(),
                            dataset: lot.dataset.clone(),
                            first: c.clone(),
                            second: cur.clone(),
                        });
                    }
                    _ => {}
                }
                match m.removed {
                    None => held[m.lot] += cost,
                    Some((month, _)) => *gone[m.lot].entry(month).or_default() += cost,
                }
            }
        }
        for (i, lot) in l.lots.iter_mut().enumerate() {
            lot.currency = currency[i].clone().unwrap_or_default();
            // Exact costs are rounded to the minor unit here, where they
            // are booked: once per part (docs/BOOK.md, "Costs finer than
            // the minor unit").
            if held[i] > 0 {
                lot.parts.push(Part {
                    cost: booked(held[i])?,
                    disposed: None,
                });
            }
            for (m, c) in &gone[i] {
                lot.parts.push(Part {
                    cost: booked(*c)?,
                    disposed: Some(*m),
                });
            }
        }
        for (d, c) in self.impairment_currency {
            if let Some(lot) = l
                .lots
                .iter()
                .find(|x| x.dataset == d && !x.currency.is_empty())
                && lot.currency != c
            {
                return Err(BookError::ImpairmentCurrency {
                    dataset: d,
                    impairment: c,
                    cost: lot.currency.clone(),
                });
            }
        }
        Ok(l)
    }
}

/// The carrying amount of a snapshot's examples.
#[derive(Debug, Clone, Serialize)]
pub struct BookValue {
    /// The commit.
    pub commit: CommitId,
    /// The month whose end it is measured at.
    pub as_of: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// Cost basis of the examples present, in minor units.
    #[serde(rename = "cost_minor")]
    pub cost: i64,
    /// Their carrying amount, in minor units.
    #[serde(rename = "carrying_minor")]
    pub carrying: i64,
    /// Per dataset: cost and carrying amount (JSON: `cost_minor`,
    /// `carrying_minor`).
    #[serde(serialize_with = "dataset_values")]
    pub datasets: BTreeMap<String, (i64, i64)>,
    /// Examples present that have no cost basis (not on the book).
    pub without_cost: u64,
    /// Examples present whose cost basis is recorded after `as_of`: they
    /// are on the book from a later month, not yet at this one.
    pub not_yet_booked: u64,
}

/// A dataset's (cost, carrying) pair as named fields.
fn dataset_values<S: serde::Serializer>(
    m: &BTreeMap<String, (i64, i64)>,
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Value {
        cost_minor: i64,
        carrying_minor: i64,
    }
    s.collect_map(m.iter().map(|(k, (c, v))| {
        (
            k,
            Value {
                cost_minor: *c,
                carrying_minor: *v,
            },
        )
    }))
}

/// An exact cost (millionths of the minor unit) as booked: rounded to the
/// minor unit, half away from zero.
fn booked(micros: i128) -> Result<i64, BookError> {
    i64::try_from(crate::ledger::money::round_micros(micros)).map_err(|_| BookError::Overflow)
}

impl Ledgered {
    /// The book value, at the end of `as_of`, of the examples present when
    /// the ledger held `size` events (a commit's head): a membership added
    /// before it and not removed before it.
    pub fn book_value(
        &self,
        commit: CommitId,
        size: u64,
        policies: &BTreeMap<String, Policy>,
        as_of: Month,
    ) -> Result<BookValue, BookError> {
        let mut exact: BTreeMap<(usize, usize), i128> = BTreeMap::new();
        let (mut without_cost, mut not_yet_booked) = (0, 0);
        for (id, ms) in &self.members {
            for m in ms {
                let present = m.added < size && m.removed.is_none_or(|(_, r)| r >= size);
                if !present {
                    continue;
                }
                let Some((cost, _)) = self.costs.get(id) else {
                    if self.costed_later.contains(id) {
                        not_yet_booked += 1;
                    } else {
                        without_cost += 1;
                    }
                    continue;
                };
                let part = self.lots[m.lot]
                    .parts
                    .iter()
                    .position(|p| p.disposed == m.removed.map(|(mo, _)| mo))
                    .unwrap_or(0);
                *exact.entry((m.lot, part)).or_default() += cost;
            }
        }
        let held = exact
            .into_iter()
            .map(|(k, v)| Ok((k, booked(v)?)))
            .collect::<Result<BTreeMap<_, _>, BookError>>()?;
        let in_scope: Vec<Lot> = held.keys().map(|(i, _)| self.lots[*i].clone()).collect();
        let currency = if in_scope.is_empty() {
            String::new()
        } else {
            report::check(&in_scope, policies)?
        };
        let values = report::carrying(
            &self.lots,
            &held,
            policies,
            &self.runs,
            &self.impairments,
            as_of,
        );
        let (mut cost, mut carrying) = (0, 0);
        let mut datasets: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for (k, h) in &held {
            let c = values[k];
            cost += h;
            carrying += c;
            let e = datasets.entry(self.lots[k.0].dataset.clone()).or_default();
            e.0 += h;
            e.1 += c;
        }
        Ok(BookValue {
            commit,
            as_of: as_of.to_string(),
            currency,
            cost,
            carrying,
            datasets,
            without_cost,
            not_yet_booked,
        })
    }

    /// The carrying amount of everything of `dataset` on the book at the
    /// end of `month`, and its currency.
    pub fn dataset_carrying(
        &self,
        dataset: &str,
        policies: &BTreeMap<String, Policy>,
        month: Month,
    ) -> Result<(i64, String), BookError> {
        if !policies.contains_key(dataset) {
            return Err(BookError::NoPolicy(dataset.to_string()));
        }
        let mut held = BTreeMap::new();
        let mut scope = Vec::new();
        for (i, lot) in self
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
            return Err(BookError::NothingOnBook(dataset.to_string()));
        }
        let currency = report::check(&scope, policies)?;
        let values = report::carrying(
            &self.lots,
            &held,
            policies,
            &self.runs,
            &self.impairments,
            month,
        );
        Ok((values.values().sum(), currency))
    }

    /// The lots with something on the book.
    pub fn booked_lots(&self) -> Vec<Lot> {
        self.lots
            .iter()
            .filter(|x| !x.parts.is_empty())
            .cloned()
            .collect()
    }
}
