//! `book`: lots from the ledger, schedules and book value.

use std::collections::BTreeMap;

use super::{Repo, RepoError};
use crate::book::ledgered::{BookValue, Ledgered, LedgeredBuilder};
use crate::book::portfolio::{Description, Impairment, Portfolio, drift_impairment};
use crate::book::report::{self, BookError, Lot, Month, Schedule, ScheduleOptions};
use crate::book::{Policy, PolicyConfig};
use crate::id::CommitId;
use crate::ledger::Payload;
use crate::ledger::query::LedgerView;

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

    /// Applies `update` to `dataset`'s policy (see
    /// [`PolicyConfig::updated`]; `now` dates a change of estimate given
    /// without a month) and saves it.
    pub fn update_book_policy(
        &self,
        lock: &crate::lock::RepoLock,
        dataset: &str,
        update: &crate::book::PolicyUpdate,
        now: i64,
    ) -> Result<Policy, RepoError> {
        let old = self.config()?.book.get(dataset).cloned();
        let on_book = old.is_some() && self.book_has_lots(dataset)?;
        let cfg = PolicyConfig::updated(old, update, on_book, Month::of_time(now), dataset)?;
        self.set_book_policy(lock, dataset, &cfg)
    }

    /// Whether any example of `dataset` with a cost basis is on the book.
    pub fn book_has_lots(&self, dataset: &str) -> Result<bool, RepoError> {
        let l = self.ledgered(&self.ledger_view()?, None)?;
        Ok(l.lots
            .iter()
            .any(|x| x.dataset == dataset && !x.parts.is_empty()))
    }

    /// Lots, memberships, costs and training runs, from the events of
    /// `view`, with costs known at the end of `as_of`.
    fn ledgered(&self, view: &LedgerView, as_of: Option<Month>) -> Result<Ledgered, RepoError> {
        let heads = view.heads();
        let mut b = LedgeredBuilder::new(as_of, &heads);
        view.each(&mut |e| {
            b.apply(&e);
            Ok::<(), RepoError>(())
        })?;
        Ok(b.finish()?)
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
            o.to.or_else(|| report::last_month(&lots, &policies, &l.runs, &l.impairments))
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
    /// month `as_of`.
    pub fn book_value(&self, rev: CommitId, as_of: Month) -> Result<BookValue, RepoError> {
        let policies = self.book_policies()?;
        let size = self.read_commit(rev)?.ledger.map_or(0, |(s, _)| s);
        let l = self.ledgered(&self.ledger_view()?, Some(as_of))?;
        Ok(l.book_value(rev, size, &policies, as_of)?)
    }
}

impl Repo {
    /// The carrying amount of a dataset at the end of `month` and its
    /// currency (an error when nothing of it is on the book).
    fn dataset_carrying(&self, dataset: &str, month: Month) -> Result<(i64, String), RepoError> {
        let policies = self.book_policies()?;
        let l = self.ledgered(&self.ledger_view()?, None)?;
        Ok(l.dataset_carrying(dataset, &policies, month)?)
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
            who,
            vec![crate::ledger::Draft {
                time: who.time,
                actor: who.actor.clone(),
                commit: self.head_commit()?,
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
        // The tables' configured selections apply; the verdict counts data
        // columns (metadata only where configured to count).
        let mut opts = self.config()?.drift_options(vec![dataset.to_string()])?;
        opts.settings = settings;
        let report = self.drift(r, c, &opts)?;
        let (n, k) = report.tables.iter().fold((0u64, 0u64), |(n, k), t| {
            (n + t.counted_columns as u64, k + t.drifted_columns as u64)
        });
        let amount = drift_impairment(carrying, k, n);
        Ok((
            Impairment {
                dataset: dataset.to_string(),
                month: month.to_string(),
                carrying,
                amount,
                currency,
                reason: format!(
                    "drift {}..{}: {k} of {n} columns drifted",
                    r.short(12),
                    c.short(12)
                ),
                recorded: false,
            },
            report,
        ))
    }
}

impl Repo {
    /// The book at the end of `as_of`: per dataset and per source, cost,
    /// accumulated depreciation and impairment, carrying amount, share,
    /// mean confidence, sensitivity and the latest drift verdict.
    pub fn book_portfolio(&self, as_of: Month) -> Result<Portfolio, RepoError> {
        let policies = self.book_policies()?;
        let view = self.ledger_view()?;
        let l = self.ledgered(&view, Some(as_of))?;
        let mut p = Portfolio::of(&l, &policies, as_of)?;
        // Each example's state counted as it is folded, none kept (D94).
        let parts = view.fold_states(&Description::default, &|d, _, st| d.add(&st))?;
        let mut d = Description::default();
        parts.into_iter().for_each(|x| d.merge(x));
        p.describe(&d);
        // The latest drift verdict per dataset: HEAD's first parent → HEAD.
        let head = self.head_commit()?;
        let parent = match head {
            Some(h) => self.read_commit(h)?.parents.first().copied(),
            None => None,
        };
        let config = self.config()?;
        for r in p.rows.iter_mut().filter(|r| r.kind == "dataset") {
            let (Some(parent), Some(head)) = (parent, head) else {
                break;
            };
            let o = config.drift_options(vec![r.name.clone()])?;
            r.drift = match self.drift(parent, head, &o) {
                Ok(d) => Some(if d.drifted { "drifted" } else { "stable" }.to_string()),
                Err(RepoError::Drift(_)) => None,
                Err(e) => return Err(e),
            };
        }
        Ok(p)
    }
}
