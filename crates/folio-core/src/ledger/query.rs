//! Reading the ledger as of a revision: the one layer every command reads
//! events through, and which examples a selector names.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::ExampleId;
use super::index::{LedgerIndex, LedgerIndexError, Term};
use super::log::{EachRaw, FrameRef, Keep, decode_event};
use super::{Event, EventKind, ExampleState, IdMap, LedgerLog, Locator, Payload, Peek, Subject};
use crate::error::ErrorKind;
use crate::id::IdPrefix;

/// Why a selector names no single example.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// Neither an example nor a filter was given.
    #[error("give an example (id, path or TABLE:KEY) or at least one filter")]
    Nothing,
    /// The filters match no example present now.
    #[error("no example present now matches the filters; nothing was recorded")]
    NoFilterMatch,
    /// The selector matches no example.
    #[error(
        "no example matches '{0}': give an example id (or a prefix of 4+ digits), a file path, or TABLE:KEY for a row"
    )]
    NoMatch(String),
    /// The selector (an id prefix) matches several examples.
    #[error("'{selector}' matches several examples:\n{}", candidates.iter().map(|c| format!("  {}", c.short(16))).collect::<Vec<_>>().join("\n"))]
    Ambiguous {
        /// The selector.
        selector: String,
        /// The examples it matches.
        candidates: Vec<ExampleId>,
    },
}

impl SelectError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
}

/// An example's latest label and confidence, when it has them.
pub type LatestLabel = (Option<String>, Option<f64>);

/// Which events a read needs: `None` for all of them, or inclusive ranges
/// of index terms (see [`Term::key`]).
pub type Want = Option<Vec<(u64, u64)>>;

/// The ledger as a reader sees it: its first `limit` events (the count a
/// revision attests, or the settled count for the working view), read
/// through the derived index where it narrows the frames. Every command
/// reads events through a view; none opens segments itself.
pub struct LedgerView {
    log: LedgerLog,
    index_dir: PathBuf,
    limit: u64,
}

impl LedgerView {
    /// A view of the ledger in `ledger_dir` (index in `index_dir`) up to
    /// `limit` events.
    pub fn new(ledger_dir: &Path, index_dir: &Path, limit: u64) -> LedgerView {
        LedgerView {
            log: LedgerLog::new(ledger_dir),
            index_dir: index_dir.to_path_buf(),
            limit,
        }
    }

    /// How many events the view holds.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The same ledger up to another count.
    pub fn at(&self, limit: u64) -> LedgerView {
        LedgerView {
            log: self.log.clone(),
            index_dir: self.index_dir.clone(),
            limit,
        }
    }

    /// The frames that may hold events for `want`: with the index, the
    /// frames it names and every frame past it; without it, or when the
    /// ledger was rewritten under it, every frame.
    pub fn frames(&self, want: &Want) -> Result<Vec<FrameRef>, LedgerIndexError> {
        let index = match want {
            Some(_) => LedgerIndex::open_ro(&self.index_dir),
            None => None,
        };
        Ok(match (&index, want) {
            (Some(ix), Some(ranges)) => match ix.valid_end(&self.log)? {
                Some(end) => {
                    let mut f = ix.frames_in(ranges.iter().copied())?;
                    f.extend(self.log.frames_from(end.segment, end.offset)?);
                    f
                }
                None => self.log.frames_from(0, 0)?,
            },
            _ => self.log.frames_from(0, 0)?,
        })
    }

    /// Gives `each`, in order, the events of the view that may concern
    /// `want` (a superset: callers filter exactly) and that `keep` lets
    /// through undecoded.
    pub fn read<E: From<LedgerIndexError>>(
        &self,
        want: &Want,
        keep: &Keep<'_>,
        each: &mut dyn FnMut(Event) -> Result<(), E>,
    ) -> Result<(), E> {
        let frames = self.frames(want)?;
        let mut failed = None;
        self.log
            .read(&frames, self.limit, keep, &mut |_, e| {
                if failed.is_none()
                    && let Err(x) = each(e)
                {
                    failed = Some(x);
                }
                Ok(())
            })
            .map_err(|e| E::from(e.into()))?;
        failed.map_or(Ok(()), Err)
    }

    /// Every event of the view, in order.
    pub fn each<E: From<LedgerIndexError>>(
        &self,
        each: &mut dyn FnMut(Event) -> Result<(), E>,
    ) -> Result<(), E> {
        self.read(&None, &|_| true, each)
    }

    /// Gives `each` the encoding of every event of the view that may
    /// concern `want`, in order, with its parsed header; `each` returns
    /// `false` to stop.
    pub fn read_raw(&self, want: &Want, each: &mut EachRaw<'_>) -> Result<(), LedgerIndexError> {
        self.raw_frames(&self.frames(want)?, each)
    }

    /// Like [`LedgerView::read_raw`], from the first frame `want` names to
    /// the end of the view: for readers whose later events of interest lie
    /// after a first one the index finds.
    pub fn read_raw_since(
        &self,
        want: &Want,
        each: &mut EachRaw<'_>,
    ) -> Result<(), LedgerIndexError> {
        match self.frames(want)?.first() {
            Some(first) => {
                self.raw_frames(&self.log.frames_from(first.segment, first.offset)?, each)
            }
            None => Ok(()),
        }
    }

    /// The events of `frames` up to the view's limit.
    fn raw_frames(
        &self,
        frames: &[FrameRef],
        each: &mut EachRaw<'_>,
    ) -> Result<(), LedgerIndexError> {
        let limit = self.limit;
        Ok(self.log.read_raw(frames, &mut |f, raw, p| {
            if p.seq >= limit {
                return Ok(false);
            }
            each(f, raw, p)
        })?)
    }

    /// What the view says of every example.
    pub fn states(&self) -> Result<IdMap<ExampleState>, LedgerIndexError> {
        let mut states: IdMap<ExampleState> = Default::default();
        self.each(&mut |e| {
            if let Subject::Example(id) = &e.subject {
                states.entry(*id).or_default().apply(&e.payload);
            }
            Ok::<(), LedgerIndexError>(())
        })?;
        Ok(states)
    }

    /// What the view says of the examples added from `source`, in one pass
    /// that decodes their events alone: an example's first event is its
    /// addition, which names the source, and its later events lie after it.
    pub fn states_of_source(&self, source: &str) -> Result<IdMap<ExampleState>, LedgerIndexError> {
        let mut states: IdMap<ExampleState> = Default::default();
        let t = Term::Source(source).key();
        self.read_raw_since(&Some(vec![(t, t)]), &mut |_, raw, p| {
            let Some(id) = p.example_id() else {
                return Ok(true);
            };
            let wanted = (p.kind == EventKind::Added && p.source() == Some(source.as_bytes()))
                || states.contains_key(&id);
            if wanted {
                states
                    .entry(id)
                    .or_default()
                    .apply(&decode_event(raw)?.payload);
            }
            Ok(true)
        })?;
        Ok(states)
    }

    /// True when the derived index covers the view and knows it holds no
    /// annotation at all (false when it cannot tell).
    pub fn has_no_annotations(&self) -> Result<bool, LedgerIndexError> {
        let Some(ix) = LedgerIndex::open_ro(&self.index_dir) else {
            return Ok(false);
        };
        Ok(ix
            .valid_end(&self.log)?
            .is_some_and(|end| end.seq >= self.limit)
            && ix.frames_of(&[Term::Annotated.key()])?.is_empty())
    }

    /// The latest label and confidence of each row of `table` present in
    /// the view, in one pass over the raw events that decodes only the
    /// annotations of that table's rows.
    pub fn present_labels(&self, table: &str) -> Result<Vec<LatestLabel>, LedgerIndexError> {
        let mut m: IdMap<(bool, Option<String>, Option<f64>)> = Default::default();
        self.read_raw(&None, &mut |_, raw, p| {
            let Some(id) = p.example_id() else {
                return Ok(true);
            };
            match p.kind {
                EventKind::Added | EventKind::Removed
                    if p.locator().is_some_and(|l| Locator::is_row_of(l, table)) =>
                {
                    m.entry(id).or_default().0 = p.kind == EventKind::Added;
                }
                EventKind::Annotated if m.contains_key(&id) => {
                    if let Payload::Annotated {
                        label, confidence, ..
                    } = decode_event(raw)?.payload
                    {
                        let e = m.get_mut(&id).expect("checked");
                        (e.1, e.2) = (Some(label), confidence);
                    }
                }
                _ => {}
            }
            Ok(true)
        })?;
        Ok(m.into_values()
            .filter(|e| e.0)
            .map(|e| (e.1, e.2))
            .collect())
    }

    /// Every locator the view has given an example, and the example.
    pub fn locators(&self) -> Result<HashMap<String, ExampleId>, LedgerIndexError> {
        let mut out = HashMap::new();
        self.read_raw(&None, &mut |_, raw, p| {
            if p.kind == EventKind::Added
                && let (Some(id), Some(l)) = (p.example_id(), p.locator())
            {
                out.insert(String::from_utf8_lossy(l).into_owned(), id);
            }
            let _ = raw;
            Ok(true)
        })?;
        Ok(out)
    }

    /// The example a selector names: an example id (or a unique prefix of
    /// 4+ hex digits), a file path, or a row's locator (`TABLE:KEY`).
    pub fn resolve<E: From<LedgerIndexError> + From<SelectError>>(
        &self,
        selector: &str,
    ) -> Result<ExampleId, E> {
        let file_id = ExampleId::file(selector.trim_end_matches('/'));
        let prefix = IdPrefix::parse(selector);
        let mut want = vec![
            (Term::Example(&file_id).key(), Term::Example(&file_id).key()),
            (Term::Locator(selector).key(), Term::Locator(selector).key()),
        ];
        if let Some(p) = &prefix {
            want.push(p.key_range());
        }
        let matches_prefix = |x: &[u8]| {
            prefix
                .as_ref()
                .zip(<&[u8; 32]>::try_from(x).ok())
                .is_some_and(|(p, x)| p.matches(x))
        };
        let keep = |raw: &[u8]| {
            Peek::new(raw).is_none_or(|p| {
                p.example.is_some_and(|x| {
                    x == file_id.0
                        || matches!(p.kind, EventKind::Added | EventKind::Removed)
                        || matches_prefix(x)
                })
            })
        };
        let mut candidates: BTreeSet<ExampleId> = BTreeSet::new();
        self.read(&Some(want), &keep, &mut |e| {
            if let Subject::Example(id) = &e.subject {
                let locator = match &e.payload {
                    Payload::Added { locator, .. } | Payload::Removed { locator } => Some(locator),
                    _ => None,
                };
                if *id == file_id || locator.is_some_and(|l| l == selector) || matches_prefix(&id.0)
                {
                    candidates.insert(*id);
                }
            }
            Ok::<(), E>(())
        })?;
        match candidates.len() {
            0 => Err(SelectError::NoMatch(selector.to_string()).into()),
            1 => Ok(*candidates.first().expect("one")),
            _ => Err(SelectError::Ambiguous {
                selector: selector.to_string(),
                candidates: candidates.into_iter().collect(),
            }
            .into()),
        }
    }
}
