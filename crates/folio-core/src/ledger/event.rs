//! Ledger events and their canonical, hashed encoding.

use std::fmt;

use serde::Serialize;

use super::merkle::Hash;
use crate::id::{CommitId, ObjectId};

/// First line of every encoded event.
pub const EVENT_TAG: &[u8] = b"folio-event 1\n";

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
        /// Where it is: a file path, or `TABLE:KEY` for a row.
        locator: String,
        /// Where it came from, when known.
        source: Option<String>,
        /// When it was collected, as given (a date or RFC 3339 time), when known.
        collected_at: Option<String>,
    },
    /// The example left its dataset.
    Removed {
        /// Where it was.
        locator: String,
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
        /// Acquisition cost, in minor units of `currency`.
        acquisition: i64,
        /// Labelling cost, in minor units of `currency`.
        labelling: i64,
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
}

impl Payload {
    fn code(&self) -> u8 {
        match self {
            Payload::Added { .. } => 1,
            Payload::Removed { .. } => 2,
            Payload::Annotated { .. } => 3,
            Payload::Valued { .. } => 4,
            Payload::Reclassified { .. } => 5,
            Payload::Trained { .. } => 6,
            Payload::Licensed { .. } => 7,
            Payload::Impaired { .. } => 8,
        }
    }

    /// A short name of the kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Added { .. } => "example_added",
            Payload::Removed { .. } => "example_removed",
            Payload::Annotated { .. } => "annotated",
            Payload::Valued { .. } => "valued",
            Payload::Reclassified { .. } => "reclassified",
            Payload::Trained { .. } => "model_trained",
            Payload::Licensed { .. } => "license_set",
            Payload::Impaired { .. } => "impaired",
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
                currency,
                vendor,
            } => {
                json!({"acquisition_minor": acquisition, "labelling_minor": labelling, "currency": currency, "vendor": vendor})
            }
            Payload::Reclassified { sensitivity } => json!({"sensitivity": sensitivity}),
            Payload::Trained { model, run } => json!({"model": model, "run": run}),
            Payload::Licensed { license } => json!({"license": license}),
            Payload::Impaired {
                amount,
                currency,
                reason,
            } => json!({"amount_minor": amount, "currency": currency, "reason": reason}),
        }
    }
}

/// One ledger event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Position in the ledger, from 0.
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
    /// Hash of the previous event (zeros for the first).
    pub prev: Hash,
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
        put(&mut out, 1, &self.seq.to_le_bytes());
        put(&mut out, 2, &self.time.to_le_bytes());
        put(&mut out, 3, self.actor.as_bytes());
        if let Some(c) = &self.commit {
            put(&mut out, 4, c.0.as_bytes());
        }
        let mut subj = Vec::with_capacity(33);
        match &self.subject {
            Subject::Example(e) => {
                subj.push(1);
                subj.extend_from_slice(&e.0);
            }
            Subject::Dataset(d) => {
                subj.push(2);
                subj.extend_from_slice(d.as_bytes());
            }
        }
        put(&mut out, 5, &subj);
        let mut p = Vec::with_capacity(160);
        p.push(self.payload.code());
        match &self.payload {
            Payload::Added {
                dataset,
                locator,
                source,
                collected_at,
            } => {
                put(&mut p, 1, dataset.as_bytes());
                put(&mut p, 2, locator.as_bytes());
                put_opt(&mut p, 3, source);
                put_opt(&mut p, 4, collected_at);
            }
            Payload::Removed { locator } => put(&mut p, 2, locator.as_bytes()),
            Payload::Annotated {
                label,
                annotator,
                confidence,
            } => {
                put(&mut p, 1, label.as_bytes());
                put_opt(&mut p, 2, annotator);
                if let Some(c) = confidence {
                    put(&mut p, 3, &c.to_le_bytes());
                }
            }
            Payload::Valued {
                acquisition,
                labelling,
                currency,
                vendor,
            } => {
                put(&mut p, 1, &acquisition.to_le_bytes());
                put(&mut p, 2, &labelling.to_le_bytes());
                put(&mut p, 3, currency.as_bytes());
                put_opt(&mut p, 4, vendor);
            }
            Payload::Reclassified { sensitivity } => put(&mut p, 1, sensitivity.as_bytes()),
            Payload::Trained { model, run } => {
                put(&mut p, 1, model.as_bytes());
                put(&mut p, 2, run.as_bytes());
            }
            Payload::Licensed { license } => put(&mut p, 1, license.as_bytes()),
            Payload::Impaired {
                amount,
                currency,
                reason,
            } => {
                put(&mut p, 1, &amount.to_le_bytes());
                put(&mut p, 2, currency.as_bytes());
                put(&mut p, 3, reason.as_bytes());
            }
        }
        put(&mut out, 6, &p);
        put(&mut out, 7, &self.prev);
        out
    }

    /// The event's hash: BLAKE3 of its encoding.
    pub fn hash(&self) -> Hash {
        *blake3::hash(&self.encode()).as_bytes()
    }

    /// Decodes a canonical encoding.
    pub fn decode(bytes: &[u8]) -> Result<Event, EventDecodeError> {
        let bad = |s: &str| EventDecodeError(s.to_string());
        let body = bytes
            .strip_prefix(EVENT_TAG)
            .ok_or_else(|| bad("wrong type tag"))?;
        let (fields, nf) = tlv(body).ok_or_else(|| bad("truncated field"))?;
        let fields = &fields[..nf];
        let get = |t: u8| fields.iter().find(|f| f.0 == t).map(|f| f.1);
        let text = |v: &[u8]| String::from_utf8(v.to_vec()).map_err(|_| bad("text is not UTF-8"));
        let u64_of = |v: &[u8]| -> Result<u64, EventDecodeError> {
            Ok(u64::from_le_bytes(
                v.try_into().map_err(|_| bad("bad integer"))?,
            ))
        };
        let mut last = 0;
        for (t, _) in fields {
            if *t <= last || *t > 7 {
                return Err(bad("fields out of order or unknown"));
            }
            last = *t;
        }
        let subj = get(5).ok_or_else(|| bad("no subject"))?;
        let subject = match subj.split_first() {
            Some((1, id)) => {
                Subject::Example(ExampleId(id.try_into().map_err(|_| bad("bad example id"))?))
            }
            Some((2, d)) => Subject::Dataset(text(d)?),
            _ => return Err(bad("unknown subject kind")),
        };
        let p = get(6).ok_or_else(|| bad("no payload"))?;
        let (code, pf) = p.split_first().ok_or_else(|| bad("empty payload"))?;
        let (pfields, np) = tlv(pf).ok_or_else(|| bad("truncated payload"))?;
        let pfields = &pfields[..np];
        // Payload fields: ascending, and only those the kind defines (so
        // the encoding is canonical: it is what `encode` would write).
        let known: &[u8] = match code {
            1 => &[1, 2, 3, 4],
            2 => &[2],
            3 => &[1, 2, 3],
            4 => &[1, 2, 3, 4],
            5 | 7 => &[1],
            6 => &[1, 2],
            8 => &[1, 2, 3],
            _ => return Err(bad("unknown event kind")),
        };
        let mut last = 0;
        for (t, _) in pfields {
            if *t <= last || !known.contains(t) {
                return Err(bad("payload fields out of order or unknown"));
            }
            last = *t;
        }
        let pget = |t: u8| pfields.iter().find(|f| f.0 == t).map(|f| f.1);
        let need = |t: u8| {
            pget(t)
                .ok_or_else(|| bad("payload field missing"))
                .and_then(text)
        };
        let payload = match code {
            1 => Payload::Added {
                dataset: need(1)?,
                locator: need(2)?,
                source: pget(3).map(text).transpose()?,
                collected_at: pget(4).map(text).transpose()?,
            },
            2 => Payload::Removed { locator: need(2)? },
            3 => Payload::Annotated {
                label: need(1)?,
                annotator: pget(2).map(text).transpose()?,
                confidence: pget(3)
                    .map(|v| {
                        v.try_into()
                            .map(f64::from_le_bytes)
                            .map_err(|_| bad("bad confidence"))
                    })
                    .transpose()?,
            },
            4 => {
                let int = |t: u8| -> Result<i64, EventDecodeError> {
                    let v = pget(t).ok_or_else(|| bad("payload field missing"))?;
                    Ok(i64::from_le_bytes(
                        v.try_into().map_err(|_| bad("bad amount"))?,
                    ))
                };
                Payload::Valued {
                    acquisition: int(1)?,
                    labelling: int(2)?,
                    currency: need(3)?,
                    vendor: pget(4).map(text).transpose()?,
                }
            }
            5 => Payload::Reclassified {
                sensitivity: need(1)?,
            },
            6 => Payload::Trained {
                model: need(1)?,
                run: need(2)?,
            },
            7 => Payload::Licensed { license: need(1)? },
            8 => Payload::Impaired {
                amount: i64::from_le_bytes(
                    pget(1)
                        .ok_or_else(|| bad("payload field missing"))?
                        .try_into()
                        .map_err(|_| bad("bad amount"))?,
                ),
                currency: need(2)?,
                reason: need(3)?,
            },
            _ => return Err(bad("unknown event kind")),
        };
        let ev = Event {
            seq: u64_of(get(1).ok_or_else(|| bad("no seq"))?)?,
            time: u64_of(get(2).ok_or_else(|| bad("no time"))?)? as i64,
            actor: text(get(3).ok_or_else(|| bad("no actor"))?)?,
            commit: get(4)
                .map(|c| {
                    ObjectId::from_slice(c)
                        .map(CommitId)
                        .ok_or_else(|| bad("bad commit id"))
                })
                .transpose()?,
            subject,
            payload,
            prev: get(7)
                .ok_or_else(|| bad("no prev"))?
                .try_into()
                .map_err(|_| bad("bad prev"))?,
        };
        debug_assert!(
            ev.encode() == bytes,
            "decode accepted a non-canonical event"
        );
        Ok(ev)
    }
}

/// A look at an encoded event without decoding it (no allocation), so
/// readers skip events they do not need.
#[derive(Debug, Clone, Copy)]
pub struct Peek<'a> {
    /// Sequence number.
    pub seq: u64,
    /// The example it is about, if any.
    pub example: Option<&'a [u8]>,
    /// The payload kind code (1 added … 7 licence set).
    pub code: u8,
    payload: &'a [u8],
}

impl<'a> Peek<'a> {
    /// Peeks at an encoded event; `None` when it does not parse (the full
    /// decode then reports why).
    pub fn new(bytes: &'a [u8]) -> Option<Peek<'a>> {
        let (fields, n) = tlv(bytes.strip_prefix(EVENT_TAG)?)?;
        let get = |t: u8| fields[..n].iter().find(|f| f.0 == t).map(|f| f.1);
        let example = match get(5)?.split_first()? {
            (1, id) => Some(id),
            _ => None,
        };
        let (code, payload) = get(6)?.split_first()?;
        Some(Peek {
            seq: u64::from_le_bytes(get(1)?.try_into().ok()?),
            example,
            code: *code,
            payload,
        })
    }

    /// A payload field's bytes.
    pub fn field(&self, tag: u8) -> Option<&'a [u8]> {
        let (fields, n) = tlv(self.payload)?;
        fields[..n].iter().find(|f| f.0 == tag).map(|f| f.1)
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
    /// Hash of the previous event.
    pub prev: String,
    /// The canonical encoding, hex: anyone can re-hash it.
    pub encoding: String,
    /// BLAKE3 of the encoding.
    pub hash: String,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl From<&Event> for ExportedEvent {
    fn from(e: &Event) -> Self {
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
            kind: e.payload.kind(),
            payload,
            prev: hex(&e.prev),
            hash: hex(blake3::hash(&enc).as_bytes()),
            encoding: hex(&enc),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(seq: u64) -> Event {
        Event {
            seq,
            time: 1_768_471_200,
            actor: "Ada".into(),
            commit: Some(CommitId(ObjectId::of(b"c"))),
            subject: Subject::Example(ExampleId::row("data/t.csv", b"\x01\x00\x00\x00\x001")),
            payload: Payload::Added {
                dataset: "data".into(),
                locator: "data/t.csv:1".into(),
                source: Some("s3://vendor/batch".into()),
                collected_at: Some("2026-01-15".into()),
            },
            prev: [7; 32],
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
                    currency: "EUR".into(),
                    vendor: None,
                },
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
                    locator: "x".into(),
                },
                subject: Subject::Dataset("data".into()),
                commit: None,
                ..sample(4)
            },
        ] {
            let b = e.encode();
            assert_eq!(Event::decode(&b).expect("decodes"), e);
        }
        let mut b = sample(1).encode();
        b.push(0);
        assert!(Event::decode(&b).is_err());
    }
}
