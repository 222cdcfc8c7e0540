//! The ledger: an append-only, hash-chained, Merkle-attested log of what
//! happened to every example.
//!
//! Each event carries the hash of the one before it; each commit records
//! the ledger head (event count and RFC 6962 root) after its own events, so
//! a commit id attests everything the ledger said up to it. Events recorded
//! by a commit belong to it: they lie between its parent's head and its own.

pub mod event;
pub mod index;
pub mod inventory;
pub mod lineage;
pub mod log;
pub mod merkle;
pub mod money;
pub mod proof;
pub mod quality;
pub mod query;
pub mod values;

use std::path::Path;

pub use event::{
    Event, EventKind, ExampleId, ExportedEvent, IdMap, Locator, Payload, Peek, Subject,
};
pub use log::{Checkpoint, Head, LedgerLog, LogError};

use crate::id::CommitId;

/// What the ledger says of one example: the fold of its events, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExampleState {
    /// Where it is.
    pub locator: Locator,
    /// Its dataset.
    pub dataset: String,
    /// Where it came from.
    pub source: Option<String>,
    /// When it was collected.
    pub collected_at: Option<String>,
    /// Added and not removed since.
    pub present: bool,
    /// The latest label.
    pub label: Option<String>,
    /// Who gave it.
    pub annotator: Option<String>,
    /// With what confidence.
    pub confidence: Option<f64>,
    /// The latest cost basis (acquisition plus labelling, minor units) and currency.
    pub cost: Option<(i64, String)>,
    /// The latest sensitivity.
    pub sensitivity: Option<String>,
    /// The latest licence.
    pub license: Option<String>,
}

impl ExampleState {
    /// Applies the next event about the example.
    pub fn apply(&mut self, p: &Payload) {
        match p {
            Payload::Added {
                dataset,
                locator,
                source,
                collected_at,
            } => {
                if collected_at.is_some() {
                    self.collected_at = collected_at.clone();
                }
                self.present = true;
                self.dataset = dataset.clone();
                self.locator = locator.clone();
                if source.is_some() {
                    self.source = source.clone();
                }
            }
            Payload::Removed { locator } => {
                self.present = false;
                self.locator = locator.clone();
            }
            Payload::Annotated {
                label,
                annotator,
                confidence,
            } => {
                self.label = Some(label.clone());
                self.annotator = annotator.clone();
                self.confidence = *confidence;
            }
            Payload::Valued {
                acquisition,
                labelling,
                currency,
                ..
            } => self.cost = Some((acquisition + labelling, currency.clone())),
            Payload::Reclassified { sensitivity } => self.sensitivity = Some(sensitivity.clone()),
            Payload::Licensed { license } => self.license = Some(license.clone()),
            Payload::Trained { .. } | Payload::Impaired { .. } => {}
        }
    }
}

/// An event before it is placed in the chain.
#[derive(Debug, Clone)]
pub struct Draft {
    /// Seconds since the epoch, UTC.
    pub time: i64,
    /// Who records it.
    pub actor: String,
    /// The commit it belongs to, when known at recording time.
    pub commit: Option<CommitId>,
    /// What it is about.
    pub subject: Subject,
    /// What happened.
    pub payload: Payload,
}

/// The ledger, opened for appending (under the repository lock).
pub struct Ledger {
    log: LedgerLog,
    cp: Checkpoint,
}

impl Ledger {
    /// Opens the ledger in `dir` for writing. `attested` is the head the
    /// current commit records: events past the saved checkpoint that it
    /// attests are kept (a crash between moving the ref and saving the
    /// checkpoint); any others are an abandoned append and are dropped.
    pub fn open(dir: &Path, attested: Option<Head>) -> Result<Ledger, LogError> {
        Ledger::open_log(LedgerLog::new(dir), attested)
    }

    /// [`Ledger::open`] on a given log.
    pub fn open_log(log: LedgerLog, attested: Option<Head>) -> Result<Ledger, LogError> {
        let need = attested.map_or(0, |h| h.size);
        let cp = match log.checkpoint()? {
            Some(cp) if cp.frontier.size >= need => cp,
            _ => log.scan_upto(need, |_, _| Ok(()))?,
        };
        if cp.frontier.size < need {
            return Err(LogError::Chain {
                seq: cp.frontier.size,
                detail: format!(
                    "the ledger ends after {} events but the current commit attests {need}: events were cut off",
                    cp.frontier.size
                ),
            });
        }
        Ok(Ledger { log, cp })
    }

    /// The head of the committed ledger.
    pub fn head(&self) -> Head {
        self.cp.head()
    }

    /// Starts appending events after the committed ledger.
    pub fn writer(&self) -> Result<EventWriter<'_>, LogError> {
        Ok(EventWriter {
            inner: self.log.appender(&self.cp)?,
        })
    }

    /// Chains and durably appends events; returns the checkpoint after
    /// them, to be saved with [`Ledger::settle`] once a commit attests them
    /// (or at once, for events no commit needs to attest first).
    pub fn append(&self, drafts: Vec<Draft>) -> Result<Checkpoint, LogError> {
        let mut w = self.writer()?;
        for d in drafts {
            w.push(d)?;
        }
        w.finish()
    }

    /// Makes appended events part of the committed ledger.
    pub fn settle(&mut self, cp: Checkpoint) -> Result<(), LogError> {
        self.log.save(&cp)?;
        self.cp = cp;
        Ok(())
    }
}

/// Chains events as they come and streams them to disk.
pub struct EventWriter<'a> {
    inner: log::Appender<'a>,
}

impl EventWriter<'_> {
    /// Places one event after the last and appends it.
    pub fn push(&mut self, d: Draft) -> Result<(), LogError> {
        let cp = self.inner.checkpoint();
        let e = Event {
            seq: cp.frontier.size,
            time: d.time,
            actor: d.actor,
            commit: d.commit,
            subject: d.subject,
            payload: d.payload,
            prev: cp.last,
        };
        let enc = e.encode();
        let hash = merkle::Hash::of(&enc);
        self.inner.push_encoded(&enc, &hash)
    }

    /// Events pushed so far, counting those before this writer.
    pub fn size(&self) -> u64 {
        self.inner.checkpoint().frontier.size
    }

    /// Makes the events durable; returns the checkpoint after them.
    pub fn finish(self) -> Result<Checkpoint, LogError> {
        self.inner.finish()
    }
}

/// The head of a ledger folder as its checkpoint records it (empty when
/// there is none), for readers.
pub fn saved_head(dir: &Path) -> Result<Head, LogError> {
    Ok(LedgerLog::new(dir).checkpoint()?.unwrap_or_default().head())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(n: u64) -> Draft {
        Draft {
            time: n as i64,
            actor: "t".into(),
            commit: None,
            subject: Subject::Example(ExampleId::file(&format!("f{n}"))),
            payload: Payload::Added {
                dataset: "d".into(),
                locator: Locator::file(&format!("d/f{n}")),
                source: None,
                collected_at: None,
            },
        }
    }

    #[test]
    fn append_scan_and_reopen() {
        let d = tempfile::tempdir().expect("tempdir");
        let mut l = Ledger::open(d.path(), None).expect("open");
        let cp = l.append((0..10).map(draft).collect()).expect("append");
        l.settle(cp.clone()).expect("settle");
        let scanned = LedgerLog::new(d.path()).scan(|_, _| Ok(())).expect("scan");
        assert_eq!(scanned, cp);
        assert_eq!(l.head().size, 10);
        let l2 = Ledger::open(d.path(), Some(l.head())).expect("reopen");
        assert_eq!(l2.head(), l.head());
    }

    #[test]
    fn abandoned_append_is_dropped_and_torn_tail_ignored() {
        let d = tempfile::tempdir().expect("tempdir");
        let mut l = Ledger::open(d.path(), None).expect("open");
        let cp = l.append((0..3).map(draft).collect()).expect("append");
        l.settle(cp).expect("settle");
        // Appended but never attested nor settled (a crash before the ref moved).
        l.append((3..5).map(draft).collect()).expect("append");
        let l = Ledger::open(d.path(), Some(l.head())).expect("reopen");
        assert_eq!(l.head().size, 3);
        let cp = l.append(vec![draft(9)]).expect("append after recovery");
        assert_eq!(cp.frontier.size, 4);
        // A torn final frame: cut the last bytes off.
        let seg = d.path().join("seg-00000000.log");
        let len = std::fs::metadata(&seg).expect("stat").len();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&seg)
            .expect("open");
        f.set_len(len - 5).expect("truncate");
        let scanned = LedgerLog::new(d.path()).scan(|_, _| Ok(())).expect("scan");
        assert_eq!(
            scanned.frontier.size, 3,
            "the torn event is ignored, not misread"
        );
    }

    #[test]
    fn checkpoints_are_checksummed_and_legacy_ones_read() {
        let d = tempfile::tempdir().expect("tempdir");
        let mut l = Ledger::open(d.path(), None).expect("open");
        let cp = l.append((0..3).map(draft).collect()).expect("append");
        l.settle(cp.clone()).expect("settle");
        let log = LedgerLog::new(d.path());
        assert_eq!(log.checkpoint().expect("reads"), Some(cp.clone()));
        let path = d.path().join("checkpoint");
        let saved = std::fs::read(&path).expect("read");
        // Written before the checksum: the bare postcard encoding.
        std::fs::write(&path, &saved[..saved.len() - 32]).expect("write");
        assert_eq!(log.checkpoint().expect("legacy"), Some(cp));
        for at in [0, saved.len() / 2, saved.len() - 1] {
            let mut bad = saved.clone();
            bad[at] ^= 1;
            std::fs::write(&path, &bad).expect("write");
            assert!(
                matches!(log.checkpoint(), Err(LogError::Corrupt { .. })),
                "{at}"
            );
        }
    }

    #[test]
    fn damage_to_a_committed_final_frame_is_an_error() {
        let d = tempfile::tempdir().expect("tempdir");
        let mut l = Ledger::open(d.path(), None).expect("open");
        let cp = l.append((0..3).map(draft).collect()).expect("append");
        l.settle(cp).expect("settle");
        let seg = d.path().join("seg-00000000.log");
        let mut bytes = std::fs::read(&seg).expect("read");
        let n = bytes.len();
        bytes[n - 3] ^= 1;
        std::fs::write(&seg, &bytes).expect("write");
        let err = LedgerLog::new(d.path()).scan(|_, _| Ok(()));
        assert!(
            matches!(err, Err(LogError::Corrupt { .. })),
            "a settled frame is acknowledged work, not a torn tail: {err:?}"
        );
        std::fs::write(&seg, &bytes[..n - 3]).expect("cut");
        let err = LedgerLog::new(d.path()).scan(|_, _| Ok(()));
        assert!(matches!(err, Err(LogError::Corrupt { .. })), "{err:?}");
    }

    #[test]
    fn abandoned_append_across_segments_is_dropped() {
        let d = tempfile::tempdir().expect("tempdir");
        let small = || LedgerLog::with_segment_max(d.path(), 64);
        let mut l = Ledger::open_log(small(), None).expect("open");
        let cp = l.append((0..3).map(draft).collect()).expect("append");
        l.settle(cp).expect("settle");
        let head = l.head();
        // An abandoned append of three frames, each in a segment of its own.
        l.append((0..10_000).map(draft).collect()).expect("append");
        assert!(d.path().join("seg-00000003.log").exists());
        // With the checkpoint, then without it (a scan up to the attested
        // head), then with neither (the state before a repository's first
        // commit): the abandoned events are never read back.
        for (attested, keep_checkpoint) in [(Some(head), true), (Some(head), false), (None, false)]
        {
            if !keep_checkpoint {
                let _ = std::fs::remove_file(d.path().join("checkpoint"));
            }
            let l = Ledger::open_log(small(), attested).expect("reopen");
            let want = attested.map_or(0, |h| h.size);
            assert_eq!(l.head().size, want);
            let cp = l.append(vec![draft(9)]).expect("append after recovery");
            assert_eq!(cp.frontier.size, want + 1);
            let scanned = small().scan(|_, _| Ok(())).expect("scan");
            assert_eq!(scanned, cp, "no event of the abandoned append is read");
            l.append((0..10_000).map(draft).collect())
                .expect("abandon another");
        }
    }

    #[test]
    fn tampering_is_caught_with_the_first_bad_seq() {
        let d = tempfile::tempdir().expect("tempdir");
        let mut l = Ledger::open(d.path(), None).expect("open");
        let cp = l.append((0..6).map(draft).collect()).expect("append");
        l.settle(cp).expect("settle");
        let log = LedgerLog::new(d.path());
        let events = log.raw_events().expect("raw");
        assert_eq!(events.len(), 6);
        let scan = |evs: &[Vec<u8>]| {
            log.rewrite_raw(evs).expect("rewrite");
            log.scan(|_, _| Ok(()))
                .expect_err("tampering is caught")
                .to_string()
        };
        // Edit the actor of event 2: event 3's link to it breaks.
        let mut edited = events.clone();
        let field: &[u8] = b"\x03\x01\x00\x00\x00t"; // tag 3 (actor), length 1, "t"
        let at = edited[2]
            .windows(field.len())
            .position(|w| w == field)
            .expect("actor field")
            + 5;
        edited[2][at] = b'u';
        let msg = scan(&edited);
        assert!(msg.contains("ledger event 3"), "{msg}");
        // Swap two events.
        let mut swapped = events.clone();
        swapped.swap(1, 2);
        assert!(scan(&swapped).contains("ledger event 1"));
        // Delete one.
        let mut deleted = events.clone();
        deleted.remove(3);
        assert!(scan(&deleted).contains("ledger event 3"));
        log.rewrite_raw(&events).expect("restore");
        assert_eq!(log.scan(|_, _| Ok(())).expect("clean").frontier.size, 6);
    }
}
