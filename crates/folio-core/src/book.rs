//! The book: datasets as capital assets — lots placed in service by
//! commits, depreciated by policy, disposed of when their examples leave
//! (docs/BOOK.md).

pub mod html;
pub mod ledgered;
pub mod portfolio;
pub mod report;
pub mod schedule;

pub use schedule::{Convention, Method, charges};

use serde::Serialize;

/// A dataset's asset policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    /// How it depreciates (JSON: `method`, with `factor` or
    /// `expected_runs` where the method has one).
    #[serde(flatten)]
    pub method: Method,
    /// Useful life in months.
    pub life: u32,
    /// Residual (salvage) value as a share of cost, 0 to 1.
    pub residual: f64,
    /// When depreciation starts.
    pub convention: Convention,
    /// The currency its reports are in, when fixed.
    pub currency: Option<String>,
    /// Changes of estimate, in order: from that month on, the policy is
    /// the given one (applied prospectively; see docs/BOOK.md). JSON:
    /// `[{from, method, …, life, residual}]`.
    #[serde(serialize_with = "changes_json")]
    pub changes: Vec<(report::Month, Policy)>,
}

/// Changes of estimate as named fields: the month and what applies from it.
fn changes_json<S: serde::Serializer>(
    changes: &[(report::Month, Policy)],
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Change<'a> {
        from: String,
        #[serde(flatten)]
        method: &'a Method,
        life: u32,
        residual: f64,
    }
    s.collect_seq(changes.iter().map(|(m, p)| Change {
        from: m.to_string(),
        method: &p.method,
        life: p.life,
        residual: p.residual,
    }))
}

/// A change of estimate as the config writes it
/// (`[[book."DATASET".changes]]`): from a month, the settings that change.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeConfig {
    /// The first month it applies to (YYYY-MM).
    pub from: String,
    /// See [`PolicyConfig`].
    pub method: Option<String>,
    /// See [`PolicyConfig`].
    pub factor: Option<f64>,
    /// See [`PolicyConfig`].
    pub life: Option<u32>,
    /// See [`PolicyConfig`].
    pub residual: Option<f64>,
    /// See [`PolicyConfig`].
    pub expected_runs: Option<u64>,
}

/// A policy as `.folio/config.toml` writes it (`[book."DATASET"]`).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// straight-line, declining-balance, sum-of-years-digits, units-of-use.
    pub method: Option<String>,
    /// Declining-balance factor (default 2.0).
    pub factor: Option<f64>,
    /// Useful life in months.
    pub life: Option<u32>,
    /// Residual value as a share of cost (default 0).
    pub residual: Option<f64>,
    /// full-month (default), mid-month or next-month.
    pub convention: Option<String>,
    /// Units of use: training runs expected over the life.
    pub expected_runs: Option<u64>,
    /// ISO 4217 currency of the dataset's costs.
    pub currency: Option<String>,
    /// Changes of estimate, applied prospectively.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ChangeConfig>,
}

/// Why a book policy (a `[book."DATASET"]` table, or `book policy` flags)
/// is refused; each names the setting and what to give.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// No method.
    #[error(
        "no method: give straight-line, declining-balance, sum-of-years-digits or units-of-use"
    )]
    NoMethod,
    /// A method folio does not know.
    #[error(
        "unknown method '{0}': use straight-line, declining-balance, sum-of-years-digits or units-of-use"
    )]
    UnknownMethod(String),
    /// A declining-balance factor out of range.
    #[error("factor {0}: use a number above 0 and at most 10 (2.0 is double-declining)")]
    Factor(f64),
    /// A factor for another method.
    #[error("factor applies to declining-balance only")]
    FactorWithoutDeclining,
    /// Units of use without the runs expected.
    #[error(
        "units-of-use needs expected_runs, the training runs expected over the life (at least 1)"
    )]
    NoExpectedRuns,
    /// No useful life.
    #[error("no life: give the useful life in months")]
    NoLife,
    /// A life of 0 months.
    #[error("a useful life of 0 months: give at least 1")]
    ZeroLife,
    /// A life over 100 years.
    #[error("a useful life of {0} months: give at most 1200")]
    LifeTooLong(u32),
    /// A residual share outside 0..1.
    #[error(
        "residual {0}: the residual value is a share of cost from 0 to 1 (above 1 it would exceed the cost)"
    )]
    Residual(f64),
    /// A convention folio does not know.
    #[error("unknown convention '{0}': use full-month, mid-month or next-month")]
    UnknownConvention(String),
    /// Not an ISO 4217 code.
    #[error("unknown currency '{0}': give an ISO 4217 code")]
    UnknownCurrency(String),
    /// A change whose month does not parse.
    #[error("change from '{0}' is not a month: write YYYY-MM")]
    ChangeMonth(String),
    /// Changes out of month order.
    #[error("change from {0}: changes must be in month order, one per month")]
    ChangeOrder(report::Month),
    /// A change that makes the policy invalid.
    #[error("change from {from}: {source}")]
    Change {
        /// The month the change applies from.
        from: report::Month,
        /// What is wrong with the policy it makes.
        source: Box<PolicyError>,
    },
}

impl PolicyError {
    /// What kind of failure this is.
    pub fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Invalid
    }
}

impl PolicyConfig {
    /// The policy, checked; an error names the bad setting and says what
    /// to give.
    pub fn policy(&self) -> Result<Policy, PolicyError> {
        let mut base = self.policy_alone()?;
        let mut current = self.clone();
        current.changes.clear();
        let mut last: Option<report::Month> = None;
        for ch in &self.changes {
            let from = report::Month::parse(&ch.from)
                .ok_or_else(|| PolicyError::ChangeMonth(ch.from.clone()))?;
            if last.is_some_and(|l| from <= l) {
                return Err(PolicyError::ChangeOrder(from));
            }
            last = Some(from);
            if ch.method.is_some() {
                current.method = ch.method.clone();
                current.factor = None;
                current.expected_runs = None;
            }
            current.factor = ch.factor.or(current.factor);
            current.life = ch.life.or(current.life);
            current.residual = ch.residual.or(current.residual);
            current.expected_runs = ch.expected_runs.or(current.expected_runs);
            let p = current.policy_alone().map_err(|e| PolicyError::Change {
                from,
                source: Box::new(e),
            })?;
            base.changes.push((from, p));
        }
        Ok(base)
    }

    /// The policy without its changes.
    fn policy_alone(&self) -> Result<Policy, PolicyError> {
        let method = self.method()?;
        if self.factor.is_some() && !matches!(method, Method::DecliningBalance { .. }) {
            return Err(PolicyError::FactorWithoutDeclining);
        }
        let life = match self.life {
            Some(0) => return Err(PolicyError::ZeroLife),
            Some(l) if l <= 1200 => l,
            Some(l) => return Err(PolicyError::LifeTooLong(l)),
            None => return Err(PolicyError::NoLife),
        };
        let residual = self.residual.unwrap_or(0.0);
        if !(residual.is_finite() && (0.0..=1.0).contains(&residual)) {
            return Err(PolicyError::Residual(residual));
        }
        let convention = match self.convention.as_deref() {
            None => Convention::FullMonth,
            Some(c) => {
                Convention::parse(c).ok_or_else(|| PolicyError::UnknownConvention(c.to_string()))?
            }
        };
        let currency = match &self.currency {
            None => None,
            Some(c) => {
                let c = c.to_ascii_uppercase();
                if crate::ledger::money::exponent(&c).is_none() {
                    return Err(PolicyError::UnknownCurrency(c));
                }
                Some(c)
            }
        };
        Ok(Policy {
            method,
            life,
            residual,
            convention,
            currency,
            changes: Vec::new(),
        })
    }
}

impl PolicyConfig {
    fn method(&self) -> Result<Method, PolicyError> {
        Ok(match self.method.as_deref() {
            None => return Err(PolicyError::NoMethod),
            Some("straight-line") => Method::StraightLine,
            Some("declining-balance") => {
                let factor = self.factor.unwrap_or(2.0);
                if !(factor.is_finite() && factor > 0.0 && factor <= 10.0) {
                    return Err(PolicyError::Factor(factor));
                }
                Method::DecliningBalance { factor }
            }
            Some("sum-of-years-digits") => Method::SumOfYearsDigits,
            Some("units-of-use") => Method::UnitsOfUse {
                expected_runs: match self.expected_runs {
                    Some(n) if n > 0 => n,
                    _ => return Err(PolicyError::NoExpectedRuns),
                },
            },
            Some(m) => return Err(PolicyError::UnknownMethod(m.to_string())),
        })
    }
}

/// What `book policy DATASET --…` asks to change: the settings given
/// (unset ones keep the dataset's current settings) and, for a change of
/// estimate, the month it applies from.
#[derive(Debug, Clone, Default)]
pub struct PolicyUpdate {
    /// The settings given (its `changes` are ignored).
    pub settings: PolicyConfig,
    /// The first month of a change of estimate (`--from`).
    pub from: Option<report::Month>,
}

impl PolicyUpdate {
    /// True when the update sets nothing.
    pub fn is_empty(&self) -> bool {
        PolicyConfig {
            changes: Vec::new(),
            ..self.settings.clone()
        } == PolicyConfig::default()
    }
}

impl PolicyConfig {
    /// The policy settings after `u`, for `dataset` whose current settings
    /// are `old`. Once the dataset is on the book (`on_book`), or when
    /// `u.from` is given, the update is a change of estimate from a month
    /// on (`this_month` by default): it applies prospectively and may not
    /// change the convention or currency. Values are checked first, so a
    /// bad one is named before anything else is decided.
    pub fn updated(
        old: Option<PolicyConfig>,
        u: &PolicyUpdate,
        on_book: bool,
        this_month: report::Month,
        dataset: &str,
    ) -> Result<PolicyConfig, report::BookError> {
        use report::BookError;
        let (s, from) = (&u.settings, u.from);
        let at = |source| BookError::Policy {
            at: format!("book policy for {dataset}"),
            source,
        };
        if let Some(c) = &s.convention
            && Convention::parse(c).is_none()
        {
            return Err(at(PolicyError::UnknownConvention(c.clone())));
        }
        if let Some(c) = &s.currency
            && crate::ledger::money::exponent(&c.to_ascii_uppercase()).is_none()
        {
            return Err(at(PolicyError::UnknownCurrency(c.to_ascii_uppercase())));
        }
        match old {
            Some(mut old) if on_book || from.is_some() => {
                if s.convention.is_some() || s.currency.is_some() {
                    return Err(BookError::FixedOnBook(dataset.to_string()));
                }
                let from = from.unwrap_or(this_month);
                old.changes
                    .retain(|c| report::Month::parse(&c.from) != Some(from));
                if let Some(last) = old
                    .changes
                    .last()
                    .and_then(|c| report::Month::parse(&c.from))
                    && last > from
                {
                    return Err(BookError::ChangeOrder { from, last });
                }
                old.changes.push(ChangeConfig {
                    from: from.to_string(),
                    method: s.method.clone(),
                    factor: s.factor,
                    life: s.life,
                    residual: s.residual,
                    expected_runs: s.expected_runs,
                });
                Ok(old)
            }
            old => {
                let old = old.unwrap_or_default();
                Ok(PolicyConfig {
                    method: s.method.clone().or(old.method),
                    factor: s.factor.or(old.factor),
                    life: s.life.or(old.life),
                    residual: s.residual.or(old.residual),
                    convention: s.convention.clone().or(old.convention),
                    expected_runs: s.expected_runs.or(old.expected_runs),
                    currency: s.currency.clone().or(old.currency),
                    changes: old.changes,
                })
            }
        }
    }
}
