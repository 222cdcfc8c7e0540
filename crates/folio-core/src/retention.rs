//! Retention (issue 16): which examples are due for deletion under the
//! rules of `[retention]` — months an example of a source or a dataset may
//! be kept, and the date a licence ends — as of a revision and a date.
//!
//! An example's time runs from when it was collected (`collected_at`, when
//! recorded) or else from when it was first added to the ledger. When
//! several rules apply, the earliest due date wins and is the one named.
//! Examples no longer present at the revision are listed too: their
//! content is still held by the snapshots that had them.

use chrono::{DateTime, Months, NaiveDate, TimeZone, Utc};
use serde::Serialize;

use crate::config::RetentionConfig;
use crate::ledger::{ExampleId, ExampleState, IdMap};

/// An example under a rule, with the date it is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionItem {
    /// The example's id (hex).
    pub example: String,
    /// Where it is (path, or table and key).
    pub locator: String,
    /// Its dataset.
    pub dataset: String,
    /// Whether the revision holds it (false: removed, still in history).
    pub present: bool,
    /// When it is due, seconds since the epoch (UTC).
    pub due: i64,
    /// The rule that makes it due, as the config writes it
    /// (`sources."s3://vendor-a" = 24 months`).
    pub rule: String,
    /// What the time runs from: `collected_at`, `added` or `license`.
    pub basis: &'static str,
    /// The start of that time (`None` for a licence end).
    pub since: Option<i64>,
    /// Due on or before the date checked.
    pub overdue: bool,
}

/// The examples due (or due within the horizon) at a date.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// The revision checked (hex).
    pub commit: String,
    /// The date checked, seconds since the epoch.
    pub as_of: i64,
    /// How far ahead upcoming dues are listed, in days.
    pub within_days: u32,
    /// Examples the ledger knows at the revision.
    pub examples: u64,
    /// Examples some rule applies to.
    pub covered: u64,
    /// Examples purged already (`folio purge`, D86): not listed.
    pub purged: u64,
    /// Examples due by `as_of`, then those due within the horizon, by due
    /// date then locator.
    pub due: Vec<RetentionItem>,
}

/// What the check needs of an example: its state and when it was first
/// added (seconds since the epoch).
pub type Known = IdMap<(ExampleState, Option<i64>)>;

/// Whether a rule for `rule` covers the source `source`: the same, or a
/// source under it (the next character of `source` is `/`).
pub fn source_covers(rule: &str, source: &str) -> bool {
    let rule = rule.trim_end_matches('/');
    source == rule
        || source
            .strip_prefix(rule)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The start of an example's time: its collection time when recorded
/// (a date is its midnight UTC), else its first addition.
fn start(state: &ExampleState, added: Option<i64>) -> Option<(i64, &'static str)> {
    if let Some(c) = state.collected_at.as_deref() {
        if let Ok(t) = DateTime::parse_from_rfc3339(c) {
            return Some((t.timestamp(), "collected_at"));
        }
        if let Ok(d) = NaiveDate::parse_from_str(c, "%Y-%m-%d") {
            return Some((midnight(d), "collected_at"));
        }
    }
    added.map(|t| (t, "added"))
}

fn midnight(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .map_or(0, |t| Utc.from_utc_datetime(&t).timestamp())
}

/// `t` plus `months` calendar months (a day past the end of the target
/// month is that month's last day, as a spreadsheet's EDATE does).
pub fn add_months(t: i64, months: u32) -> i64 {
    DateTime::<Utc>::from_timestamp(t, 0)
        .and_then(|d| d.checked_add_months(Months::new(months)))
        .map_or(i64::MAX, |d| d.timestamp())
}

/// The examples of `known` due by `as_of`, or within `within_days` after.
pub fn check(
    commit: &str,
    known: &Known,
    rules: &RetentionConfig,
    as_of: i64,
    within_days: u32,
) -> RetentionReport {
    let horizon = as_of.saturating_add(i64::from(within_days) * 86_400);
    let mut report = RetentionReport {
        commit: commit.to_string(),
        as_of,
        within_days,
        examples: known.len() as u64,
        ..Default::default()
    };
    for (id, (state, added)) in known {
        if state.purged {
            report.purged += 1;
            continue;
        }
        let Some(best) = earliest(state, *added, rules) else {
            continue;
        };
        report.covered += 1;
        if best.0 <= horizon {
            report.due.push(item(id, state, best, as_of));
        }
    }
    report
        .due
        .sort_by(|a, b| a.due.cmp(&b.due).then_with(|| a.locator.cmp(&b.locator)));
    report
}

/// (due, rule, basis, since) of the rule that falls due first.
type Earliest = (i64, String, &'static str, Option<i64>);

fn earliest(state: &ExampleState, added: Option<i64>, rules: &RetentionConfig) -> Option<Earliest> {
    let mut best: Option<Earliest> = None;
    let mut consider = |c: Earliest| {
        if best.as_ref().is_none_or(|b| (c.0, &c.1) < (b.0, &b.1)) {
            best = Some(c);
        }
    };
    if let Some((since, basis)) = start(state, added) {
        if let Some(src) = state.source.as_deref() {
            for (rule, months) in &rules.sources {
                if source_covers(rule, src) {
                    consider((
                        add_months(since, *months),
                        format!("sources.\"{rule}\" = {months} months"),
                        basis,
                        Some(since),
                    ));
                }
            }
        }
        let dataset = state.dataset.trim_end_matches('/');
        for (rule, months) in &rules.datasets {
            if rule.trim_end_matches('/') == dataset {
                consider((
                    add_months(since, *months),
                    format!("datasets.\"{rule}\" = {months} months"),
                    basis,
                    Some(since),
                ));
            }
        }
    }
    if let Some(lic) = state.license.as_deref()
        && let Some(end) = rules.licenses.get(lic)
        && let Ok(d) = NaiveDate::parse_from_str(end, "%Y-%m-%d")
    {
        consider((
            midnight(d),
            format!("licenses.\"{lic}\" ends {end}"),
            "license",
            None,
        ));
    }
    best
}

fn item(id: &ExampleId, state: &ExampleState, best: Earliest, as_of: i64) -> RetentionItem {
    let (due, rule, basis, since) = best;
    RetentionItem {
        example: id.to_string(),
        locator: state.locator.to_string(),
        dataset: state.dataset.clone(),
        present: state.present,
        due,
        rule,
        basis,
        since,
        overdue: due <= as_of,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).expect("time").timestamp()
    }

    #[test]
    fn sources_cover_the_sources_under_them_only() {
        assert!(source_covers("s3://a", "s3://a"));
        assert!(source_covers("s3://a", "s3://a/2026-01"));
        assert!(source_covers("s3://a/", "s3://a/x"));
        assert!(!source_covers("s3://a", "s3://ab"));
        assert!(!source_covers("s3://a/x", "s3://a"));
    }

    #[test]
    fn months_are_calendar_months_clamped_to_the_month_end() {
        // Expected values written by hand from the calendar.
        assert_eq!(
            add_months(at("2026-01-31T10:00:00Z"), 1),
            at("2026-02-28T10:00:00Z")
        );
        assert_eq!(
            add_months(at("2024-01-31T00:00:00Z"), 1),
            at("2024-02-29T00:00:00Z")
        );
        assert_eq!(
            add_months(at("2026-03-15T00:00:00Z"), 24),
            at("2028-03-15T00:00:00Z")
        );
    }

    #[test]
    fn the_earliest_rule_wins_and_collection_time_comes_before_addition() {
        let rules = RetentionConfig {
            sources: [("s3://vendor".to_string(), 12)].into(),
            datasets: [("images".to_string(), 6)].into(),
            licenses: [("EVAL".to_string(), "2026-03-01".to_string())].into(),
        };
        let mut known = Known::default();
        let state = |loc: &str, src: &str, ds: &str, collected: Option<&str>, lic: Option<&str>| {
            ExampleState {
                locator: crate::ledger::Locator::file(loc),
                dataset: ds.into(),
                source: Some(src.into()),
                collected_at: collected.map(str::to_string),
                license: lic.map(str::to_string),
                present: true,
                ..Default::default()
            }
        };
        let added = at("2026-01-10T00:00:00Z");
        // Source rule only, time from collection: 2025-06-01 + 12 months.
        known.insert(
            ExampleId::file("t/a"),
            (
                state("t/a", "s3://vendor/x", "t", Some("2025-06-01"), None),
                Some(added),
            ),
        );
        // Dataset rule (6 months from addition) beats the source (12).
        known.insert(
            ExampleId::file("images/b"),
            (
                state("images/b", "s3://vendor/x", "images", None, None),
                Some(added),
            ),
        );
        // The licence ends before either.
        known.insert(
            ExampleId::file("images/c"),
            (
                state("images/c", "s3://vendor", "images", None, Some("EVAL")),
                Some(added),
            ),
        );
        // No rule applies.
        known.insert(
            ExampleId::file("u/d"),
            (state("u/d", "crawl://x", "u", None, None), Some(added)),
        );
        let r = check("c", &known, &rules, at("2026-06-01T00:00:00Z"), 0);
        assert_eq!((r.examples, r.covered), (4, 3));
        let got: Vec<(&str, i64, &str)> = r
            .due
            .iter()
            .map(|i| (i.locator.as_str(), i.due, i.basis))
            .collect();
        assert_eq!(
            got,
            vec![
                ("images/c", at("2026-03-01T00:00:00Z"), "license"),
                ("t/a", at("2026-06-01T00:00:00Z"), "collected_at"),
            ]
        );
        // Looking 60 days ahead adds the dataset rule's due date.
        let r = check("c", &known, &rules, at("2026-06-01T00:00:00Z"), 60);
        let b = r.due.iter().find(|i| i.locator == "images/b").expect("b");
        assert_eq!(
            (b.due, b.basis, b.overdue),
            (at("2026-07-10T00:00:00Z"), "added", false)
        );
        assert_eq!(b.rule, "datasets.\"images\" = 6 months");
    }
}
