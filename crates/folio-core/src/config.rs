//! `.folio/config.toml`: per-table settings (format, key, column types).
//!
//! ```toml
//! [tables."data/reviews.csv"]
//! format = "csv"            # csv, tsv, jsonl or parquet; default from the extension
//! key = ["id"]              # the row identity; default: the row's content
//! [tables."data/reviews.csv".columns]
//! label = "categorical"     # integer, float, boolean, string or categorical
//! [tables."data/reviews.csv".meta]
//! source = "origin"         # columns holding each row's ledger metadata:
//! label = "label"           # source, label, annotator, confidence, cost,
//! confidence = "conf"       # labelling_cost, vendor, currency, license,
//!                           # sensitivity
//! [tables."labels.csv"]
//! links = { column = "path", dataset = "images" }  # rows describe files
//! [datasets."images"]
//! labels = "parent-folder"  # images/cat/1.png is labelled cat
//! [ledger]
//! sensitivities = ["public", "internal", "confidential", "pii"]  # the default
//! ```

use crate::error::ErrorKind;
use std::collections::BTreeMap;

pub mod edit;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::table::{ColumnType, Format};

/// Errors reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The config file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown settings.
    #[error("{}: {detail}", path.display())]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// What is wrong, with its line.
        detail: String,
    },
}

impl ConfigError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ConfigError::Io { source, .. } => ErrorKind::of_io(source),
            ConfigError::Invalid { .. } => ErrorKind::Invalid,
        }
    }
}

/// Settings of one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    /// Format, overriding the extension.
    pub format: Option<Format>,
    /// Key columns.
    #[serde(default)]
    pub key: Vec<String>,
    /// Declared column types.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnType>,
    /// Columns that hold each example's ledger metadata.
    #[serde(default)]
    pub meta: MetaFields,
    /// A column naming files of a folder dataset: each row's metadata
    /// (its `meta` columns) applies to the file it names.
    pub links: Option<LinkConfig>,
    /// Sharded tables (D91): `true` on a folder reads every table file
    /// under it as shards of one table named by the folder; `false` on a
    /// `NAME` that `NAME-00000-of-00008.EXT` files would make a sharded
    /// table keeps each shard a table of its own.
    pub shards: Option<bool>,
}

/// `links = { column = "path", dataset = "images" }`: the table's rows
/// describe the files of a folder dataset (docs/DECISIONS.md D76).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkConfig {
    /// The column holding each row's file path, relative to the dataset
    /// (a path that starts with the dataset's own path is accepted too).
    pub column: String,
    /// The folder dataset whose files the rows name.
    pub dataset: String,
}

/// `[datasets."PATH"]`: settings of one folder dataset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// Where a file's label comes from when nothing else gives one.
    pub labels: Option<LabelsFrom>,
    /// Store every file of the dataset sealed to `[encryption] recipients`
    /// (D83), whatever its examples' sensitivity.
    #[serde(default)]
    pub encrypt: bool,
}

/// `[encryption]`: who can read sealed objects (D83).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionConfig {
    /// Public keys sealed objects are written to: age X25519 keys
    /// (`age1…`, from `age-keygen`) or SSH public keys. Their private
    /// identities never enter the repository.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// Sensitivity classes whose examples are sealed when committed with
    /// that class (`commit --sensitivity pii`): default pii and
    /// confidential.
    #[serde(default = "EncryptionConfig::default_classes")]
    pub classes: Vec<String>,
}

impl Default for EncryptionConfig {
    fn default() -> Self {
        EncryptionConfig {
            recipients: Vec::new(),
            classes: Self::default_classes(),
        }
    }
}

impl EncryptionConfig {
    fn default_classes() -> Vec<String> {
        vec!["pii".into(), "confidential".into()]
    }
}

/// Sources of a file's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum LabelsFrom {
    /// The name of the folder holding the file (`images/cat/1.png` is a
    /// `cat`): the `imagefolder` convention of Hugging Face datasets and
    /// torchvision. Files directly in the dataset's folder get none.
    #[serde(rename = "parent-folder")]
    ParentFolder,
}

/// The ledger metadata fields of an example, each optional, as text.
/// In the config they name the column that holds each field; on commit
/// they hold an example's values (see `repo::Meta`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaFields {
    /// Where the example came from.
    pub source: Option<String>,
    /// When it was collected (a date `YYYY-MM-DD` or an RFC 3339 time).
    pub collected_at: Option<String>,
    /// Its label.
    pub label: Option<String>,
    /// Who labelled it.
    pub annotator: Option<String>,
    /// How sure, 0..1.
    pub confidence: Option<String>,
    /// Its acquisition cost (decimal, in `currency`).
    pub cost: Option<String>,
    /// Its labelling cost (decimal, in `currency`).
    pub labelling_cost: Option<String>,
    /// Who was paid.
    pub vendor: Option<String>,
    /// The cost's ISO 4217 currency.
    pub currency: Option<String>,
    /// Its license (`licence` is accepted as the same key).
    #[serde(alias = "licence")]
    pub license: Option<String>,
    /// Its sensitivity.
    pub sensitivity: Option<String>,
}

impl MetaFields {
    /// The fields' names, as config keys, sidecar columns and flags use them.
    pub const NAMES: [&'static str; 11] = [
        "source",
        "collected_at",
        "label",
        "annotator",
        "confidence",
        "cost",
        "labelling_cost",
        "vendor",
        "currency",
        "license",
        "sensitivity",
    ];

    /// The fields, in the order of [`MetaFields::NAMES`].
    pub fn fields(&self) -> [&Option<String>; 11] {
        [
            &self.source,
            &self.collected_at,
            &self.label,
            &self.annotator,
            &self.confidence,
            &self.cost,
            &self.labelling_cost,
            &self.vendor,
            &self.currency,
            &self.license,
            &self.sensitivity,
        ]
    }

    /// The fields, to change, in the order of [`MetaFields::NAMES`].
    pub fn fields_mut(&mut self) -> [&mut Option<String>; 11] {
        [
            &mut self.source,
            &mut self.collected_at,
            &mut self.label,
            &mut self.annotator,
            &mut self.confidence,
            &mut self.cost,
            &mut self.labelling_cost,
            &mut self.vendor,
            &mut self.currency,
            &mut self.license,
            &mut self.sensitivity,
        ]
    }

    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        *self == MetaFields::default()
    }

    /// The field called `name` (one of [`MetaFields::NAMES`]).
    pub fn field(&self, name: &str) -> &Option<String> {
        match name {
            "source" => &self.source,
            "collected_at" => &self.collected_at,
            "label" => &self.label,
            "annotator" => &self.annotator,
            "confidence" => &self.confidence,
            "cost" => &self.cost,
            "labelling_cost" => &self.labelling_cost,
            "vendor" => &self.vendor,
            "currency" => &self.currency,
            "license" => &self.license,
            "sensitivity" => &self.sensitivity,
            _ => panic!("no metadata field '{name}'"),
        }
    }

    /// Builds metadata field by field.
    pub fn from_fn(mut f: impl FnMut(&'static str) -> Option<String>) -> MetaFields {
        MetaFields {
            source: f("source"),
            collected_at: f("collected_at"),
            label: f("label"),
            annotator: f("annotator"),
            confidence: f("confidence"),
            cost: f("cost"),
            labelling_cost: f("labelling_cost"),
            vendor: f("vendor"),
            currency: f("currency"),
            license: f("license"),
            sensitivity: f("sensitivity"),
        }
    }
}

/// Ledger settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    /// The sensitivity classes examples may have (default: public,
    /// internal, confidential, pii).
    pub sensitivities: Option<Vec<String>>,
}

/// Drift settings: `[drift]` and `[drift.columns."NAME"]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftConfig {
    /// Bins of numeric columns (default 10).
    pub bins: Option<usize>,
    /// Share of drifted columns at which a table drifts (default 0.5).
    pub share: Option<f64>,
    /// Change of missing rate at which a column drifts (default 0.1).
    pub missing: Option<f64>,
    /// Per-column metric and threshold.
    #[serde(default)]
    pub columns: BTreeMap<String, DriftColumn>,
    /// Columns left out of every table, as globs.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Metadata columns and the ledger's label and confidence count toward
    /// the verdict (default false: reported apart).
    pub count_metadata: Option<bool>,
    /// Whose default tests decide: folio (default), evidently or nannyml.
    pub preset: Option<String>,
    /// What to compare of one table or folder dataset, by path.
    #[serde(default)]
    pub tables: BTreeMap<String, DriftTable>,
}

/// `[drift.tables."PATH"]`: rows and columns one table's drift compares.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftTable {
    /// Only the current side's rows added or changed since the reference.
    #[serde(default)]
    pub added: bool,
    /// Only rows from this source, on both sides.
    pub where_source: Option<String>,
    /// Only rows with this latest label, on both sides.
    pub where_label: Option<String>,
    /// Only reference rows from this source.
    pub ref_where_source: Option<String>,
    /// Only reference rows with this latest label.
    pub ref_where_label: Option<String>,
    /// Only current rows from this source.
    pub cur_where_source: Option<String>,
    /// Only current rows with this latest label.
    pub cur_where_label: Option<String>,
    /// Columns left out, as globs.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Columns compared (every one when empty).
    #[serde(default)]
    pub columns: Vec<String>,
    /// Metadata columns count toward this table's verdict.
    pub count_metadata: Option<bool>,
}

impl DriftTable {
    /// The selection it configures.
    pub fn selection(&self) -> crate::drift::report::Selection {
        use crate::drift::report::{RowFilter, Selection};
        let side = |s: &Option<String>, l: &Option<String>| RowFilter {
            source: s.clone().or_else(|| self.where_source.clone()),
            label: l.clone().or_else(|| self.where_label.clone()),
        };
        Selection {
            added: self.added,
            reference: side(&self.ref_where_source, &self.ref_where_label),
            current: side(&self.cur_where_source, &self.cur_where_label),
            exclude: self.exclude.clone(),
            columns: self.columns.clone(),
            count_metadata: self.count_metadata.unwrap_or(false),
        }
    }
}

/// A column's drift rule.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftColumn {
    /// Metric name (see docs/DRIFT.md).
    pub metric: Option<String>,
    /// Threshold.
    pub threshold: Option<f64>,
    /// `numeric` or `categorical`, whatever the values look like.
    pub kind: Option<String>,
}

/// The sensitivity classes when none are configured.
pub const DEFAULT_SENSITIVITIES: [&str; 4] = ["public", "internal", "confidential", "pii"];

/// The repository configuration.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Per-table settings, by path relative to the working tree.
    #[serde(default)]
    pub tables: BTreeMap<String, TableConfig>,
    /// Ledger settings.
    #[serde(default)]
    pub ledger: LedgerConfig,
    /// Drift settings.
    #[serde(default)]
    pub drift: DriftConfig,
    /// Asset policies by dataset path.
    #[serde(default)]
    pub book: BTreeMap<String, crate::book::PolicyConfig>,
    /// Garbage collection.
    #[serde(default)]
    pub gc: GcConfig,
    /// `[quality]`: label-quality settings.
    #[serde(default)]
    pub quality: QualityConfig,
    /// Per-dataset settings, by dataset path.
    #[serde(default)]
    pub datasets: BTreeMap<String, DatasetConfig>,
    /// `[encryption]`: recipients of sealed objects.
    #[serde(default)]
    pub encryption: EncryptionConfig,
    /// `[retention]`: how long examples may be kept.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// `[access]`: reads of encrypted data.
    #[serde(default)]
    pub access: AccessConfig,
}

/// `[access]`: reads of encrypted data (D85).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// The purpose recorded for reads that give none (`--purpose`).
    pub purpose: Option<String>,
}

/// `[retention]`: how long examples may be kept, by source and dataset, and
/// when licences end (docs/GOVERNANCE.md, "Retention").
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Months the examples of a source may be kept, by source (a source
    /// covers the sources under it: `s3://vendor-a` covers
    /// `s3://vendor-a/2026-01`).
    #[serde(default)]
    pub sources: BTreeMap<String, u32>,
    /// Months the examples of a dataset may be kept, by dataset path.
    #[serde(default)]
    pub datasets: BTreeMap<String, u32>,
    /// The date (YYYY-MM-DD) from which a licence no longer covers its
    /// examples, by licence id.
    #[serde(default)]
    pub licenses: BTreeMap<String, String>,
}

/// `[quality]`: who settles disagreements.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityConfig {
    /// The annotator whose label settles an example: the reference every
    /// other annotator's agreement is measured against.
    pub adjudicator: Option<String>,
}

/// `[gc]`: what garbage collection keeps.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcConfig {
    /// Days the operation log keeps what its entries name (commits of
    /// deleted branches, pending batches dropped): default 90.
    #[serde(default = "GcConfig::default_days")]
    pub oplog_days: u32,
}

impl GcConfig {
    fn default_days() -> u32 {
        90
    }
}

impl Default for GcConfig {
    fn default() -> Self {
        GcConfig {
            oplog_days: GcConfig::default_days(),
        }
    }
}

impl Config {
    /// Reads `config.toml` under the `.folio` folder (absent means defaults).
    pub fn load(dot: &Path) -> Result<Config, ConfigError> {
        let path = dot.join("config.toml");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => return Err(ConfigError::Io { path, source }),
        };
        Config::parse(path, &text)
    }

    /// Parses and checks the text of a config file at `path`.
    pub fn parse(path: PathBuf, text: &str) -> Result<Config, ConfigError> {
        let c: Config = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        if let Some(list) = &c.ledger.sensitivities {
            let mut seen = std::collections::BTreeSet::new();
            for s in list {
                let ok = !s.is_empty()
                    && s.chars().all(|ch| {
                        ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_'
                    });
                if !ok || !seen.insert(s) {
                    return Err(ConfigError::Invalid {
                        path,
                        detail: format!(
                            "[ledger] sensitivities: '{s}' is empty, repeated, or not lowercase letters, digits, '-' and '_'"
                        ),
                    });
                }
            }
            if list.is_empty() {
                return Err(ConfigError::Invalid {
                    path,
                    detail: "[ledger] sensitivities is empty: list at least one class".into(),
                });
            }
        }
        #[cfg(feature = "encryption")]
        if !c.encryption.recipients.is_empty()
            && let Err(e) = crate::crypt::Seal::parse(&c.encryption.recipients)
        {
            return Err(ConfigError::Invalid {
                path,
                detail: format!("[encryption] {e}"),
            });
        }
        for (what, months) in c
            .retention
            .sources
            .iter()
            .map(|(k, m)| (format!("sources.\"{k}\""), m))
            .chain(
                c.retention
                    .datasets
                    .iter()
                    .map(|(k, m)| (format!("datasets.\"{k}\""), m)),
            )
        {
            if *months == 0 || *months > 1200 {
                return Err(ConfigError::Invalid {
                    path,
                    detail: format!(
                        "[retention] {what} = {months}: give the months examples may be kept, 1 to 1200"
                    ),
                });
            }
        }
        for (id, date) in &c.retention.licenses {
            if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
                return Err(ConfigError::Invalid {
                    path,
                    detail: format!(
                        "[retention] licenses.\"{id}\" = {date:?}: give the date the licence ends as YYYY-MM-DD"
                    ),
                });
            }
        }
        if c.quality
            .adjudicator
            .as_deref()
            .is_some_and(|a| a.trim().is_empty())
        {
            return Err(ConfigError::Invalid {
                path,
                detail: "[quality] adjudicator is empty: name the annotator whose labels settle disagreements".into(),
            });
        }
        for (table, t) in &c.tables {
            let Some(link) = &t.links else { continue };
            let bad = |what: String| ConfigError::Invalid {
                path: path.clone(),
                detail: format!("[tables.\"{table}\"] links: {what}"),
            };
            if link.column.is_empty() {
                return Err(bad(
                    "`column` is empty: name the column holding each row's file path".into(),
                ));
            }
            let dataset = link.dataset.trim_end_matches('/');
            if dataset.is_empty()
                || dataset
                    .split('/')
                    .any(|p| p.is_empty() || p == "." || p == "..")
            {
                return Err(bad(format!(
                    "`dataset` '{}' is not a dataset path: name the folder dataset whose files the rows describe",
                    link.dataset
                )));
            }
            if t.meta.is_empty() {
                return Err(bad(format!(
                    "the rows carry no metadata: map their columns in [tables.\"{table}\".meta] (label = \"label\", annotator = …)"
                )));
            }
        }
        c.drift_settings().map_err(|e| ConfigError::Invalid {
            path,
            detail: e.to_string(),
        })?;
        Ok(c)
    }

    /// The drift settings the config gives, over the defaults; an error
    /// names the bad setting.
    pub fn drift_settings(&self) -> Result<crate::drift::Settings, crate::drift::DriftError> {
        use crate::drift::DriftError;
        let d = &self.drift;
        let mut s = crate::drift::Settings::default();
        if let Some(b) = d.bins {
            s.bins = crate::drift::check_bins(b)?;
        }
        if let Some(x) = d.share {
            s.share = crate::drift::check_unit("[drift] share", x)?;
        }
        if let Some(x) = d.missing {
            s.missing = crate::drift::check_unit("[drift] missing", x)?;
        }
        if let Some(p) = &d.preset {
            let preset = crate::drift::parse_preset(p)?;
            crate::drift::apply_preset(&mut s, preset, d.share.is_some());
        }
        for (col, rule) in &d.columns {
            let at = |e: DriftError| DriftError::Column {
                column: col.clone(),
                source: Box::new(e),
            };
            let metric = rule
                .metric
                .as_deref()
                .map(|m| crate::drift::parse_metric(m).map_err(at))
                .transpose()?;
            if let Some(t) = rule.threshold
                && !t.is_finite()
            {
                return Err(at(DriftError::Threshold(t)));
            }
            let kind = rule
                .kind
                .as_deref()
                .map(|k| crate::drift::Kind::parse(k).ok_or(DriftError::UnknownKind(k.into())))
                .transpose()
                .map_err(at)?;
            s.rules.insert(
                col.clone(),
                crate::drift::Rule {
                    metric,
                    threshold: rule.threshold,
                    kind,
                },
            );
        }
        let all = crate::drift::report::Selection {
            exclude: d.exclude.clone(),
            ..Default::default()
        };
        all.exclusions()?;
        for t in d.tables.values() {
            t.selection().exclusions()?;
        }
        Ok(s)
    }

    /// The drift options the config gives for `paths`: settings, the
    /// selection of every table (`[drift] exclude`, `count_metadata`) and
    /// each table's own (`[drift.tables."PATH"]`).
    pub fn drift_options(
        &self,
        paths: Vec<String>,
    ) -> Result<crate::drift::report::DriftOptions, crate::drift::DriftError> {
        let paths_empty = paths.is_empty();
        Ok(crate::drift::report::DriftOptions {
            selection: crate::drift::report::Selection {
                exclude: self.drift.exclude.clone(),
                count_metadata: self.drift.count_metadata.unwrap_or(false),
                ..Default::default()
            },
            tables: self
                .drift
                .tables
                .iter()
                .map(|(p, t)| (p.trim_end_matches('/').to_string(), t.selection()))
                .collect(),
            settings: self.drift_settings()?,
            // Settings for every table are checked against the columns
            // compared when every table is compared.
            named: if paths_empty {
                self.drift
                    .columns
                    .keys()
                    .map(|c| (format!("[drift.columns.\"{c}\"]"), c.clone()))
                    .collect()
            } else {
                Vec::new()
            },
            patterns: if paths_empty {
                self.drift
                    .exclude
                    .iter()
                    .map(|p| ("[drift] exclude".to_string(), p.clone()))
                    .collect()
            } else {
                Vec::new()
            },
            paths,
        })
    }

    /// The sensitivity classes examples may have.
    pub fn sensitivities(&self) -> Vec<String> {
        match &self.ledger.sensitivities {
            Some(list) => list.clone(),
            None => DEFAULT_SENSITIVITIES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    /// The settings of the table at `path` (defaults when none).
    pub fn table(&self, path: &str) -> TableConfig {
        self.tables.get(path).cloned().unwrap_or_default()
    }

    /// Where the files of dataset `path` take a label from, if anywhere.
    pub fn labels_of(&self, path: &str) -> Option<LabelsFrom> {
        self.datasets
            .iter()
            .find(|(d, _)| d.trim_end_matches('/') == path)
            .and_then(|(_, d)| d.labels)
    }

    /// The tables whose rows link to files, with their links.
    pub fn links(&self) -> impl Iterator<Item = (&str, &LinkConfig)> {
        self.tables
            .iter()
            .filter_map(|(t, c)| c.links.as_ref().map(|l| (t.as_str(), l)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_table_settings_and_rejects_unknown_ones() {
        let c: Config = toml::from_str(
            "[tables.\"d/t.csv\"]\nformat = \"tsv\"\nkey = [\"id\"]\n[tables.\"d/t.csv\".columns]\nlabel = \"categorical\"\n",
        )
        .expect("valid");
        let t = c.table("d/t.csv");
        assert_eq!(t.format, Some(Format::Tsv));
        assert_eq!(t.key, ["id"]);
        assert_eq!(t.columns["label"], ColumnType::Categorical);
        assert!(toml::from_str::<Config>("[tables.\"x\"]\nkee = 1\n").is_err());
    }
}
