//! Reading the ledger as of a revision: the one layer every command reads
//! events through, and which examples a selector names.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::ExampleId;
use super::batch::{self, BatchFrame, LogError};
use super::index::{LedgerIndex, LedgerIndexError, RowsWindow, Term};
use super::merkle::Hash;
use super::rows::{self, TableSource, Window};
use super::{Event, EventKind, ExampleState, IdMap, Locator, Payload, Peek, Subject};
use crate::error::ErrorKind;
use crate::id::{CommitId, IdPrefix, ObjectId};

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

/// Where a view's events come from: the store, by batch id.
pub trait BatchSource: Sync {
    /// The bytes of batch `id`, checked against the id.
    fn load(&self, id: &ObjectId) -> Result<Arc<Vec<u8>>, LogError>;

    /// `len` bytes at `offset` of batch `id`, read in place when it is
    /// stored so (a large batch); `None` otherwise.
    fn read_at(&self, id: &ObjectId, offset: u64, len: usize) -> Result<Option<Vec<u8>>, LogError> {
        let _ = (id, offset, len);
        Ok(None)
    }

    /// Where the row manifests `Rows` events name are read (`None`: they
    /// cannot be, and reading such an event is an error).
    fn tables(&self) -> Option<&dyn TableSource> {
        None
    }
}

/// One batch of a view, placed in its ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The batch object.
    pub batch: ObjectId,
    /// The commit that brings it (`None`: pending on the current branch).
    pub commit: Option<CommitId>,
    /// Position of its first event in the view's ledger.
    pub start: u64,
    /// How many events it holds.
    pub count: u64,
}

/// What a read takes from a frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reads {
    /// Every event, with every `Rows` event expanded whole.
    pub all: bool,
    /// The stored events but `Rows` events (the index names their rows by
    /// window).
    pub stored: bool,
    /// Windows of `Rows` events (index in the frame, window), in order.
    pub windows: Vec<RowsWindow>,
}

/// A frame of a view: which part, where in its batch, and what to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameRef {
    /// Index of the part in the view.
    pub part: usize,
    /// The frame.
    pub frame: BatchFrame,
    /// What of it.
    pub reads: Reads,
}

impl FrameRef {
    fn whole(part: usize, frame: BatchFrame) -> FrameRef {
        FrameRef {
            part,
            frame,
            reads: Reads {
                all: true,
                ..Reads::default()
            },
        }
    }
}

/// Voided events: the hash of each, and the void's reason.
pub type Voids = HashMap<Hash, String>;

/// An event a read takes from a frame: its encoding, its peek, and how.
type Selected<'p> = (&'p [u8], Peek<'p>, Take);

/// How a read takes an event: as stored, or as the rows a `Rows` event
/// stands for (all, or the windows given).
enum Take {
    Stored,
    Rows(Option<Vec<Window>>),
}

/// An event a read gives: stored in a batch (its encoding and peek), or
/// made by expanding a `Rows` event.
enum Item<'a> {
    Stored(&'a [u8], Peek<'a>),
    Made(Box<Event>),
}

/// A raw read's callback: each encoded event; `Ok(false)` stops the read.
pub type EachRaw<'a> = dyn FnMut(&[u8], &Peek<'_>) -> Result<bool, LogError> + Send + 'a;

/// Which encoded events a reader decodes (see [`Peek`]).
pub type Keep<'a> = dyn Fn(&[u8]) -> bool + Sync + 'a;

/// Frames read per parallel window.
const READ_WINDOW: usize = 16;

/// The ledger as a reader sees it: the batches of a revision's history in
/// ledger order (and, for the working view, the current branch's pending
/// batches), read through the derived index where it narrows the frames.
/// Every command reads events through a view; none opens batches itself.
pub struct LedgerView<'s> {
    source: &'s dyn BatchSource,
    index_dir: PathBuf,
    parts: Vec<Part>,
    cache: Mutex<HashMap<ObjectId, Arc<Vec<u8>>>>,
    /// Whether reads give voided events too (proofs, exports, lineage).
    include_voided: bool,
    /// Whether reads give `Rows` events as stored, unexpanded (proofs,
    /// exports, voids: what the Merkle leaves are).
    stored_only: bool,
    /// The events voided in the view (hash → the void's reason), once read.
    voided: Mutex<Option<Arc<Voids>>>,
    /// For a view with voided events: the positions of the voided `Rows`
    /// events its reads expanded, with the void's reason (their row events
    /// share the position).
    voided_rows: Mutex<HashMap<u64, String>>,
}

impl<'s> LedgerView<'s> {
    /// A view of `parts` (in ledger order, contiguous from 0), batches read
    /// from `source`, index in `index_dir`.
    pub fn new(source: &'s dyn BatchSource, index_dir: &Path, parts: Vec<Part>) -> LedgerView<'s> {
        LedgerView {
            source,
            index_dir: index_dir.to_path_buf(),
            parts,
            cache: Mutex::new(HashMap::new()),
            include_voided: false,
            stored_only: false,
            voided: Mutex::new(None),
            voided_rows: Mutex::new(HashMap::new()),
        }
    }

    /// The same view, whose reads give the events as stored: `Rows` events
    /// themselves, not the row events they stand for (the Merkle leaves).
    pub fn stored(mut self) -> Self {
        self.stored_only = true;
        self
    }

    /// The same view, whose reads give voided events too: for proofs,
    /// exports and lineage, which show everything the ledger holds.
    pub fn with_voided(mut self) -> Self {
        self.include_voided = true;
        self
    }

    /// The events voided in the view (by hash, with the void's reason),
    /// read once through the index's `voided` term.
    pub fn voided(&self) -> Result<Arc<Voids>, LedgerIndexError> {
        if let Some(v) = self.voided.lock().expect("not poisoned").as_ref() {
            return Ok(v.clone());
        }
        let t = Term::Voided.key();
        let frames = self.frames(&Some(vec![(t, t)]))?;
        let mut set = Voids::new();
        self.items_with(&frames, None, false, &mut |item| {
            if let Item::Stored(raw, p) = item
                && p.kind == EventKind::Voided
                && let Payload::Voided { target, reason } = decode_raw(raw)?.payload
            {
                set.insert(target, reason);
            }
            Ok(true)
        })?;
        let set = Arc::new(set);
        *self.voided.lock().expect("not poisoned") = Some(set.clone());
        Ok(set)
    }

    /// Why event `e`, which a read of this view gave, is void (`None`: it
    /// counts): its own void, or, for a row event, its `Rows` event's.
    pub fn void_reason(&self, e: &Event) -> Result<Option<String>, LedgerIndexError> {
        if let Some(r) = self.voided()?.get(&e.hash()) {
            return Ok(Some(r.clone()));
        }
        let rows = self.voided_rows.lock().expect("not poisoned");
        Ok(matches!(e.subject, Subject::Example(_))
            .then(|| rows.get(&e.seq).cloned())
            .flatten())
    }

    /// What reads skip: the voided events, unless the view includes them.
    fn skipped(&self) -> Result<Option<Arc<Voids>>, LedgerIndexError> {
        if self.include_voided {
            return Ok(None);
        }
        let v = self.voided()?;
        Ok((!v.is_empty()).then_some(v))
    }

    /// How many events the view holds.
    pub fn limit(&self) -> u64 {
        self.parts.last().map_or(0, |p| p.start + p.count)
    }

    /// The view's batches, in ledger order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The position the commits of the view reach, and the commit: the
    /// events of a commit lie between the previous entry's size and its
    /// own; events past the last entry are pending.
    pub fn heads(&self) -> Vec<(u64, CommitId)> {
        self.parts
            .iter()
            .filter_map(|p| p.commit.map(|c| (p.start + p.count, c)))
            .collect()
    }

    /// The part that holds event `seq`.
    pub fn part_of(&self, seq: u64) -> Option<&Part> {
        let i = self.parts.partition_point(|p| p.start + p.count <= seq);
        self.parts.get(i)
    }

    /// The bytes of batch `id` (loaded once per view).
    pub fn batch_bytes(&self, id: &ObjectId) -> Result<Arc<Vec<u8>>, LogError> {
        if let Some(b) = self.cache.lock().expect("not poisoned").get(id) {
            return Ok(b.clone());
        }
        let b = self.source.load(id)?;
        self.cache
            .lock()
            .expect("not poisoned")
            .insert(*id, b.clone());
        Ok(b)
    }

    /// Every frame of part `i`.
    fn part_frames(&self, i: usize) -> Result<Vec<FrameRef>, LogError> {
        let id = self.parts[i].batch;
        let bytes = self.batch_bytes(&id)?;
        let (h, frames) = batch::parse(&id, &bytes)?;
        if h.count != self.parts[i].count {
            return Err(LogError::Batch {
                id,
                offset: 0,
                detail: format!(
                    "it holds {} events; the commit that lists it says {}",
                    h.count, self.parts[i].count
                ),
            });
        }
        Ok(frames
            .into_iter()
            .map(|frame| FrameRef::whole(i, frame))
            .collect())
    }

    /// The frames that may hold events for `want`, in ledger order: with
    /// the index, the frames it names in the view's batches and every frame
    /// of a batch it does not cover; without it, every frame.
    pub fn frames(&self, want: &Want) -> Result<Vec<FrameRef>, LedgerIndexError> {
        let index = match want {
            Some(_) => LedgerIndex::open_ro(&self.index_dir),
            None => None,
        };
        let (Some(ix), Some(ranges)) = (&index, want) else {
            return self.frames_from(0);
        };
        let mut rank: HashMap<ObjectId, Vec<usize>> = HashMap::new();
        for (i, p) in self.parts.iter().enumerate() {
            rank.entry(p.batch).or_default().push(i);
        }
        let ids: Vec<ObjectId> = rank.keys().copied().collect();
        let covered = ix.indexed(&ids)?;
        let mut at: std::collections::BTreeMap<(usize, u64), (BatchFrame, Reads)> =
            Default::default();
        for (id, frame, w) in ix.frames_in(ranges.iter().copied())? {
            for &part in rank.get(&id).into_iter().flatten() {
                let e = at
                    .entry((part, frame.offset))
                    .or_insert_with(|| (frame, Reads::default()));
                match w {
                    Some(w) => e.1.windows.push(w),
                    None => e.1.stored = true,
                }
            }
        }
        for (i, p) in self.parts.iter().enumerate() {
            if !covered.contains(&p.batch) {
                for f in self.part_frames(i)? {
                    at.insert((i, f.frame.offset), (f.frame, f.reads));
                }
            }
        }
        Ok(at
            .into_iter()
            .map(|((part, _), (frame, mut reads))| {
                reads.windows.sort_unstable();
                reads.windows.dedup();
                FrameRef { part, frame, reads }
            })
            .collect())
    }

    /// Every frame from the one at `first` (part, offset) on.
    fn frames_from_ref(&self, first: &FrameRef) -> Result<Vec<FrameRef>, LedgerIndexError> {
        let mut out = self.frames_from(first.part)?;
        out.retain(|f| (f.part, f.frame.offset) >= (first.part, first.frame.offset));
        Ok(out)
    }

    /// Every frame of the parts from `part` on.
    fn frames_from(&self, part: usize) -> Result<Vec<FrameRef>, LedgerIndexError> {
        let mut out = Vec::new();
        for i in part..self.parts.len() {
            out.extend(self.part_frames(i)?);
        }
        Ok(out)
    }

    /// The decompressed payload of a frame: read in place from a large
    /// batch (a lookup touches a few frames of a batch of millions of
    /// events), else from the batch read whole.
    fn payload(&self, f: &FrameRef) -> Result<Vec<u8>, LogError> {
        let id = self.parts[f.part].batch;
        let cached = self.cache.lock().expect("not poisoned").get(&id).cloned();
        if cached.is_none() {
            let (offset, len) = batch::frame_span(&f.frame);
            if let Some(frame) = self.source.read_at(&id, offset, len)? {
                return batch::frame_payload_in(&id, &frame, &f.frame);
            }
        }
        let bytes = match cached {
            Some(b) => b,
            None => self.batch_bytes(&id)?,
        };
        batch::frame_payload(&id, &bytes, &f.frame)
    }

    /// What a read takes from frame `f` (its payload `payload`), in order:
    /// each event with its peek (its position in the view set) and whether
    /// it is given as stored or, for a `Rows` event when `expand`, as the
    /// rows it stands for (all of them, or the windows the index named).
    /// Events the view skips are left out.
    fn select<'p>(
        &self,
        f: &FrameRef,
        payload: &'p [u8],
        skip: Option<&Voids>,
        expand: bool,
    ) -> Result<Vec<Selected<'p>>, LogError> {
        let id = self.parts[f.part].batch;
        let first = self.parts[f.part].start + f.frame.first;
        let mut out = Vec::new();
        for (j, enc) in batch::split_frame(&id, &f.frame, payload)?
            .into_iter()
            .enumerate()
        {
            let mut peek = batch::peek_in(&id, &f.frame, enc)?;
            peek.seq = first + j as u64;
            let take = if peek.kind == EventKind::Rows && expand {
                if f.reads.all {
                    Take::Rows(None)
                } else {
                    let ws: Vec<Window> = f
                        .reads
                        .windows
                        .iter()
                        .filter(|w| w.0 as usize == j)
                        .map(|w| w.1)
                        .collect();
                    if ws.is_empty() {
                        continue;
                    }
                    Take::Rows(Some(ws))
                }
            } else if f.reads.all || f.reads.stored {
                Take::Stored
            } else {
                continue;
            };
            if skip.is_some_and(|s| s.contains_key(&Hash::of(enc))) {
                continue;
            }
            out.push((enc, peek, take));
        }
        Ok(out)
    }

    /// Gives `each` the events a read takes from frame `f` (see
    /// [`LedgerView::select`]), `Rows` events expanded. Returns `false`
    /// when `each` stopped the read.
    fn frame_items(
        &self,
        f: &FrameRef,
        payload: &[u8],
        skip: Option<&Voids>,
        expand: bool,
        each: &mut dyn FnMut(Item<'_>) -> Result<bool, LogError>,
    ) -> Result<bool, LogError> {
        let id = self.parts[f.part].batch;
        for (enc, peek, take) in self.select(f, payload, skip, expand)? {
            let going = match take {
                Take::Stored => each(Item::Stored(enc, peek))?,
                Take::Rows(windows) => {
                    let reference = batch::decode_in(&id, &f.frame, enc)?;
                    self.expand(&reference, peek.seq, windows.as_deref(), each)?
                }
            };
            if !going {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Gives `each` the row events `Rows` event `e` (at `seq`) stands for
    /// in `windows` (`None`: all of them); `false` when `each` stopped.
    fn expand(
        &self,
        e: &Event,
        seq: u64,
        windows: Option<&[Window]>,
        each: &mut dyn FnMut(Item<'_>) -> Result<bool, LogError>,
    ) -> Result<bool, LogError> {
        let Some(r) = e.payload.rows() else {
            return Ok(true);
        };
        let Some(src) = self.source.tables() else {
            return Err(LogError::Rows {
                table: r.table.clone(),
                detail: "this reader cannot read row manifests".into(),
            });
        };
        if self.include_voided {
            let voided = self.voided().map_err(|e| LogError::Chain {
                seq,
                detail: e.to_string(),
            })?;
            if let Some(reason) = voided.get(&e.hash()) {
                let mut rows = self.voided_rows.lock().expect("not poisoned");
                rows.insert(seq, reason.clone());
            }
        }
        let mut going = true;
        let mut failed = None;
        rows::expand(src, r, windows, &mut |x, payload| {
            if !going || failed.is_some() {
                return;
            }
            let made = Event {
                seq,
                time: e.time,
                actor: e.actor.clone(),
                commit: e.commit,
                subject: Subject::Example(x),
                payload,
            };
            match each(Item::Made(Box::new(made))) {
                Ok(g) => going = g,
                Err(err) => failed = Some(err),
            }
        })?;
        match failed {
            Some(err) => Err(err),
            None => Ok(going),
        }
    }

    /// Gives `each`, in order, the events of the view that may concern
    /// `want` (a superset: callers filter exactly) and that `keep` lets
    /// through undecoded. Frames are decompressed and decoded on every core,
    /// a window at a time.
    pub fn read<E: From<LedgerIndexError>>(
        &self,
        want: &Want,
        keep: &Keep<'_>,
        each: &mut dyn FnMut(Event) -> Result<(), E>,
    ) -> Result<(), E> {
        self.read_expanding(want, keep, each, !self.stored_only)
    }

    /// Like [`LedgerView::read`], `Rows` events expanded when `expand`
    /// and given as stored otherwise.
    fn read_expanding<E: From<LedgerIndexError>>(
        &self,
        want: &Want,
        keep: &Keep<'_>,
        each: &mut dyn FnMut(Event) -> Result<(), E>,
        expand: bool,
    ) -> Result<(), E> {
        use rayon::prelude::*;
        let frames = self.frames(want)?;
        let skip = self.skipped()?;
        // Stored events are decoded on every core, a window of frames at a
        // time; `Rows` events are expanded in order as they come.
        let decoded = |f: &FrameRef| -> Result<Vec<(Event, Take)>, LogError> {
            let id = self.parts[f.part].batch;
            let payload = self.payload(f)?;
            let mut out = Vec::new();
            for (enc, peek, take) in self.select(f, &payload, skip.as_deref(), expand)? {
                if matches!(take, Take::Stored) && !keep(enc) {
                    continue;
                }
                let mut e = batch::decode_in(&id, &f.frame, enc)?;
                e.seq = peek.seq;
                out.push((e, take));
            }
            Ok(out)
        };
        for window in frames.chunks(READ_WINDOW) {
            let got: Vec<Result<Vec<(Event, Take)>, LogError>> =
                window.par_iter().map(decoded).collect();
            for evs in got {
                for (e, take) in evs.map_err(|e| E::from(e.into()))? {
                    let Take::Rows(windows) = take else {
                        each(e)?;
                        continue;
                    };
                    let mut failed: Option<E> = None;
                    self.expand(&e, e.seq, windows.as_deref(), &mut |item| {
                        let Item::Made(made) = item else {
                            return Ok(true);
                        };
                        match each(*made) {
                            Ok(()) => Ok(true),
                            Err(err) => {
                                failed = Some(err);
                                Ok(false)
                            }
                        }
                    })
                    .map_err(|e| E::from(e.into()))?;
                    if let Some(err) = failed {
                        return Err(err);
                    }
                }
            }
        }
        Ok(())
    }

    /// Every event of the view, in order.
    pub fn each<E: From<LedgerIndexError>>(
        &self,
        each: &mut dyn FnMut(Event) -> Result<(), E>,
    ) -> Result<(), E> {
        self.read(&None, &|_| true, each)
    }

    /// Gives `each` the encoding of every event of the view that may
    /// concern `want`, in order, with its peeked header (its `seq` set);
    /// `each` returns `false` to stop.
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
            Some(first) => self.raw_frames(&self.frames_from_ref(first)?, each),
            None => Ok(()),
        }
    }

    /// The encoded events of `frames` but those the view skips (made
    /// events are encoded for the caller).
    fn raw_frames(
        &self,
        frames: &[FrameRef],
        each: &mut EachRaw<'_>,
    ) -> Result<(), LedgerIndexError> {
        self.items(frames, &mut |item| match item {
            Item::Stored(enc, p) => each(enc, &p),
            Item::Made(e) => {
                let enc = e.encode();
                let mut p = Peek::new(&enc).ok_or_else(|| LogError::Chain {
                    seq: e.seq,
                    detail: "a row event does not encode".into(),
                })?;
                p.seq = e.seq;
                each(&enc, &p)
            }
        })
    }

    /// The events of `frames` but those the view skips, decompressing the
    /// next window of frames on one core while the caller works through
    /// the current one on another.
    fn items(
        &self,
        frames: &[FrameRef],
        each: &mut dyn FnMut(Item<'_>) -> Result<bool, LogError>,
    ) -> Result<(), LedgerIndexError> {
        let skip = self.skipped()?;
        self.items_with(frames, skip.as_deref(), !self.stored_only, each)
    }

    /// [`LedgerView::items`] skipping `skip`, expanding `Rows` events when
    /// `expand`.
    fn items_with(
        &self,
        frames: &[FrameRef],
        skip: Option<&Voids>,
        expand: bool,
        each: &mut dyn FnMut(Item<'_>) -> Result<bool, LogError>,
    ) -> Result<(), LedgerIndexError> {
        use rayon::prelude::*;
        let load = |w: &[FrameRef]| -> Vec<Result<Vec<u8>, LogError>> {
            w.par_iter().map(|f| self.payload(f)).collect()
        };
        let windows: Vec<&[FrameRef]> = frames.chunks(READ_WINDOW).collect();
        let mut next = windows.first().map(|w| load(w));
        for (k, window) in windows.iter().enumerate() {
            let current = next.take().expect("loaded");
            let following = windows.get(k + 1);
            let (loaded, done) = std::thread::scope(|scope| {
                let loader = following.map(|w| scope.spawn(move || load(w)));
                let done = (|| -> Result<bool, LogError> {
                    for (f, payload) in window.iter().zip(current) {
                        if !self.frame_items(f, &payload?, skip, expand, each)? {
                            return Ok(true);
                        }
                    }
                    Ok(false)
                })();
                let loaded = loader.map(|h| h.join().expect("the frame loader does not panic"));
                (loaded, done)
            });
            if done? {
                return Ok(());
            }
            next = loaded;
        }
        Ok(())
    }

    /// What the view says of every example.
    pub fn states(&self) -> Result<IdMap<ExampleState>, LedgerIndexError> {
        let parts = self.fold_states(&Vec::new, &|v, id, st| v.push((id, st)))?;
        let mut states: IdMap<ExampleState> = Default::default();
        states.reserve(parts.iter().map(Vec::len).sum());
        states.extend(parts.into_iter().flatten());
        Ok(states)
    }

    /// Folds what the view says of every example it has events of — the
    /// fold of each example's events in ledger order, as
    /// [`LedgerView::states`] holds them — into accumulators made by
    /// `init`, without holding them all: `each` is given every example
    /// once, on any core, and the accumulators are returned, in no
    /// promised order (an accumulation must not depend on it).
    ///
    /// The rows a table's first `Rows` event adds are most of a table's
    /// examples and, in the common case, no later event touches them. The
    /// events other than those first ones that concern an example — the
    /// few the user recorded per example, and the later `Rows` events'
    /// rows, which are diffs — are gathered first, by example; then each
    /// first event's rows are folded as its expansion streams by (on every
    /// core when it adds the whole table), each with its example's gathered
    /// events before and after it; the examples left are folded last.
    pub fn fold_states<A: Send>(
        &self,
        init: &(dyn Fn() -> A + Sync),
        each: &(dyn Fn(&mut A, ExampleId, ExampleState) + Sync),
    ) -> Result<Vec<A>, LedgerIndexError> {
        let expand = !self.stored_only;
        // Pass 1, `Rows` events unexpanded: the first of each table kept
        // aside; every other event of an example gathered by example.
        let mut firsts: Vec<(u64, Box<super::TableRows>)> = Vec::new();
        let mut later_rows: Vec<(u64, Box<super::TableRows>)> = Vec::new();
        let mut others: IdMap<Vec<(u64, Payload)>> = Default::default();
        let mut tables: std::collections::HashSet<String> = Default::default();
        self.read_expanding(
            &None,
            &|_| true,
            &mut |e| {
                match (e.subject, e.payload) {
                    (_, Payload::Rows(r)) if expand => {
                        if tables.insert(r.table.clone()) {
                            firsts.push((e.seq, r));
                        } else {
                            later_rows.push((e.seq, r));
                        }
                    }
                    (Subject::Example(id), p) => others.entry(id).or_default().push((e.seq, p)),
                    _ => {}
                }
                Ok::<(), LedgerIndexError>(())
            },
            false,
        )?;
        let src = match firsts.first() {
            None => None,
            Some((_, r)) => Some(self.source.tables().ok_or_else(|| LogError::Rows {
                table: r.table.clone(),
                detail: "this reader cannot read row manifests".into(),
            })?),
        };
        for (seq, r) in &later_rows {
            let src = src.expect("a later Rows event follows a first");
            rows::expand(src, r, None, &mut |x, p| {
                others.entry(x).or_default().push((*seq, p))
            })?;
        }
        for evs in others.values_mut() {
            // Stable: one event's row payloads keep their order.
            evs.sort_by_key(|(seq, _)| *seq);
        }
        // An example of a first `Rows` event: its gathered events before
        // and after that event's `mine`.
        let state = |seq: u64, id: &ExampleId, mine: Vec<Payload>| {
            let mut st = ExampleState::default();
            match others.get(id) {
                None => mine.into_iter().for_each(|p| st.take(p)),
                Some(evs) => {
                    let at = evs.partition_point(|(s, _)| *s < seq);
                    evs[..at].iter().for_each(|(_, p)| st.apply(p));
                    mine.into_iter().for_each(|p| st.take(p));
                    evs[at..].iter().for_each(|(_, p)| st.apply(p));
                }
            }
            st
        };
        let mut out = vec![init()];
        let mut folded: Vec<ExampleId> = Vec::new();
        // Pass 2: each first `Rows` event's rows as they stream by.
        for (seq, r) in &firsts {
            let src = src.expect("read above");
            let par = rows::expand_added_par(
                src,
                r,
                &|| (init(), Vec::new()),
                &|(acc, hit): &mut (A, Vec<ExampleId>), id, mine| {
                    if others.contains_key(&id) {
                        hit.push(id);
                    }
                    each(acc, id, state(*seq, &id, mine));
                },
            )?;
            if let Some(parts) = par {
                for (acc, hit) in parts {
                    out.push(acc);
                    folded.extend(hit);
                }
                continue;
            }
            let acc = out.last_mut().expect("one made above");
            let mut current: Option<(ExampleId, Vec<Payload>)> = None;
            let mut fold = |id: ExampleId, mine: Vec<Payload>| {
                if others.contains_key(&id) {
                    folded.push(id);
                }
                each(acc, id, state(*seq, &id, mine));
            };
            rows::expand(src, r, None, &mut |x, p| match &mut current {
                Some((id, ps)) if *id == x => ps.push(p),
                _ => {
                    if let Some((id, ps)) = current.replace((x, vec![p])) {
                        fold(id, ps);
                    }
                }
            })?;
            if let Some((id, ps)) = current {
                fold(id, ps);
            }
        }
        // The examples no first `Rows` event holds.
        for id in &folded {
            others.remove(id);
        }
        let acc = out.first_mut().expect("made above");
        for (id, evs) in others {
            let mut st = ExampleState::default();
            evs.into_iter().for_each(|(_, p)| st.take(p));
            each(acc, id, st);
        }
        Ok(out)
    }

    /// What the view says of the examples added from `source`, in one pass
    /// that decodes their events alone: an example's first event is its
    /// addition, which names the source, and its later events lie after it.
    pub fn states_of_source(&self, source: &str) -> Result<IdMap<ExampleState>, LedgerIndexError> {
        let mut states: IdMap<ExampleState> = Default::default();
        let t = Term::Source(source).key();
        self.read_raw_since(&Some(vec![(t, t)]), &mut |raw, p| {
            let Some(id) = p.example_id() else {
                return Ok(true);
            };
            let wanted = (p.kind == EventKind::Added && p.source() == Some(source.as_bytes()))
                || states.contains_key(&id);
            if wanted {
                states
                    .entry(id)
                    .or_default()
                    .apply(&decode_raw(raw)?.payload);
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
        let ids: Vec<ObjectId> = self.parts.iter().map(|p| p.batch).collect();
        if ix.indexed(&ids)?.len() < ids.iter().collect::<std::collections::HashSet<_>>().len() {
            return Ok(false);
        }
        Ok(!ix
            .frames_of(&[Term::Annotated.key()])?
            .iter()
            .any(|(id, _, _)| ids.contains(id)))
    }

    /// The latest label and confidence of each row of `table` present in
    /// the view, in one pass over the raw events that decodes only the
    /// annotations of that table's rows.
    pub fn present_labels(&self, table: &str) -> Result<Vec<LatestLabel>, LedgerIndexError> {
        Ok(self
            .present_labels_where(&|l| Locator::is_row_of(l, table))?
            .into_values()
            .collect())
    }

    /// The latest label and confidence of every present example whose
    /// locator `keep` accepts, by example.
    pub fn present_labels_where(
        &self,
        keep: &(dyn Fn(&[u8]) -> bool + Sync),
    ) -> Result<IdMap<LatestLabel>, LedgerIndexError> {
        let mut m: IdMap<(bool, Option<String>, Option<f64>)> = Default::default();
        self.read_raw(&None, &mut |raw, p| {
            let Some(id) = p.example_id() else {
                return Ok(true);
            };
            match p.kind {
                EventKind::Added | EventKind::Removed if p.locator().is_some_and(keep) => {
                    m.entry(id).or_default().0 = p.kind == EventKind::Added;
                }
                EventKind::Annotated if m.contains_key(&id) => {
                    if let Payload::Annotated {
                        label, confidence, ..
                    } = decode_raw(raw)?.payload
                    {
                        let e = m.get_mut(&id).expect("checked");
                        (e.1, e.2) = (Some(label), confidence);
                    }
                }
                _ => {}
            }
            Ok(true)
        })?;
        Ok(m.into_iter()
            .filter(|(_, e)| e.0)
            .map(|(id, e)| (id, (e.1, e.2)))
            .collect())
    }

    /// Every locator the view has given an example, and the example.
    pub fn locators(&self) -> Result<HashMap<String, ExampleId>, LedgerIndexError> {
        let mut out = HashMap::new();
        self.read_raw(&None, &mut |raw, p| {
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

/// Decodes an event a raw read gave (its frame already checked).
fn decode_raw(raw: &[u8]) -> Result<Event, LogError> {
    Event::decode(raw).map_err(|super::event::EventDecodeError(d)| LogError::Chain {
        seq: 0,
        detail: format!("does not decode ({d})"),
    })
}
