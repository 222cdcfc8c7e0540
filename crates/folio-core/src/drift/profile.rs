//! Column profiles: what drift needs of a sample, computed once and kept.
//!
//! A profile holds, per column, exact material: every numeric value sorted,
//! exact category counts, string lengths and token counts, and the count of
//! missing cells (null, empty text, NaN). Drift between any two commits
//! compares two profiles; nothing is sampled or approximated.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::table::{Cell, CellRef, ColumnType};

/// Version of the profile encoding and of the rules that fill it; part of
/// the cache key, so a change recomputes every profile.
pub const PROFILE_VERSION: u32 = 3;

/// Category counts are kept up to this many distinct values; beyond it a
/// string column is text only.
pub const MAX_CATEGORIES: usize = 10_000;

/// Token counts kept per text column (the most frequent; ties by token).
pub const MAX_TOKENS: usize = 100_000;

/// What drift needs of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// Column name.
    pub name: String,
    /// Its type, as inferred or declared.
    pub ty: ColumnType,
    /// Cells, counting repeated rows.
    pub total: u64,
    /// Null, empty or NaN cells.
    pub missing: u64,
    /// The values.
    pub values: Values,
}

/// A column's values, by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Values {
    /// Numbers, sorted ascending.
    Numeric(Vec<f64>),
    /// Labels: exact counts per category (`None` when there are more than
    /// [`MAX_CATEGORIES`] distinct values), and text statistics for strings.
    Strings {
        /// Exact counts, when few enough.
        counts: Option<BTreeMap<String, u64>>,
        /// Distinct values (at least [`MAX_CATEGORIES`] + 1 when `counts`
        /// is `None`).
        distinct: u64,
        /// Lengths in characters, sorted.
        lengths: Vec<f64>,
        /// Token counts (lower-cased runs of letters and digits), the most
        /// frequent [`MAX_TOKENS`].
        tokens: BTreeMap<String, u64>,
        /// Every token counted, including those not kept.
        token_total: u64,
    },
}

/// A table's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// [`PROFILE_VERSION`].
    pub version: u32,
    /// Rows, counting repeats.
    pub rows: u64,
    /// Key columns: identities, not features, so never compared.
    pub key: Vec<String>,
    /// Columns in table order.
    pub columns: Vec<ColumnProfile>,
}

/// True when a cell counts as missing: null, empty (or blank) text, NaN.
pub fn is_missing(c: CellRef<'_>) -> bool {
    match c {
        CellRef::Null => true,
        CellRef::Text(t) => {
            let t = t.trim();
            t.is_empty() || t.eq_ignore_ascii_case("nan")
        }
        CellRef::Number(n) => n.parse::<f64>().is_ok_and(f64::is_nan),
        _ => false,
    }
}

/// A cell as a number, as numeric columns read it (`None`: not a number).
pub fn number(c: CellRef<'_>) -> Option<f64> {
    match c {
        CellRef::Number(n) | CellRef::Text(n) => {
            n.trim().parse::<f64>().ok().filter(|v| !v.is_nan())
        }
        CellRef::Bool(b) => Some(f64::from(u8::from(b))),
        _ => None,
    }
}

/// A cell as text, as categorical columns read it.
pub fn text(c: CellRef<'_>) -> &str {
    match c {
        CellRef::Text(t) | CellRef::Number(t) | CellRef::Json(t) => t,
        CellRef::Bool(true) => "true",
        CellRef::Bool(false) => "false",
        CellRef::Null => "",
    }
}

/// The tokens of a text: lower-cased maximal runs of letters and digits.
pub fn tokens(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
}

/// Whether a column's values are numbers (integer and float columns).
pub fn is_numeric(ty: ColumnType) -> bool {
    matches!(ty, ColumnType::Integer | ColumnType::Float)
}

/// Accumulates one column.
#[derive(Debug, Clone)]
pub struct ColumnBuilder {
    name: String,
    ty: ColumnType,
    total: u64,
    missing: u64,
    numbers: Vec<f64>,
    counts: HashMap<String, u64>,
    overflow: bool,
    lengths: Vec<f64>,
    tokens: HashMap<String, u64>,
    token_total: u64,
}

impl ColumnBuilder {
    /// An empty column.
    pub fn new(name: &str, ty: ColumnType) -> ColumnBuilder {
        ColumnBuilder {
            name: name.to_string(),
            ty,
            total: 0,
            missing: 0,
            numbers: Vec::new(),
            counts: HashMap::new(),
            overflow: false,
            lengths: Vec::new(),
            tokens: HashMap::new(),
            token_total: 0,
        }
    }

    /// Adds a cell that occurs `n` times.
    pub fn add(&mut self, c: &Cell, n: u64) {
        self.add_ref(c.as_ref(), n);
    }

    /// Adds a borrowed cell that occurs `n` times.
    pub fn add_ref(&mut self, c: CellRef<'_>, n: u64) {
        self.total += n;
        if is_missing(c) {
            self.missing += n;
            return;
        }
        if is_numeric(self.ty) {
            match number(c) {
                Some(v) => self.numbers.extend(std::iter::repeat_n(v, n as usize)),
                None => self.missing += n,
            }
            return;
        }
        let t = text(c);
        if self.ty == ColumnType::String {
            let len = t.chars().count() as f64;
            self.lengths.extend(std::iter::repeat_n(len, n as usize));
            for tok in tokens(t) {
                self.token_total += n;
                *self.tokens.entry(tok).or_default() += n;
            }
        }
        if !self.overflow {
            match self.counts.get_mut(t) {
                Some(k) => *k += n,
                None => {
                    self.counts.insert(t.to_string(), n);
                }
            }
            if self.counts.len() > MAX_CATEGORIES && self.ty == ColumnType::String {
                self.overflow = true;
            }
        }
    }

    /// Adds another builder's cells of the same column.
    pub fn merge(&mut self, o: ColumnBuilder) {
        self.total += o.total;
        self.missing += o.missing;
        self.numbers.extend(o.numbers);
        self.lengths.extend(o.lengths);
        self.token_total += o.token_total;
        for (k, v) in o.tokens {
            *self.tokens.entry(k).or_default() += v;
        }
        self.overflow |= o.overflow;
        if !self.overflow {
            for (k, v) in o.counts {
                *self.counts.entry(k).or_default() += v;
            }
            if self.counts.len() > MAX_CATEGORIES && self.ty == ColumnType::String {
                self.overflow = true;
            }
        }
    }

    /// The finished profile.
    pub fn finish(mut self) -> ColumnProfile {
        let values = if is_numeric(self.ty) {
            self.numbers.sort_by(f64::total_cmp);
            Values::Numeric(self.numbers)
        } else {
            self.lengths.sort_by(f64::total_cmp);
            let distinct = if self.overflow {
                MAX_CATEGORIES as u64 + 1
            } else {
                self.counts.len() as u64
            };
            let mut toks: Vec<(String, u64)> = self.tokens.into_iter().collect();
            toks.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            toks.truncate(MAX_TOKENS);
            Values::Strings {
                counts: (!self.overflow).then(|| self.counts.into_iter().collect()),
                distinct,
                lengths: self.lengths,
                tokens: toks.into_iter().collect(),
                token_total: self.token_total,
            }
        };
        ColumnProfile {
            name: self.name,
            ty: self.ty,
            total: self.total,
            missing: self.missing,
            values,
        }
    }
}

impl Profile {
    /// Encodes for the cache (postcard, then zstd).
    pub fn encode(&self) -> Vec<u8> {
        let raw = postcard::to_stdvec(self).expect("a profile serialises");
        zstd::bulk::compress(&raw, 1).expect("compression of an in-memory buffer")
    }

    /// Decodes a cached profile; `None` when unreadable or of another version.
    pub fn decode(bytes: &[u8]) -> Option<Profile> {
        use std::io::Read;
        // A few bytes of zstd can claim gigabytes: a profile larger than
        // this is not read (it is derived; the caller recomputes it).
        const MAX: u64 = 1 << 30;
        let mut raw = Vec::new();
        zstd::stream::read::Decoder::new(bytes)
            .ok()?
            .take(MAX + 1)
            .read_to_end(&mut raw)
            .ok()?;
        if raw.len() as u64 > MAX {
            return None;
        }
        let p: Profile = postcard::from_bytes(&raw).ok()?;
        (p.version == PROFILE_VERSION).then_some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_keep_exact_values_and_count_missing_cells() {
        let mut b = ColumnBuilder::new("x", ColumnType::Float);
        for (c, n) in [
            (Cell::Number("2.5".into()), 2),
            (Cell::Null, 1),
            (Cell::Text("NaN".into()), 1),
            (Cell::Number("-1".into()), 1),
        ] {
            b.add(&c, n);
        }
        let p = b.finish();
        assert_eq!((p.total, p.missing), (5, 2));
        assert_eq!(p.values, Values::Numeric(vec![-1.0, 2.5, 2.5]));
        let mut s = ColumnBuilder::new("t", ColumnType::String);
        s.add(&Cell::Text("Good, good day".into()), 1);
        s.add(&Cell::Text("".into()), 1);
        let Values::Strings {
            counts,
            lengths,
            tokens,
            token_total,
            ..
        } = s.finish().values
        else {
            panic!("strings")
        };
        assert_eq!(counts.map(|c| c.len()), Some(1));
        assert_eq!(lengths, vec![14.0]);
        assert_eq!(tokens.get("good"), Some(&2));
        assert_eq!(token_total, 3);
    }
}
