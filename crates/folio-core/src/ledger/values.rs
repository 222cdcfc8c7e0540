//! What may be recorded: the checks every value passes before it becomes
//! an event, and the fold of an example's metadata fields into payloads.
//!
//! Commit metadata (flags, mapped columns, sidecars), `annotate`, `value`,
//! `classify` and `annotate --file` all go through these checks, so the same
//! value is accepted or refused, with the same message, wherever it comes
//! from.

use super::Payload;
use super::money::{self, MoneyError};
use crate::config::MetaFields;
use crate::error::ErrorKind;

/// Why a value cannot be recorded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    /// A label that is empty or blank.
    #[error("the label is empty")]
    EmptyLabel,
    /// A confidence that does not parse.
    #[error("confidence '{0}' is not a number")]
    ConfidenceNotANumber(String),
    /// A confidence outside 0..1.
    #[error("confidence {0} is outside 0..1")]
    ConfidenceRange(String),
    /// A cost without a currency.
    #[error("cost {cost} has no currency: give --currency or map a currency column")]
    NoCurrency {
        /// The cost as written.
        cost: String,
    },
    /// An amount or currency that is not exact ISO 4217 money.
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// A sensitivity outside the configured classes.
    #[error("unknown sensitivity '{given}': use one of {} (or configure [ledger] sensitivities)", classes.join(", "))]
    UnknownSensitivity {
        /// The class given.
        given: String,
        /// The classes allowed.
        classes: Vec<String>,
    },
    /// A collection time that is neither a date nor an RFC 3339 time.
    #[error("collected_at '{0}' is not a date (YYYY-MM-DD) or an RFC 3339 time")]
    CollectedAt(String),
    /// A training record without a model or run.
    #[error("the model name and the run id must not be empty")]
    EmptyTraining,
    /// A text value with a control character (a newline, an escape, NUL):
    /// it could forge lines or terminal output in every report.
    #[error("{field} contains a control character ({code}): use printable text")]
    ControlCharacter {
        /// The field.
        field: &'static str,
        /// The character, as `U+XXXX`.
        code: String,
    },
    /// A text value over its length limit.
    #[error("{field} is {len} bytes long: at most {max} are recorded")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// The longest label, source, licence or other free text recorded, in
/// bytes (docs/FORMAT.md).
pub const MAX_TEXT: usize = 1024;
/// The longest name recorded (annotator, vendor, model, run, actor).
pub const MAX_NAME: usize = 256;

/// A free-text value, checked: printable (no control character) and at
/// most `max` bytes.
pub fn text(field: &'static str, s: &str, max: usize) -> Result<(), ValueError> {
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(ValueError::ControlCharacter {
            field,
            code: format!("U+{:04X}", u32::from(c)),
        });
    }
    if s.len() > max {
        return Err(ValueError::TooLong {
            field,
            len: s.len(),
            max,
        });
    }
    Ok(())
}

impl ValueError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
}

/// A label, checked.
pub fn label(l: &str) -> Result<(), ValueError> {
    if l.trim().is_empty() {
        return Err(ValueError::EmptyLabel);
    }
    text("the label", l, MAX_TEXT)
}

/// A confidence given as a number, checked to lie in 0..1.
pub fn confidence(c: f64) -> Result<f64, ValueError> {
    if !(c.is_finite() && (0.0..=1.0).contains(&c)) {
        return Err(ValueError::ConfidenceRange(c.to_string()));
    }
    Ok(c)
}

/// A confidence given as text, parsed and checked.
pub fn confidence_text(c: &str) -> Result<f64, ValueError> {
    let v: f64 = c
        .trim()
        .parse()
        .map_err(|_| ValueError::ConfidenceNotANumber(c.to_string()))?;
    confidence(v).map_err(|_| ValueError::ConfidenceRange(c.to_string()))
}

/// A sensitivity class, lower-cased and checked against `classes`.
pub fn sensitivity(s: &str, classes: &[String]) -> Result<String, ValueError> {
    let lower = s.to_ascii_lowercase();
    if !classes.contains(&lower) {
        return Err(ValueError::UnknownSensitivity {
            given: s.to_string(),
            classes: classes.to_vec(),
        });
    }
    Ok(lower)
}

/// A collection time: a date `YYYY-MM-DD` or an RFC 3339 time, kept as
/// written (trimmed).
pub fn collected_at(t: &str) -> Result<String, ValueError> {
    let t = t.trim();
    let ok = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").is_ok()
        || chrono::DateTime::parse_from_rfc3339(t).is_ok();
    if !ok {
        return Err(ValueError::CollectedAt(t.to_string()));
    }
    Ok(t.to_string())
}

/// A model name and run id, checked to be non-empty.
pub fn training(model: &str, run: &str) -> Result<(), ValueError> {
    if model.trim().is_empty() || run.trim().is_empty() {
        return Err(ValueError::EmptyTraining);
    }
    text("the model name", model, MAX_NAME)?;
    text("the run id", run, MAX_NAME)
}

/// An amount in `currency`'s minor units.
pub fn minor(amount: &str, currency: &str) -> Result<i64, ValueError> {
    Ok(money::parse_minor(amount, currency)?)
}

/// An example's cost in millionths of `currency`'s minor unit (finer
/// than the minor unit allowed, `money::MAX_FINE` decimals more).
pub fn micros(amount: &str, currency: &str) -> Result<i128, ValueError> {
    Ok(money::parse_micros(amount, currency)?)
}

impl MetaFields {
    /// Each field of `self`, or of `other` where `self` has none.
    pub fn or(&self, other: &MetaFields) -> MetaFields {
        self.clone().or_from(other)
    }

    /// [`MetaFields::or`], taking `self`: only `other`'s values are copied.
    pub fn or_from(mut self, other: &MetaFields) -> MetaFields {
        for (mine, theirs) in self.fields_mut().into_iter().zip(other.fields()) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        self
    }

    /// The events that record this metadata; with `old`, only what
    /// changed. Every value is checked, including the collection time.
    pub fn payloads(
        &self,
        old: Option<&MetaFields>,
        classes: &[String],
    ) -> Result<Vec<Payload>, ValueError> {
        self.payloads_in(old, Some(classes))
    }

    /// [`MetaFields::payloads`], with sensitivities checked against
    /// `classes`, or (`None`) only lower-cased: for values a commit already
    /// checked, read back from its rows.
    pub fn payloads_in(
        &self,
        old: Option<&MetaFields>,
        classes: Option<&[String]>,
    ) -> Result<Vec<Payload>, ValueError> {
        if let Some(t) = &self.collected_at {
            collected_at(t)?;
        }
        self.check_text()?;
        let changed = |f: fn(&MetaFields) -> &Option<String>| old.is_none_or(|o| f(o) != f(self));
        let mut out = Vec::new();
        if let Some(l) = &self.label
            && (changed(|m| &m.label) || changed(|m| &m.annotator) || changed(|m| &m.confidence))
        {
            out.push(Payload::Annotated {
                label: l.clone(),
                annotator: self.annotator.clone(),
                confidence: self
                    .confidence
                    .as_deref()
                    .map(confidence_text)
                    .transpose()?,
            });
        }
        if (self.cost.is_some() || self.labelling_cost.is_some())
            && (changed(|m| &m.cost)
                || changed(|m| &m.labelling_cost)
                || changed(|m| &m.currency)
                || changed(|m| &m.vendor))
        {
            out.push(self.valued()?);
        }
        if let Some(l) = &self.license
            && changed(|m| &m.license)
        {
            out.push(Payload::Licensed { license: l.clone() });
        }
        if let Some(s) = &self.sensitivity
            && changed(|m| &m.sensitivity)
        {
            out.push(Payload::Reclassified {
                sensitivity: match classes {
                    Some(c) => sensitivity(s, c)?,
                    None => s.to_ascii_lowercase(),
                },
            });
        }
        Ok(out)
    }

    /// Every free-text field, checked (see [`text`]).
    pub fn check_text(&self) -> Result<(), ValueError> {
        let fields: [(&'static str, &Option<String>, usize); 6] = [
            ("the label", &self.label, MAX_TEXT),
            ("the annotator", &self.annotator, MAX_NAME),
            ("the source", &self.source, MAX_TEXT),
            ("the vendor", &self.vendor, MAX_NAME),
            ("the license", &self.license, MAX_TEXT),
            ("the sensitivity", &self.sensitivity, MAX_NAME),
        ];
        for (field, v, max) in fields {
            if let Some(v) = v {
                text(field, v, max)?;
            }
        }
        Ok(())
    }

    fn valued(&self) -> Result<Payload, ValueError> {
        let shown = self
            .cost
            .as_deref()
            .or(self.labelling_cost.as_deref())
            .unwrap_or("");
        let currency = self
            .currency
            .as_deref()
            .ok_or_else(|| ValueError::NoCurrency {
                cost: shown.to_string(),
            })?
            .to_ascii_uppercase();
        let amount = |v: &Option<String>| {
            v.as_deref()
                .map_or(Ok(0), |v| money::parse_micros(v, &currency))
        };
        Ok(Payload::valued(
            amount(&self.cost)?,
            amount(&self.labelling_cost)?,
            currency.clone(),
            self.vendor.clone(),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_refuse_with_the_value() {
        assert_eq!(label("  "), Err(ValueError::EmptyLabel));
        assert_eq!(
            confidence_text("1.5"),
            Err(ValueError::ConfidenceRange("1.5".into()))
        );
        assert_eq!(
            confidence_text("high"),
            Err(ValueError::ConfidenceNotANumber("high".into()))
        );
        assert_eq!(confidence_text(" 0.25 "), Ok(0.25));
        assert!(confidence(f64::NAN).is_err());
        let classes = vec!["public".to_string(), "pii".to_string()];
        assert_eq!(sensitivity("PII", &classes), Ok("pii".into()));
        assert!(matches!(
            sensitivity("secret", &classes),
            Err(ValueError::UnknownSensitivity { .. })
        ));
        assert!(collected_at("2026-02-30").is_err());
        assert_eq!(collected_at("2026-02-28"), Ok("2026-02-28".into()));
        assert_eq!(training("m", " "), Err(ValueError::EmptyTraining));
    }

    #[test]
    fn payloads_record_only_what_changed() {
        let m = MetaFields {
            label: Some("cat".into()),
            cost: Some("1.5".into()),
            currency: Some("eur".into()),
            ..Default::default()
        };
        let all = m.payloads(None, &[]).expect("valid");
        assert_eq!(all.len(), 2);
        assert!(matches!(
            &all[1],
            Payload::Valued { acquisition: 150, currency, .. } if currency == "EUR"
        ));
        let relabelled = MetaFields {
            label: Some("dog".into()),
            ..m.clone()
        };
        let changed = relabelled.payloads(Some(&m), &[]).expect("valid");
        assert_eq!(changed.len(), 1, "only the label changed");
        let no_currency = MetaFields {
            currency: None,
            ..m
        };
        assert!(matches!(
            no_currency.payloads(None, &[]),
            Err(ValueError::NoCurrency { .. })
        ));
    }
}
