//! Ledger events and their canonical, hashed encoding.

use std::fmt;

use serde::Serialize;

use super::merkle::Hash;
use super::money;
use crate::config::MetaFields;
use crate::id::{CommitId, ObjectId};

/// First line of every encoded event.
pub const EVENT_TAG: &[u8] = b"folio-event 2\n";
/// The type tag of events written by folio 0.1 (read only by `folio upgrade`).
pub const EVENT_TAG_V1: &[u8] = b"folio-event 1\n";

/// The identity of an example across versions: a file by its path, a row
/// by its table's path and its row identity.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExampleId(pub [u8; 32]);

impl ExampleId {
    /// The example that is the file at `path`.
    pub fn file(path: &str) -> ExampleId {
        Self::derive(1, path, b"")
    }

    /// The example that is the row with identity `ident` of table `path`.
    pub fn row(path: &str, ident: &[u8]) -> ExampleId {
        Self::derive(2, path, ident)
    }

    fn derive(kind: u8, path: &str, ident: &[u8]) -> ExampleId {
        const TAG: &[u8] = b"folio-example 1\n";
        // A short input is hashed from one buffer: the same bytes, the
        // same hash, without a streaming hasher's set-up.
        let len = TAG.len() + 5 + path.len() + ident.len();
        if len <= 192 {
            let mut buf = [0u8; 192];
            let mut at = 0;
            for part in [
                TAG,
                &[kind],
                &(path.len() as u32).to_le_bytes(),
                path.as_bytes(),
                ident,
            ] {
                buf[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
            return ExampleId(*blake3::hash(&buf[..at]).as_bytes());
        }
        let mut h = blake3::Hasher::new();
        h.update(b"folio-example 1\n");
        h.update(&[kind]);
        h.update(&(path.len() as u32).to_le_bytes());
        h.update(path.as_bytes());
        h.update(ident);
        ExampleId(*h.finalize().as_bytes())
    }

    /// 64 hex digits.
    pub fn to_hex(&self) -> String {
        ObjectId(self.0).to_hex()
    }

    /// The first `n` hex digits, for humans.
    pub fn short(&self, n: usize) -> String {
        ObjectId(self.0).short(n)
    }
}

impl Serialize for ExampleId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl fmt::Display for ExampleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ExampleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExampleId({})", &self.to_hex()[..12])
    }
}

/// Hashes example ids by their first 8 bytes: they are BLAKE3 output,
/// uniformly distributed, so nothing more is needed (and SipHash over 32
/// bytes is a measurable share of a ledger-wide fold).
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for (i, b) in bytes.iter().take(8).enumerate() {
            self.0 ^= u64::from(*b) << (8 * i);
        }
    }
}

/// A map keyed by example id, hashed with [`IdHasher`].
pub type IdMap<V> =
    std::collections::HashMap<ExampleId, V, std::hash::BuildHasherDefault<IdHasher>>;

/// The kinds of event, with their wire codes (docs/FORMAT.md). Adding a
/// kind means adding a variant here and to [`Payload`]: every `match` on
/// either then asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// An example entered a dataset.
    Added,
    /// An example left its dataset.
    Removed,
    /// An example was labelled.
    Annotated,
    /// An example's cost basis was set.
    Valued,
    /// An example's sensitivity was set.
    Reclassified,
    /// A model was trained on a commit holding a dataset.
    Trained,
    /// An example's licence was set.
    Licensed,
    /// A dataset's carrying amount was written down.
    Impaired,
    /// An earlier event was declared void (it stays in the ledger; views
    /// no longer count it).
    Voided,
    /// The rows a commit added to, removed from or re-described in a table,
    /// by reference to the table's two row manifests (D58): readers expand
    /// it into one addition, removal or metadata event per row.
    Rows,
    /// The example's content was erased from every snapshot that held it
    /// (`folio purge`, D86); its identity and this record stay.
    Purged,
}

impl EventKind {
    /// Every kind, in code order.
    pub const ALL: [EventKind; 11] = [
        EventKind::Added,
        EventKind::Removed,
        EventKind::Annotated,
        EventKind::Valued,
        EventKind::Reclassified,
        EventKind::Trained,
        EventKind::Licensed,
        EventKind::Impaired,
        EventKind::Voided,
        EventKind::Rows,
        EventKind::Purged,
    ];

    /// The byte that encodes the kind.
    pub fn code(self) -> u8 {
        match self {
            EventKind::Added => 1,
            EventKind::Removed => 2,
            EventKind::Annotated => 3,
            EventKind::Valued => 4,
            EventKind::Reclassified => 5,
            EventKind::Trained => 6,
            EventKind::Licensed => 7,
            EventKind::Impaired => 8,
            EventKind::Voided => 9,
            EventKind::Rows => 10,
            EventKind::Purged => 11,
        }
    }

    /// The kind a code encodes.
    pub fn from_code(code: u8) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Its name in exports and reports.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Added => "example_added",
            EventKind::Removed => "example_removed",
            EventKind::Annotated => "annotated",
            EventKind::Valued => "valued",
            EventKind::Reclassified => "reclassified",
            EventKind::Trained => "model_trained",
            EventKind::Licensed => "license_set",
            EventKind::Impaired => "impaired",
            EventKind::Voided => "voided",
            EventKind::Rows => "rows_changed",
            EventKind::Purged => "purged",
        }
    }

    /// The payload field tags the kind defines, ascending.
    fn fields(self) -> &'static [u8] {
        use tag::*;
        match self {
            EventKind::Added => &[DATASET, LOCATOR, SOURCE, COLLECTED_AT],
            EventKind::Removed => &[LOCATOR],
            EventKind::Annotated => &[LABEL, ANNOTATOR, CONFIDENCE],
            EventKind::Valued => &[ACQUISITION, LABELLING, CURRENCY, VENDOR, FINE],
            EventKind::Reclassified => &[SENSITIVITY],
            EventKind::Trained => &[MODEL, RUN],
            EventKind::Licensed => &[LICENSE],
            EventKind::Impaired => &[AMOUNT, IMPAIRED_CURRENCY, REASON],
            EventKind::Voided => &[TARGET, VOID_REASON],
            EventKind::Rows => &[
                ROWS_DATASET,
                ROWS_TABLE,
                ROWS_OLD,
                ROWS_NEW,
                ROWS_SOURCE,
                ROWS_META,
                ROWS_COLUMNS,
            ],
            EventKind::Purged => &[PURGE_RECORD, PURGE_REASON],
        }
    }
}

/// Field tags: of the event (`EVENT_*`) and of each payload kind.
mod tag {
    pub const SEQ: u8 = 1;
    pub const TIME: u8 = 2;
    pub const ACTOR: u8 = 3;
    pub const COMMIT: u8 = 4;
    pub const SUBJECT: u8 = 5;
    pub const PAYLOAD: u8 = 6;
    pub const PREV: u8 = 7;
    // Added; Removed uses LOCATOR.
    pub const DATASET: u8 = 1;
    pub const LOCATOR: u8 = 2;
    pub const SOURCE: u8 = 3;
    pub const COLLECTED_AT: u8 = 4;
    // Annotated.
    pub const LABEL: u8 = 1;
    pub const ANNOTATOR: u8 = 2;
    pub const CONFIDENCE: u8 = 3;
    // Valued.
    pub const ACQUISITION: u8 = 1;
    pub const LABELLING: u8 = 2;
    pub const CURRENCY: u8 = 3;
    pub const VENDOR: u8 = 4;
    pub const FINE: u8 = 5;
    // Reclassified, Licensed.
    pub const SENSITIVITY: u8 = 1;
    pub const LICENSE: u8 = 1;
    // Trained.
    pub const MODEL: u8 = 1;
    pub const RUN: u8 = 2;
    // Impaired.
    pub const AMOUNT: u8 = 1;
    pub const IMPAIRED_CURRENCY: u8 = 2;
    pub const REASON: u8 = 3;
    // Voided.
    pub const TARGET: u8 = 1;
    pub const VOID_REASON: u8 = 2;
    // Rows.
    pub const ROWS_DATASET: u8 = 1;
    pub const ROWS_TABLE: u8 = 2;
    pub const ROWS_OLD: u8 = 3;
    pub const ROWS_NEW: u8 = 4;
    pub const ROWS_SOURCE: u8 = 5;
    pub const ROWS_META: u8 = 6;
    pub const ROWS_COLUMNS: u8 = 7;
    // Purged.
    pub const PURGE_RECORD: u8 = 1;
    pub const PURGE_REASON: u8 = 2;
    // Subject kinds.
    pub const SUBJECT_EXAMPLE: u8 = 1;
    pub const SUBJECT_DATASET: u8 = 2;
}

/// Where an example is, as users name it: a file's path; `TABLE:KEY` for
/// a row of a keyed table; `TABLE#HASH` (16 hex digits of the row's
/// identity) for a row identified by its content. Made and read only here.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
#[serde(transparent)]
pub struct Locator(String);

impl Locator {
    /// The locator of the file at `path`.
    pub fn file(path: &str) -> Locator {
        Locator(path.to_string())
    }

    /// The locator of the row with identity `ident` of table `table`.
    pub fn row(table: &str, keyed: bool, ident: &[u8]) -> Locator {
        let mut s = String::with_capacity(table.len() + 1 + ident.len().min(16));
        s.push_str(table);
        if keyed {
            s.push(':');
            crate::table::write_key(ident, &mut s);
        } else {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            s.push('#');
            for b in ident.iter().take(8) {
                s.push(HEX[usize::from(b >> 4)] as char);
                s.push(HEX[usize::from(b & 15)] as char);
            }
        }
        Locator(s)
    }

    /// A locator as stored or typed (not checked: a selector compares it).
    pub fn from_stored(s: String) -> Locator {
        Locator(s)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether encoded locator bytes name a row of `table`.
    pub fn is_row_of(locator: &[u8], table: &str) -> bool {
        locator
            .strip_prefix(table.as_bytes())
            .is_some_and(|rest| rest.first().is_some_and(|c| *c == b':' || *c == b'#'))
    }
}

impl fmt::Display for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Locator {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// One example.
    Example(ExampleId),
    /// A whole dataset, by path.
    Dataset(String),
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// The example entered a dataset.
    Added {
        /// Its dataset.
        dataset: String,
        /// Where it is.
        locator: Locator,
        /// Where it came from, when known.
        source: Option<String>,
        /// When it was collected, as given (a date or RFC 3339 time), when known.
        collected_at: Option<String>,
    },
    /// The example left its dataset.
    Removed {
        /// Where it was.
        locator: Locator,
    },
    /// The example was labelled.
    Annotated {
        /// The label.
        label: String,
        /// Who labelled it.
        annotator: Option<String>,
        /// How sure they were, 0 to 1.
        confidence: Option<f64>,
    },
    /// The example's cost basis was set.
    Valued {
        /// Acquisition cost, in units of 10^-`fine` of `currency`'s minor
        /// unit.
        acquisition: i64,
        /// Labelling cost, in the same unit.
        labelling: i64,
        /// Decimals below the minor unit, 0 to `money::MAX_FINE` (0:
        /// the amounts are minor units; a cost of 0.001 EUR is 1 with
        /// `fine` 1). Build with [`Payload::valued`].
        fine: u8,
        /// ISO 4217 code.
        currency: String,
        /// Who was paid.
        vendor: Option<String>,
    },
    /// The example's sensitivity was set.
    Reclassified {
        /// public, internal, confidential, pii, or a configured class.
        sensitivity: String,
    },
    /// The example's licence was set.
    Licensed {
        /// A licence identifier (SPDX, or the vendor's terms).
        license: String,
    },
    /// A model was trained on a commit holding this dataset.
    Trained {
        /// The model's name.
        model: String,
        /// The training run.
        run: String,
    },
    /// The dataset's carrying amount was written down.
    Impaired {
        /// The loss, in minor units.
        amount: i64,
        /// Its ISO 4217 currency.
        currency: String,
        /// Why.
        reason: String,
    },
    /// An earlier event (by its hash) is void.
    Voided {
        /// BLAKE3 of the voided event's encoding.
        target: Hash,
        /// Why.
        reason: String,
    },
    /// The rows that differ between two versions of a table (D58).
    Rows(Box<TableRows>),
    /// The example's content was erased (D86).
    Purged {
        /// The purge record (`folio-purge 1`) naming what was erased, by hash.
        record: ObjectId,
        /// Why.
        reason: String,
    },
}

/// A table's changed rows, by reference to its two row manifests: the
/// payload of a `rows_changed` event (readers expand it, `ledger::rows`).
#[derive(Debug, Clone, PartialEq)]
pub struct TableRows {
    /// The table's dataset.
    pub dataset: String,
    /// The table's path.
    pub table: String,
    /// The parent's row manifest (`None`: the table is new).
    pub old: Option<ObjectId>,
    /// The new row manifest (`None`: the table is gone).
    pub new: Option<ObjectId>,
    /// The source given for the commit (`--source`), if any.
    pub source: Option<String>,
    /// Metadata given for every added row (the commit's flags).
    pub meta: MetaFields,
    /// The columns that hold each row's metadata, as configured then.
    pub columns: MetaFields,
}

impl Payload {
    /// The kind of event.
    pub fn kind(&self) -> EventKind {
        match self {
            Payload::Added { .. } => EventKind::Added,
            Payload::Removed { .. } => EventKind::Removed,
            Payload::Annotated { .. } => EventKind::Annotated,
            Payload::Valued { .. } => EventKind::Valued,
            Payload::Reclassified { .. } => EventKind::Reclassified,
            Payload::Trained { .. } => EventKind::Trained,
            Payload::Licensed { .. } => EventKind::Licensed,
            Payload::Impaired { .. } => EventKind::Impaired,
            Payload::Voided { .. } => EventKind::Voided,
            Payload::Rows(_) => EventKind::Rows,
            Payload::Purged { .. } => EventKind::Purged,
        }
    }

    /// A cost basis: `acquisition` and `labelling` in millionths of
    /// `currency`'s minor unit (see `money::parse_micros`), stored in the
    /// coarsest unit that holds both exactly.
    pub fn valued(
        acquisition: i128,
        labelling: i128,
        currency: String,
        vendor: Option<String>,
    ) -> Result<Payload, money::MoneyError> {
        let fine = money::fine_of(acquisition).max(money::fine_of(labelling));
        let unit = 10i128.pow(money::MAX_FINE - fine);
        let narrow = |v: i128| {
            i64::try_from(v / unit)
                .map_err(|_| money::MoneyError::NotAnAmount(money::format_micros(v, &currency)))
        };
        Ok(Payload::Valued {
            acquisition: narrow(acquisition)?,
            labelling: narrow(labelling)?,
            fine: fine as u8,
            currency: currency.clone(),
            vendor,
        })
    }

    /// A `valued` event's cost basis (acquisition plus labelling) in
    /// millionths of its currency's minor unit, with the currency.
    pub fn cost_micros(&self) -> Option<(i128, &str)> {
        match self {
            Payload::Valued {
                acquisition,
                labelling,
                fine,
                currency,
                ..
            } => Some((
                (i128::from(*acquisition) + i128::from(*labelling))
                    * 10i128.pow(money::MAX_FINE - u32::from(*fine)),
                currency,
            )),
            _ => None,
        }
    }

    /// The changed rows, for a `rows_changed` event.
    pub fn rows(&self) -> Option<&TableRows> {
        match self {
            Payload::Rows(r) => Some(r),
            _ => None,
        }
    }

    /// The payload's fields as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Payload::Added {
                dataset,
                locator,
                source,
                collected_at,
            } => {
                json!({"dataset": dataset, "locator": locator, "source": source, "collected_at": collected_at})
            }
            Payload::Removed { locator } => json!({"locator": locator}),
            Payload::Annotated {
                label,
                annotator,
                confidence,
            } => json!({"label": label, "annotator": annotator, "confidence": confidence}),
            Payload::Valued {
                acquisition,
                labelling,
                fine,
                currency,
                vendor,
            } => {
                let exact = |v: &i64| {
                    money::format_micros(
                        i128::from(*v) * 10i128.pow(money::MAX_FINE - u32::from(*fine)),
                        currency,
                    )
                };
                json!({
                    "acquisition": exact(acquisition),
                    "labelling": exact(labelling),
                    "fine": fine,
                    "currency": currency,
                    "vendor": vendor,
                })
            }
            Payload::Reclassified { sensitivity } => json!({"sensitivity": sensitivity}),
            Payload::Trained { model, run } => json!({"model": model, "run": run}),
            Payload::Licensed { license } => json!({"license": license}),
            Payload::Impaired {
                amount,
                currency,
                reason,
            } => json!({"amount_minor": amount, "currency": currency, "reason": reason}),
            Payload::Voided { target, reason } => {
                json!({"target": target.to_hex(), "reason": reason})
            }
            Payload::Rows(r) => json!({
                "dataset": r.dataset,
                "table": r.table,
                "old_manifest": r.old.map(|m| m.to_hex()),
                "new_manifest": r.new.map(|m| m.to_hex()),
                "source": r.source,
                "meta": meta_json(&r.meta),
                "columns": meta_json(&r.columns),
            }),
            Payload::Purged { record, reason } => {
                json!({"record": record.to_hex(), "reason": reason})
            }
        }
    }
}

/// One ledger event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Position in the ledger of the revision it was read from, from 0
    /// (not encoded: the same event has another position in another
    /// branch's ledger).
    pub seq: u64,
    /// Seconds since the epoch, UTC.
    pub time: i64,
    /// Who recorded it.
    pub actor: String,
    /// The commit it belongs to.
    pub commit: Option<CommitId>,
    /// What it is about.
    pub subject: Subject,
    /// What happened.
    pub payload: Payload,
}

/// Why bytes are not an event.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed event: {0}")]
pub struct EventDecodeError(pub String);

fn put(out: &mut Vec<u8>, tag: u8, v: &[u8]) {
    out.push(tag);
    out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    out.extend_from_slice(v);
}

fn put_opt(out: &mut Vec<u8>, tag: u8, v: &Option<String>) {
    if let Some(v) = v {
        put(out, tag, v.as_bytes());
    }
}

impl Event {
    /// The canonical encoding: tag line, then (tag u8, len u32, value)
    /// fields in ascending tag order (docs/FORMAT.md).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(320);
        out.extend_from_slice(EVENT_TAG);
        put(&mut out, tag::TIME, &self.time.to_le_bytes());
        put(&mut out, tag::ACTOR, self.actor.as_bytes());
        if let Some(c) = &self.commit {
            put(&mut out, tag::COMMIT, c.0.as_bytes());
        }
        let mut subj = Vec::with_capacity(33);
        match &self.subject {
            Subject::Example(e) => {
                subj.push(tag::SUBJECT_EXAMPLE);
                subj.extend_from_slice(&e.0);
            }
            Subject::Dataset(d) => {
                subj.push(tag::SUBJECT_DATASET);
                subj.extend_from_slice(d.as_bytes());
            }
        }
        put(&mut out, tag::SUBJECT, &subj);
        put(&mut out, tag::PAYLOAD, &self.payload.encode());
        out
    }

    /// The event's hash: BLAKE3 of its encoding.
    pub fn hash(&self) -> Hash {
        Hash::of(&self.encode())
    }

    /// Decodes a canonical encoding (its `seq` is 0: the reader knows the
    /// position).
    pub fn decode(bytes: &[u8]) -> Result<Event, EventDecodeError> {
        let body = bytes
            .strip_prefix(EVENT_TAG)
            .ok_or_else(|| bad("wrong type tag"))?;
        let (fields, nf) = tlv(body).ok_or_else(|| bad("truncated field"))?;
        let fields = Fields(&fields[..nf]);
        fields.canonical(&[
            tag::TIME,
            tag::ACTOR,
            tag::COMMIT,
            tag::SUBJECT,
            tag::PAYLOAD,
        ])?;
        let ev = Event::from_fields(&fields, 0)?;
        debug_assert!(
            ev.encode() == bytes,
            "decode accepted a non-canonical event"
        );
        Ok(ev)
    }

    /// Decodes an event written by folio 0.1 (format 1: with its sequence
    /// number and the previous event's hash); returns the hash with it.
    pub fn decode_v1(bytes: &[u8]) -> Result<(Event, Hash), EventDecodeError> {
        let body = bytes
            .strip_prefix(EVENT_TAG_V1)
            .ok_or_else(|| bad("wrong type tag"))?;
        let (fields, nf) = tlv(body).ok_or_else(|| bad("truncated field"))?;
        let fields = Fields(&fields[..nf]);
        fields.canonical(&[
            tag::SEQ,
            tag::TIME,
            tag::ACTOR,
            tag::COMMIT,
            tag::SUBJECT,
            tag::PAYLOAD,
            tag::PREV,
        ])?;
        let ev = Event::from_fields(&fields, fields.int(tag::SEQ)? as u64)?;
        let prev = fields
            .need(tag::PREV)?
            .try_into()
            .map_err(|_| bad("bad prev"))?;
        Ok((ev, Hash(prev)))
    }

    fn from_fields(fields: &Fields<'_, '_>, seq: u64) -> Result<Event, EventDecodeError> {
        let subject = match fields.need(tag::SUBJECT)?.split_first() {
            Some((&tag::SUBJECT_EXAMPLE, id)) => {
                Subject::Example(ExampleId(id.try_into().map_err(|_| bad("bad example id"))?))
            }
            Some((&tag::SUBJECT_DATASET, d)) => Subject::Dataset(text(d)?),
            _ => return Err(bad("unknown subject kind")),
        };
        Ok(Event {
            seq,
            time: fields.int(tag::TIME)?,
            actor: fields.text(tag::ACTOR)?,
            commit: fields
                .get(tag::COMMIT)
                .map(|c| {
                    ObjectId::from_slice(c)
                        .map(CommitId)
                        .ok_or_else(|| bad("bad commit id"))
                })
                .transpose()?,
            subject,
            payload: Payload::decode(fields.need(tag::PAYLOAD)?)?,
        })
    }
}

impl Payload {
    /// The payload field's bytes: the kind's code, then its fields.
    fn encode(&self) -> Vec<u8> {
        use tag::*;
        let mut p = Vec::with_capacity(160);
        p.push(self.kind().code());
        match self {
            Payload::Added {
                dataset,
                locator,
                source,
                collected_at,
            } => {
                put(&mut p, DATASET, dataset.as_bytes());
                put(&mut p, LOCATOR, locator.as_str().as_bytes());
                put_opt(&mut p, SOURCE, source);
                put_opt(&mut p, COLLECTED_AT, collected_at);
            }
            Payload::Removed { locator } => put(&mut p, LOCATOR, locator.as_str().as_bytes()),
            Payload::Annotated {
                label,
                annotator,
                confidence,
            } => {
                put(&mut p, LABEL, label.as_bytes());
                put_opt(&mut p, ANNOTATOR, annotator);
                if let Some(c) = confidence {
                    put(&mut p, CONFIDENCE, &c.to_le_bytes());
                }
            }
            Payload::Valued {
                acquisition,
                labelling,
                fine,
                currency,
                vendor,
            } => {
                put(&mut p, ACQUISITION, &acquisition.to_le_bytes());
                put(&mut p, LABELLING, &labelling.to_le_bytes());
                put(&mut p, CURRENCY, currency.as_bytes());
                put_opt(&mut p, VENDOR, vendor);
                // Absent for whole minor units: events of folio before
                // finer costs keep their encoding and their hashes.
                if *fine > 0 {
                    put(&mut p, FINE, &[*fine]);
                }
            }
            Payload::Reclassified { sensitivity } => {
                put(&mut p, SENSITIVITY, sensitivity.as_bytes())
            }
            Payload::Trained { model, run } => {
                put(&mut p, MODEL, model.as_bytes());
                put(&mut p, RUN, run.as_bytes());
            }
            Payload::Licensed { license } => put(&mut p, LICENSE, license.as_bytes()),
            Payload::Impaired {
                amount,
                currency,
                reason,
            } => {
                put(&mut p, AMOUNT, &amount.to_le_bytes());
                put(&mut p, IMPAIRED_CURRENCY, currency.as_bytes());
                put(&mut p, REASON, reason.as_bytes());
            }
            Payload::Voided { target, reason } => {
                put(&mut p, TARGET, &target.0);
                put(&mut p, VOID_REASON, reason.as_bytes());
            }
            Payload::Purged { record, reason } => {
                put(&mut p, PURGE_RECORD, &record.0);
                put(&mut p, PURGE_REASON, reason.as_bytes());
            }
            Payload::Rows(r) => {
                put(&mut p, ROWS_DATASET, r.dataset.as_bytes());
                put(&mut p, ROWS_TABLE, r.table.as_bytes());
                if let Some(m) = r.old {
                    put(&mut p, ROWS_OLD, &m.0);
                }
                if let Some(m) = r.new {
                    put(&mut p, ROWS_NEW, &m.0);
                }
                put_opt(&mut p, ROWS_SOURCE, &r.source);
                if !r.meta.is_empty() {
                    put(&mut p, ROWS_META, &encode_meta(&r.meta));
                }
                if !r.columns.is_empty() {
                    put(&mut p, ROWS_COLUMNS, &encode_meta(&r.columns));
                }
            }
        }
        p
    }

    /// Decodes a payload field, accepting only the fields its kind defines
    /// in ascending order (so the encoding is canonical).
    fn decode(p: &[u8]) -> Result<Payload, EventDecodeError> {
        use tag::*;
        let (code, pf) = p.split_first().ok_or_else(|| bad("empty payload"))?;
        let kind = EventKind::from_code(*code).ok_or_else(|| bad("unknown event kind"))?;
        let (fields, np) = tlv(pf).ok_or_else(|| bad("truncated payload"))?;
        let f = Fields(&fields[..np]);
        f.canonical(kind.fields())?;
        Ok(match kind {
            EventKind::Added => Payload::Added {
                dataset: f.text(DATASET)?,
                locator: Locator(f.text(LOCATOR)?),
                source: f.opt_text(SOURCE)?,
                collected_at: f.opt_text(COLLECTED_AT)?,
            },
            EventKind::Removed => Payload::Removed {
                locator: Locator(f.text(LOCATOR)?),
            },
            EventKind::Annotated => Payload::Annotated {
                label: f.text(LABEL)?,
                annotator: f.opt_text(ANNOTATOR)?,
                confidence: f
                    .get(CONFIDENCE)
                    .map(|v| {
                        v.try_into()
                            .map(f64::from_le_bytes)
                            .map_err(|_| bad("bad confidence"))
                    })
                    .transpose()?,
            },
            EventKind::Valued => Payload::Valued {
                acquisition: f.int(ACQUISITION)?,
                labelling: f.int(LABELLING)?,
                fine: match f.get(FINE) {
                    None => 0,
                    Some(&[n]) if n > 0 && u32::from(n) <= money::MAX_FINE => n,
                    Some(_) => return Err(bad("bad fine")),
                },
                currency: f.text(CURRENCY)?,
                vendor: f.opt_text(VENDOR)?,
            },
            EventKind::Reclassified => Payload::Reclassified {
                sensitivity: f.text(SENSITIVITY)?,
            },
            EventKind::Trained => Payload::Trained {
                model: f.text(MODEL)?,
                run: f.text(RUN)?,
            },
            EventKind::Licensed => Payload::Licensed {
                license: f.text(LICENSE)?,
            },
            EventKind::Impaired => Payload::Impaired {
                amount: f.int(AMOUNT)?,
                currency: f.text(IMPAIRED_CURRENCY)?,
                reason: f.text(REASON)?,
            },
            EventKind::Voided => Payload::Voided {
                target: Hash(
                    f.need(TARGET)?
                        .try_into()
                        .map_err(|_| bad("a voided event's hash is not 32 bytes"))?,
                ),
                reason: f.text(VOID_REASON)?,
            },
            EventKind::Purged => Payload::Purged {
                record: ObjectId::from_slice(f.need(PURGE_RECORD)?)
                    .ok_or_else(|| bad("a purge record id is not 32 bytes"))?,
                reason: f.text(PURGE_REASON)?,
            },
            EventKind::Rows => {
                let id = |t: u8| {
                    f.get(t)
                        .map(|v| ObjectId::from_slice(v).ok_or_else(|| bad("bad manifest id")))
                        .transpose()
                };
                let meta = |t: u8| f.get(t).map_or(Ok(MetaFields::default()), decode_meta);
                Payload::Rows(Box::new(TableRows {
                    dataset: f.text(ROWS_DATASET)?,
                    table: f.text(ROWS_TABLE)?,
                    old: id(ROWS_OLD)?,
                    new: id(ROWS_NEW)?,
                    source: f.opt_text(ROWS_SOURCE)?,
                    meta: meta(ROWS_META)?,
                    columns: meta(ROWS_COLUMNS)?,
                }))
            }
        })
    }
}

/// Metadata fields as JSON: the set ones, by name.
fn meta_json(m: &MetaFields) -> serde_json::Value {
    MetaFields::NAMES
        .iter()
        .filter_map(|n| {
            m.field(n)
                .as_ref()
                .map(|v| (n.to_string(), v.clone().into()))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Metadata fields, canonically: for each set field in [`MetaFields::NAMES`]
/// order, its index (u8), length (u32) and text.
fn encode_meta(m: &MetaFields) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, n) in MetaFields::NAMES.iter().enumerate() {
        if let Some(v) = m.field(n) {
            put(&mut out, i as u8, v.as_bytes());
        }
    }
    out
}

/// Reads [`encode_meta`]'s output, accepting only ascending known fields.
fn decode_meta(mut r: &[u8]) -> Result<MetaFields, EventDecodeError> {
    let mut values: [Option<String>; 11] = Default::default();
    let mut last: Option<usize> = None;
    if r.is_empty() {
        return Err(bad("an empty metadata field"));
    }
    while !r.is_empty() {
        let i = usize::from(r[0]);
        let len = r
            .get(1..5)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
            .ok_or_else(|| bad("truncated metadata"))?;
        let v = r.get(5..5 + len).ok_or_else(|| bad("truncated metadata"))?;
        if i >= values.len() || last.is_some_and(|l| i <= l) {
            return Err(bad("metadata fields out of order or unknown"));
        }
        values[i] = Some(text(v)?);
        last = Some(i);
        r = &r[5 + len..];
    }
    Ok(MetaFields::from_fn(|n| {
        let i = MetaFields::NAMES
            .iter()
            .position(|x| *x == n)
            .expect("a known field");
        values[i].clone()
    }))
}

fn bad(s: &str) -> EventDecodeError {
    EventDecodeError(s.to_string())
}

fn text(v: &[u8]) -> Result<String, EventDecodeError> {
    String::from_utf8(v.to_vec()).map_err(|_| bad("text is not UTF-8"))
}

/// Decoded (tag, value) fields of an event or a payload.
struct Fields<'a, 'b>(&'b [(u8, &'a [u8])]);

impl<'a> Fields<'a, '_> {
    /// Checks the tags ascend and are all in `known`.
    fn canonical(&self, known: &[u8]) -> Result<(), EventDecodeError> {
        let mut last = 0;
        for (t, _) in self.0 {
            if *t <= last || !known.contains(t) {
                return Err(bad("fields out of order or unknown"));
            }
            last = *t;
        }
        Ok(())
    }

    fn get(&self, t: u8) -> Option<&'a [u8]> {
        self.0.iter().find(|f| f.0 == t).map(|f| f.1)
    }

    fn need(&self, t: u8) -> Result<&'a [u8], EventDecodeError> {
        self.get(t)
            .ok_or_else(|| bad("a required field is missing"))
    }

    fn text(&self, t: u8) -> Result<String, EventDecodeError> {
        text(self.need(t)?)
    }

    fn opt_text(&self, t: u8) -> Result<Option<String>, EventDecodeError> {
        self.get(t).map(text).transpose()
    }

    fn int(&self, t: u8) -> Result<i64, EventDecodeError> {
        Ok(i64::from_le_bytes(
            self.need(t)?.try_into().map_err(|_| bad("bad integer"))?,
        ))
    }
}

/// A look at an encoded event without decoding it (no allocation), so
/// readers skip events they do not need.
#[derive(Debug, Clone, Copy)]
pub struct Peek<'a> {
    /// Position in the ledger being read (set by the reader).
    pub seq: u64,
    /// The example it is about, if any.
    pub example: Option<&'a [u8]>,
    /// The kind of event.
    pub kind: EventKind,
    payload: &'a [u8],
}

impl<'a> Peek<'a> {
    /// Peeks at an encoded event; `None` when it does not parse (the full
    /// decode then reports why).
    pub fn new(bytes: &'a [u8]) -> Option<Peek<'a>> {
        let (fields, n) = tlv(bytes.strip_prefix(EVENT_TAG)?)?;
        let f = Fields(&fields[..n]);
        let example = match f.get(tag::SUBJECT)?.split_first()? {
            (&tag::SUBJECT_EXAMPLE, id) => Some(id),
            _ => None,
        };
        let (code, payload) = f.get(tag::PAYLOAD)?.split_first()?;
        Some(Peek {
            seq: 0,
            example,
            kind: EventKind::from_code(*code)?,
            payload,
        })
    }

    fn field(&self, t: u8) -> Option<&'a [u8]> {
        let (fields, n) = tlv(self.payload)?;
        Fields(&fields[..n]).get(t)
    }

    /// The example id, when the event is about one.
    pub fn example_id(&self) -> Option<ExampleId> {
        self.example
            .and_then(|x| <[u8; 32]>::try_from(x).ok())
            .map(ExampleId)
    }

    /// The locator's bytes, for an addition or a removal.
    pub fn locator(&self) -> Option<&'a [u8]> {
        match self.kind {
            EventKind::Added | EventKind::Removed => self.field(tag::LOCATOR),
            _ => None,
        }
    }

    /// The source's bytes, for an addition that names one.
    pub fn source(&self) -> Option<&'a [u8]> {
        match self.kind {
            EventKind::Added => self.field(tag::SOURCE),
            _ => None,
        }
    }
}

/// Splits (tag u8, len u32, value) fields; at most 8 (no event or payload
/// defines more), so no allocation.
#[allow(clippy::type_complexity)]
fn tlv(mut r: &[u8]) -> Option<([(u8, &[u8]); 8], usize)> {
    let mut out: [(u8, &[u8]); 8] = [(0, &[]); 8];
    let mut n = 0;
    while !r.is_empty() {
        let tag = r[0];
        let len = u32::from_le_bytes(r.get(1..5)?.try_into().ok()?) as usize;
        let v = r.get(5..5 + len)?;
        *out.get_mut(n)? = (tag, v);
        n += 1;
        r = &r[5 + len..];
    }
    Some((out, n))
}

/// An event as `ledger export` writes it: every field plus its hashes.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedEvent {
    /// Sequence number.
    pub seq: u64,
    /// Seconds since the epoch, UTC.
    pub time: i64,
    /// Actor.
    pub actor: String,
    /// Commit id, if any.
    pub commit: Option<String>,
    /// `example:<id>` or `dataset:<path>`.
    pub subject: String,
    /// Event kind.
    pub kind: &'static str,
    /// Kind-specific fields.
    pub payload: serde_json::Value,
    /// The batch object that holds it.
    pub batch: String,
    /// The canonical encoding, hex: anyone can re-hash it.
    pub encoding: String,
    /// BLAKE3 of the encoding.
    pub hash: String,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl ExportedEvent {
    /// The export of `e`, which batch `batch` holds.
    pub fn new(e: &Event, batch: &ObjectId) -> Self {
        let payload = e.payload.to_json();
        let enc = e.encode();
        ExportedEvent {
            seq: e.seq,
            time: e.time,
            actor: e.actor.clone(),
            commit: e.commit.map(|c| c.to_string()),
            subject: match &e.subject {
                Subject::Example(x) => format!("example:{x}"),
                Subject::Dataset(d) => format!("dataset:{d}"),
            },
            kind: e.payload.kind().name(),
            payload,
            batch: batch.to_string(),
            hash: hex(blake3::hash(&enc).as_bytes()),
            encoding: hex(&enc),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_locators_name_the_key_or_the_content() {
        use crate::table::{Cell, encode_key};
        let (a, b) = (Cell::Number("7".into()), Cell::Text("x,y".into()));
        let key = encode_key(&[&a, &b]);
        assert_eq!(
            Locator::row("d/t.csv", true, &key).as_str(),
            "d/t.csv:7,x,y"
        );
        let one = encode_key(&[&Cell::Null]);
        assert_eq!(Locator::row("t", true, &one).as_str(), "t:null");
        // A key that does not decode shows as `?`, not as part of it.
        assert_eq!(
            Locator::row("t", true, &key[..key.len() - 1]).as_str(),
            "t:?"
        );
        // An unkeyed row: its content hash's first 8 bytes, in hex.
        let hash = [0xab, 0x01, 0xff, 0x10, 0, 9, 0x7e, 0xc3, 0x55];
        assert_eq!(
            Locator::row("t", false, &hash).as_str(),
            "t#ab01ff1000097ec3"
        );
    }

    pub(crate) fn sample(seq: u64) -> Event {
        Event {
            seq,
            time: 1_768_471_200,
            actor: "Ada".into(),
            commit: Some(CommitId(ObjectId::of(b"c"))),
            subject: Subject::Example(ExampleId::row("data/t.csv", b"\x01\x00\x00\x00\x001")),
            payload: Payload::Added {
                dataset: "data".into(),
                locator: Locator::file("data/t.csv:1"),
                source: Some("s3://vendor/batch".into()),
                collected_at: Some("2026-01-15".into()),
            },
        }
    }

    #[test]
    fn round_trip_and_canonical() {
        for e in [
            sample(3),
            Event {
                payload: Payload::Annotated {
                    label: "cat".into(),
                    annotator: Some("ann".into()),
                    confidence: Some(0.75),
                },
                ..sample(5)
            },
            Event {
                payload: Payload::Valued {
                    acquisition: 1250,
                    labelling: -0,
                    fine: 0,
                    currency: "EUR".into(),
                    vendor: None,
                },
                ..sample(6)
            },
            Event {
                payload: Payload::valued(100_000, 2_000_000, "EUR".into(), Some("v".into()))
                    .expect("fits"),
                ..sample(6)
            },
            Event {
                payload: Payload::Reclassified {
                    sensitivity: "pii".into(),
                },
                ..sample(7)
            },
            Event {
                payload: Payload::Trained {
                    model: "m".into(),
                    run: "r1".into(),
                },
                subject: Subject::Dataset("data".into()),
                ..sample(8)
            },
            Event {
                payload: Payload::Removed {
                    locator: Locator::file("x"),
                },
                subject: Subject::Dataset("data".into()),
                commit: None,
                ..sample(4)
            },
        ] {
            let b = e.encode();
            assert_eq!(Event::decode(&b).expect("decodes"), Event { seq: 0, ..e });
        }
        let mut b = sample(1).encode();
        b.push(0);
        assert!(Event::decode(&b).is_err());
    }

    #[test]
    fn fine_costs_are_exact_and_whole_ones_keep_their_encoding() {
        // 0.001 EUR + 0.02 EUR: stored as 1 and 20 tenths of a cent.
        let p = Payload::valued(100_000, 2_000_000, "EUR".into(), None).expect("fits");
        assert!(matches!(
            p,
            Payload::Valued {
                acquisition: 1,
                labelling: 20,
                fine: 1,
                ..
            }
        ));
        assert_eq!(p.cost_micros(), Some((2_100_000, "EUR")));
        // Whole minor units: no `fine` field, the encoding of folio
        // before finer costs (so old events keep their hashes).
        let whole = Payload::valued(1_250_000_000, 0, "EUR".into(), None).expect("fits");
        let old = Payload::Valued {
            acquisition: 1250,
            labelling: 0,
            fine: 0,
            currency: "EUR".into(),
            vendor: None,
        };
        assert_eq!(whole, old);
        assert!(!old.encode().windows(2).any(|w| w == [tag::FINE, 1]));
        // A `fine` of 0 written out, or beyond MAX_FINE, is not canonical.
        for bad_fine in [0u8, 7] {
            let mut e = old.encode();
            put(&mut e, tag::FINE, &[bad_fine]);
            assert!(Payload::decode(&e).is_err(), "fine {bad_fine}");
        }
        // Too large for the store's integers: refused, not wrapped.
        assert!(Payload::valued(i128::MAX / 2, 1, "EUR".into(), None).is_err());
    }
}
