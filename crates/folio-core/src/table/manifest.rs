//! Row manifests: every row of a table version, sorted by identity and cut
//! into content-defined chunks, so versions share unchanged chunks and a
//! diff reads only the chunks that differ.
//!
//! A manifest is a root object (`folio-table 1`) listing its chunks, and
//! chunk objects (`folio-rows 1`) holding rows: identity, content hash,
//! multiplicity and canonical encoding. Layouts are in docs/FORMAT.md.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::chunkset::ChunkSet;
use super::read::{ReadSummary, RowSink};
use super::spill::{Run, Sorted, Spill};
use super::{
    Cell, ColumnType, Format, TableError, encode_key, encode_row, read_table_checked, row_hash,
};
use crate::id::ObjectId;

/// First line of a manifest root.
pub const TABLE_TAG: &[u8] = b"folio-table 1\n";
/// First line of a chunk.
pub const CHUNK_TAG: &[u8] = b"folio-rows 1\n";
/// First line of a chunk's skeleton (D83): the identities, counts and
/// mapped metadata of a sealed chunk's rows, kept readable so history and
/// the ledger can be read without an identity.
pub const SKELETON_TAG: &[u8] = b"folio-rowids 1\n";
/// The cell of a skeleton row that holds the whole row's hash (so a
/// changed row is seen as changed without its cells).
pub const SKELETON_HASH_CELL: &str = "\u{0}row";
/// First line of a redacted chunk (D86): a row chunk some of whose rows
/// were purged, standing in for it under its id.
pub const REDACTED_TAG: &[u8] = b"folio-redacted 1\n";

/// Whether a row body is a skeleton's (mapped cells and the row's hash,
/// [`SKELETON_HASH_CELL`]) rather than the row: a purged row of a redacted
/// chunk, or any row of a skeleton. The hash cell's name sorts first.
pub fn is_skeletal(body: &[u8]) -> bool {
    body.len() >= 12
        && body[4..8] == (SKELETON_HASH_CELL.len() as u32).to_le_bytes()
        && &body[8..12] == SKELETON_HASH_CELL.as_bytes()
}

/// The content hash a row body stands for: its own hash, or for a
/// skeletal body the hash it carries.
pub fn content_hash_of(body: &[u8]) -> Option<[u8; 32]> {
    if !is_skeletal(body) {
        return Some(row_hash(body));
    }
    let cells = super::decode_row(body)?;
    let (_, cell) = cells.iter().find(|(n, _)| n == SKELETON_HASH_CELL)?;
    match cell {
        Cell::Text(t) => t.parse::<ObjectId>().ok().map(|o| o.0),
        _ => None,
    }
}

/// A chunk (plain, or redacted by an earlier purge) with the rows `purge`
/// selects replaced by skeleton rows keeping only `columns` (the mapped
/// metadata) and the row's hash (D86). `None` when no row is selected.
/// Returns the redacted chunk's id and bytes, and the content hashes of
/// the rows purged.
pub fn redact(
    id: ObjectId,
    bytes: &[u8],
    purge: &dyn Fn(&[u8]) -> bool,
    columns: &[String],
) -> Result<Option<RedactedChunk>, TableError> {
    let bad = |what: &str| TableError::Corrupt(id, what.to_string());
    let (keyed, original) = if let Some(r) = bytes.strip_prefix(CHUNK_TAG) {
        (r.first() == Some(&1), id)
    } else if let Some(r) = bytes.strip_prefix(REDACTED_TAG) {
        let orig = r.get(..32).ok_or_else(|| bad("truncated"))?;
        (
            r.get(32) == Some(&1),
            ObjectId::from_slice(orig).ok_or_else(|| bad("truncated"))?,
        )
    } else {
        return Err(bad("not a row chunk"));
    };
    let rows = decode_chunk(id, bytes)?;
    let mut purged = Vec::new();
    let mut out = REDACTED_TAG.to_vec();
    out.extend_from_slice(original.as_bytes());
    out.push(u8::from(keyed));
    out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
    for r in &rows {
        let skeletal = is_skeletal(&r.body);
        let erase = !skeletal && purge(&r.ident);
        out.extend_from_slice(&(r.ident.len() as u32).to_le_bytes());
        out.extend_from_slice(&r.ident);
        out.extend_from_slice(&r.count.to_le_bytes());
        out.push(u8::from(erase || skeletal));
        let body = if erase {
            let cells = super::decode_row(&r.body).ok_or_else(|| bad("a row does not decode"))?;
            let hash = row_hash(&r.body);
            purged.push(hash);
            let h = Cell::Text(ObjectId(hash).to_string());
            let mut kept: Vec<(&str, &Cell)> = cells
                .iter()
                .filter(|(n, _)| columns.iter().any(|c| c == n))
                .map(|(n, c)| (n.as_str(), c))
                .collect();
            kept.push((SKELETON_HASH_CELL, &h));
            encode_row(&mut kept)
        } else {
            r.body.clone()
        };
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
    }
    if purged.is_empty() {
        return Ok(None);
    }
    Ok(Some(RedactedChunk {
        id: ObjectId::of(&out),
        bytes: out,
        original,
        purged,
    }))
}

/// What [`redact`] made.
#[derive(Debug, Clone)]
pub struct RedactedChunk {
    /// The redacted chunk's own id (BLAKE3 of `bytes`).
    pub id: ObjectId,
    /// Its bytes (`folio-redacted 1`).
    pub bytes: Vec<u8>,
    /// The chunk it stands in for.
    pub original: ObjectId,
    /// The content hashes of the rows it purged now.
    pub purged: Vec<[u8; 32]>,
}
/// A chunk ends after a row whose identity hash is 63 modulo this (so
/// about this many rows a chunk), or at [`MAX_CHUNK_ROWS`].
const CHUNK_DIVISOR: u32 = 16;
const MAX_CHUNK_ROWS: usize = 1024;

/// How a table is read: its format, key and declared types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSettings {
    /// File format.
    pub format: Format,
    /// Key columns (empty: rows are identified by their content).
    pub key: Vec<String>,
    /// Declared column types.
    pub declared: BTreeMap<String, ColumnType>,
    /// Record bad rows instead of failing.
    pub lenient: bool,
}

/// One chunk of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkRef {
    /// The chunk object.
    pub id: crate::id::ChunkId,
    /// Distinct rows in it.
    pub rows: u32,
    /// The readable skeleton of a sealed chunk (D83).
    pub skeleton: Option<crate::id::ChunkId>,
}

/// A table version: schema, counts, rejected lines and chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The blob (file) the manifest describes.
    pub blob: ObjectId,
    /// How it was read.
    pub format: Format,
    /// Key columns.
    pub key: Vec<String>,
    /// Declared column types in force.
    pub declared: BTreeMap<String, ColumnType>,
    /// Columns in file order with their types.
    pub columns: Vec<(String, ColumnType)>,
    /// Rows read (counting duplicates).
    pub rows: u64,
    /// Rows that repeat an earlier row exactly (unkeyed tables only).
    pub duplicates: u64,
    /// Lines rejected in lenient mode: (line, reason).
    pub rejected: Vec<(u64, String)>,
    /// Chunks in identity order.
    pub chunks: Vec<ChunkRef>,
    /// The files of a sharded table in path order (D91; empty for a table
    /// of one file). `blob` is then their [`shard_set_id`].
    pub shards: Vec<ShardRef>,
}

/// One row of a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkRow {
    /// Key encoding, or the content hash for unkeyed tables.
    pub ident: Vec<u8>,
    /// How many times the row occurs.
    pub count: u32,
    /// Canonical encoding (see [`super::decode_row`]).
    pub body: Vec<u8>,
}

/// Rows held while a table is read: bytes in arena segments, records
/// pointing in. Segments of [`SEGMENT`] bytes are never moved once filled
/// (one growing arena was copied and faulted in afresh at every doubling:
/// a tenth of a large commit's time).
struct Collector<'a> {
    path: &'a Path,
    key: &'a [String],
    arena: Vec<Vec<u8>>,
    recs: Vec<Rec>,
    /// Where runs go past a budget (`None`: every row held in memory).
    spill: Option<&'a Spill>,
    /// Bytes held (rows and their records).
    held: usize,
    /// Rows read.
    rows: u64,
    /// Runs written.
    runs: Vec<Run>,
    /// Added to every row's line (a shard's index, [`SHARD_SHIFT`]).
    line_base: u64,
}

struct Rec {
    at: usize,
    ident_len: u32,
    body_len: u32,
    line: u64,
}

impl<'a> Collector<'a> {
    fn new(path: &'a Path, key: &'a [String], spill: Option<&'a Spill>, line_base: u64) -> Self {
        Collector {
            path,
            key,
            arena: Vec::new(),
            recs: Vec::new(),
            spill,
            held: 0,
            rows: 0,
            runs: Vec::new(),
            line_base,
        }
    }

    fn ident(&self, r: &Rec) -> &[u8] {
        let seg = &self.arena[r.at / SEGMENT];
        let at = r.at % SEGMENT;
        &seg[at..at + r.ident_len as usize]
    }

    /// Sorts the rows held by identity (then line).
    fn sort(&mut self) {
        let mut recs = std::mem::take(&mut self.recs);
        recs.sort_by(|a, b| self.ident(a).cmp(self.ident(b)).then(a.line.cmp(&b.line)));
        self.recs = recs;
    }

    /// Writes the rows held as a sorted run and lets them go.
    fn spill_run(&mut self, dir: &Path) -> Result<(), TableError> {
        self.sort();
        let run = Run::write(
            dir,
            self.recs
                .iter()
                .map(|r| (self.ident(r), self.body(r), r.line)),
        )?;
        self.runs.push(run);
        self.recs = Vec::new();
        self.arena = Vec::new();
        self.held = 0;
        Ok(())
    }

    fn body(&self, r: &Rec) -> &[u8] {
        let seg = &self.arena[r.at / SEGMENT];
        let s = r.at % SEGMENT + r.ident_len as usize;
        &seg[s..s + r.body_len as usize]
    }
}

impl RowSink for Collector<'_> {
    fn row(&mut self, line: u64, columns: &[String], cells: &[Cell]) -> Result<(), TableError> {
        let mut pairs: Vec<(&str, &Cell)> = columns
            .iter()
            .zip(cells.iter().chain(std::iter::repeat(&Cell::Null)))
            .map(|(n, c)| (n.as_str(), c))
            .collect();
        let mut key_cells = Vec::with_capacity(self.key.len());
        for k in self.key {
            let Some(i) = columns.iter().position(|c| c == k) else {
                return Err(TableError::UnknownKey {
                    path: self.path.to_path_buf(),
                    column: k.clone(),
                    columns: columns.join(", "),
                });
            };
            let v = cells.get(i).unwrap_or(&Cell::Null);
            if *v == Cell::Null {
                let reason = format!("the row has no value for key column '{k}'");
                return Err(TableError::bad(self.path, line, reason));
            }
            key_cells.push(v);
        }
        let body = encode_row(&mut pairs);
        // A keyed row is identified by its key: its content hash is only
        // computed where it is read.
        let ident = if self.key.is_empty() {
            row_hash(&body).to_vec()
        } else {
            encode_key(&key_cells)
        };
        // Whether a chunk ends after this row, computed here (on every
        // parsing thread) rather than in the sequential merge.
        let cut = if boundary(&ident, !self.key.is_empty()) {
            CUT
        } else {
            0
        };
        let need = ident.len() + body.len();
        let fits = self
            .arena
            .last()
            .is_some_and(|seg| seg.len() + need <= seg.capacity().min(SEGMENT));
        if !fits {
            // A row larger than a segment gets one of its own; its offset
            // still starts at the segment's first byte.
            self.arena.push(Vec::with_capacity(need.max(SEGMENT)));
        }
        let n = self.arena.len() - 1;
        let seg = self.arena.last_mut().expect("a segment");
        let at = n * SEGMENT + seg.len();
        seg.extend_from_slice(&ident);
        seg.extend_from_slice(&body);
        self.rows += 1;
        self.held += need + std::mem::size_of::<Rec>();
        self.recs.push(Rec {
            at,
            ident_len: ident.len() as u32,
            body_len: body.len() as u32,
            line: self.line_base | line | cut,
        });
        if let Some(sp) = self.spill
            && self.held >= sp.budget
        {
            self.spill_run(&sp.dir)?;
        }
        Ok(())
    }
}

/// Bytes of one arena segment of [`Collector`].
const SEGMENT: usize = 64 << 20;

fn boundary(ident: &[u8], keyed: bool) -> bool {
    let h = if keyed {
        *blake3::hash(ident).as_bytes()
    } else {
        // Unkeyed identities are already hashes.
        let mut h = [0u8; 32];
        h[..ident.len().min(32)].copy_from_slice(&ident[..ident.len().min(32)]);
        h
    };
    u32::from_le_bytes([h[0], h[1], h[2], h[3]]) % CHUNK_DIVISOR == CHUNK_DIVISOR - 1
}

/// Encoded chunks (skeletons) by id.
pub type Chunks = Vec<(ObjectId, Vec<u8>)>;

/// Reads the table at `path` (whose blob id is `blob`) and builds its
/// manifest and chunks, every row held in memory. Duplicate keys are an
/// error naming both lines.
pub fn build(
    path: &Path,
    blob: ObjectId,
    settings: &TableSettings,
) -> Result<(Manifest, ChunkSet), TableError> {
    build_with(path, blob, settings, None)
}

/// [`build`], spilling sorted runs of rows to `spill` past its budget and
/// merging them back (an external sort): the rows held in memory stay
/// under the budget whatever the table's size. The result is the same.
pub fn build_with(
    path: &Path,
    blob: ObjectId,
    settings: &TableSettings,
    spill: Option<&Spill>,
) -> Result<(Manifest, ChunkSet), TableError> {
    let large = std::fs::metadata(path).is_ok_and(|m| m.len() >= PARALLEL_BYTES);
    let workers = if large {
        rayon::current_num_threads().clamp(1, 8)
    } else {
        1
    };
    build_on(path, blob, settings, spill, workers)
}

/// A table file at least this large is parsed on several threads.
pub const PARALLEL_BYTES: u64 = 16 << 20;

/// [`build_with`] parsing the file on `workers` threads (CSV, TSV and
/// JSON Lines by batches of records, Parquet by row groups; one worker
/// reads on this thread). Each worker collects rows
/// within its share of the spill budget; the sorted merge makes the
/// result independent of which worker took which row.
pub fn build_on(
    path: &Path,
    blob: ObjectId,
    settings: &TableSettings,
    spill: Option<&Spill>,
    workers: usize,
) -> Result<(Manifest, ChunkSet), TableError> {
    let parallel = workers > 1;
    let share = spill.map(|sp| Spill {
        dir: sp.dir.clone(),
        budget: (sp.budget / workers.max(1)).max(1),
        stored: sp.stored.clone(),
    });
    // Parsed from the bytes the snapshot hashed, or refused.
    let (ReadSummary { columns, rejected }, collectors) = if parallel {
        let mut cs: Vec<Collector<'_>> = (0..workers)
            .map(|_| Collector::new(path, &settings.key, share.as_ref(), 0))
            .collect();
        let summary = super::read_parallel(
            path,
            settings.format,
            &settings.declared,
            settings.lenient,
            &mut cs,
            Some(blob),
        )?;
        (summary, cs)
    } else {
        let mut c = Collector::new(path, &settings.key, spill, 0);
        let summary = read_table_checked(
            path,
            settings.format,
            &settings.declared,
            settings.lenient,
            &mut c,
            Some(blob),
        )?;
        (summary, vec![c])
    };
    let rows = collectors.iter().map(|c| c.rows).sum();
    let (chunks, refs, duplicates) = group(collectors, &[path], settings, spill)?;
    let m = Manifest {
        blob,
        format: settings.format,
        key: settings.key.clone(),
        declared: settings.declared.clone(),
        columns,
        rows,
        duplicates,
        rejected,
        chunks: refs,
        shards: Vec::new(),
    };
    Ok((m, chunks))
}

/// One shard of a sharded table (D91) as a build reads it.
#[derive(Debug, Clone)]
pub struct ShardFile {
    /// Path from the repository's root.
    pub path: String,
    /// Absolute path.
    pub abs: std::path::PathBuf,
    /// Blob id of its content (what the snapshot hashed).
    pub blob: ObjectId,
}

/// One shard of a sharded table as its manifest records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardRef {
    /// Path from the repository's root.
    pub path: String,
    /// Blob id of its content.
    pub blob: ObjectId,
}

/// First bytes of the encoding whose BLAKE3 names a set of shards.
pub const SHARDS_TAG: &[u8] = b"folio-shards 1\n";

/// The id of a set of shards (D91): BLAKE3 of `folio-shards 1`, then per
/// shard in path order its blob id, path length (u32 LE) and path. It
/// stands as a sharded manifest's `blob`: same shards, same id.
pub fn shard_set_id(shards: &[ShardRef]) -> ObjectId {
    let mut sorted: Vec<&ShardRef> = shards.iter().collect();
    sorted.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let mut h = blake3::Hasher::new();
    h.update(SHARDS_TAG);
    for s in sorted {
        h.update(s.blob.as_bytes());
        h.update(&(s.path.len() as u32).to_le_bytes());
        h.update(s.path.as_bytes());
    }
    ObjectId(*h.finalize().as_bytes())
}

/// Shard index in the high bits of a row's line while shards are merged
/// (below [`CUT`]).
const SHARD_SHIFT: u32 = 40;
/// The top bit of a row's line while rows are sorted and merged: a chunk
/// ends after this row ([`boundary`] of its identity). Rows with one
/// identity have the same bit, so it never changes their order.
const CUT: u64 = 1 << 63;
/// The bits of a row's line that are its line.
const LINE_MASK: u64 = (1 << SHARD_SHIFT) - 1;

/// Builds one manifest from the rows of several files (D91): each shard
/// is read (in parallel, each from the bytes its blob names), and the
/// rows of all are sorted together by identity, so a row's identity does
/// not depend on the shard that holds it: a row moved between shards is
/// no change. Columns are the union in order of first appearance (shards
/// in path order), types joined; rejected lines name their shard. Memory
/// stays within `spill`'s budget overall: each shard read gets its share,
/// and a finished shard's rows past its share are spilled.
pub fn build_shards(
    shards: &[ShardFile],
    settings: &TableSettings,
    spill: Option<&Spill>,
) -> Result<(Manifest, ChunkSet), TableError> {
    use rayon::prelude::*;
    let mut shards: Vec<&ShardFile> = shards.iter().collect();
    shards.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    if shards.len() as u64 >= 1 << (63 - SHARD_SHIFT) {
        return Err(TableError::Unreadable {
            path: shards[0].abs.clone(),
            reason: format!(
                "a table of {} shards is more than folio reads",
                shards.len()
            ),
        });
    }
    let n = shards.len().max(1);
    let share = spill.map(|sp| Spill {
        dir: sp.dir.clone(),
        budget: (sp.budget / rayon::current_num_threads().min(n).max(1)).max(1),
        stored: sp.stored.clone(),
    });
    let keep = spill.map(|sp| (sp.budget / n).max(1));
    let read: Vec<(Collector<'_>, ReadSummary)> = shards
        .par_iter()
        .enumerate()
        .map(|(i, sh)| {
            let mut c = Collector::new(
                &sh.abs,
                &settings.key,
                share.as_ref(),
                (i as u64) << SHARD_SHIFT,
            );
            let summary = read_table_checked(
                &sh.abs,
                settings.format,
                &settings.declared,
                settings.lenient,
                &mut c,
                Some(sh.blob),
            )?;
            // A finished shard keeps only its share of the budget.
            if let (Some(sp), Some(keep)) = (share.as_ref(), keep)
                && c.held > keep
            {
                c.spill_run(&sp.dir)?;
            }
            Ok((c, summary))
        })
        .collect::<Result<_, TableError>>()?;
    let mut columns: Vec<(String, ColumnType)> = Vec::new();
    let mut rejected = Vec::new();
    let mut rows = 0;
    let mut collectors = Vec::with_capacity(read.len());
    for ((c, summary), sh) in read.into_iter().zip(&shards) {
        for (name, ty) in summary.columns {
            match columns.iter_mut().find(|(n, _)| *n == name) {
                Some((_, t)) => *t = settings.declared.get(&name).copied().unwrap_or(t.join(ty)),
                None => columns.push((name, ty)),
            }
        }
        let file = sh.path.rsplit('/').next().unwrap_or(&sh.path);
        rejected.extend(
            summary
                .rejected
                .into_iter()
                .map(|(line, why)| (line, format!("{file}: {why}"))),
        );
        rows += c.rows;
        collectors.push(c);
    }
    let names: Vec<&Path> = shards.iter().map(|s| s.abs.as_path()).collect();
    let (chunks, refs, duplicates) = group(collectors, &names, settings, spill)?;
    let refs_of: Vec<ShardRef> = shards
        .iter()
        .map(|s| ShardRef {
            path: s.path.clone(),
            blob: s.blob,
        })
        .collect();
    let m = Manifest {
        blob: shard_set_id(&refs_of),
        format: settings.format,
        key: settings.key.clone(),
        declared: settings.declared.clone(),
        columns,
        rows,
        duplicates,
        rejected,
        chunks: refs,
        shards: refs_of,
    };
    Ok((m, chunks))
}

/// The rows of `collectors` (runs on disk and rows held) in identity
/// order, grouped and cut into chunks. `names[i]` is the file whose rows
/// carry shard index `i` in their lines.
fn group(
    mut collectors: Vec<Collector<'_>>,
    names: &[&Path],
    settings: &TableSettings,
    spill: Option<&Spill>,
) -> Result<(ChunkSet, Vec<ChunkRef>, u64), TableError> {
    let keyed = !settings.key.is_empty();
    // Once any rows went to disk, the rows still held go too: they would
    // otherwise stay in memory beside the chunks filling up (a budget's
    // worth more at the peak).
    if let Some(sp) = spill
        && collectors.iter().any(|c| !c.runs.is_empty())
    {
        for c in collectors.iter_mut().filter(|c| !c.recs.is_empty()) {
            c.spill_run(&sp.dir)?;
        }
    }
    // New chunks past the budget wait in a spool file too.
    let set = ChunkSet::skipping(
        spill.map(|sp| (sp.dir.clone(), sp.budget)),
        spill.and_then(|sp| sp.stored.clone()),
    );
    let mut g = Grouper::new(names, keyed, set);
    if collectors.len() == 1 && collectors[0].runs.is_empty() {
        let c = &mut collectors[0];
        c.sort();
        for r in &c.recs {
            g.push(c.ident(r), c.body(r), r.line)?;
        }
    } else {
        let mut sources: Vec<Box<dyn Sorted + '_>> = Vec::new();
        for c in &mut collectors {
            c.sort();
            for run in std::mem::take(&mut c.runs) {
                sources.push(Box::new(run));
            }
        }
        for c in &collectors {
            if !c.recs.is_empty() {
                sources.push(Box::new(Held { c, at: 0 }));
            }
        }
        super::spill::merge(&mut sources, &mut |ident, body, line| {
            g.push(ident, body, line)
        })?;
    }
    g.finish()
}

/// A collector's rows held in memory, sorted, as a merge source.
struct Held<'c, 'a> {
    c: &'c Collector<'a>,
    at: usize,
}

impl Sorted for Held<'_, '_> {
    fn advance(&mut self, ident: &mut Vec<u8>) -> Result<Option<u64>, TableError> {
        let Some(r) = self.c.recs.get(self.at) else {
            return Ok(None);
        };
        self.at += 1;
        ident.clear();
        ident.extend_from_slice(self.c.ident(r));
        Ok(Some(r.line))
    }

    fn body(&self) -> &[u8] {
        // The row moved to is the one before `at`.
        self.c.body(&self.c.recs[self.at - 1])
    }
}

/// A row's identity and body buffers, given back for reuse.
type Buffers = (Vec<u8>, Vec<u8>);

/// Rows in identity order grouped into distinct rows with their counts
/// and cut into chunks.
struct Grouper<'a> {
    /// The file of each shard index (one for a plain table).
    names: &'a [&'a Path],
    keyed: bool,
    /// The row waiting for its count: identity, body, first line.
    prev: Option<(Vec<u8>, Vec<u8>, u64)>,
    count: u32,
    cur: Vec<u8>,
    cur_rows: u32,
    duplicates: u64,
    chunks: ChunkSet,
    refs: Vec<ChunkRef>,
}

impl<'a> Grouper<'a> {
    fn new(names: &'a [&'a Path], keyed: bool, chunks: ChunkSet) -> Self {
        Grouper {
            names,
            keyed,
            prev: None,
            count: 0,
            cur: Vec::new(),
            cur_rows: 0,
            duplicates: 0,
            chunks,
            refs: Vec::new(),
        }
    }

    /// The next row in identity order (then line order).
    fn push(&mut self, ident: &[u8], body: &[u8], line: u64) -> Result<(), TableError> {
        if let Some((pi, _, first)) = &self.prev
            && pi.as_slice() == ident
        {
            if self.keyed {
                let mask = LINE_MASK;
                let file = |l: u64| {
                    let i = usize::try_from((l & !CUT) >> SHARD_SHIFT).unwrap_or(usize::MAX);
                    self.names.get(i).copied().unwrap_or(self.names[0])
                };
                let (a, b) = (file(*first), file(line));
                let key = super::display_key(ident);
                if a == b {
                    return Err(TableError::DuplicateKey {
                        path: a.to_path_buf(),
                        key,
                        first: *first & mask,
                        second: line & mask,
                    });
                }
                return Err(TableError::DuplicateKeyAcross {
                    key,
                    first: (a.to_path_buf(), *first & mask),
                    second: (b.to_path_buf(), line & mask),
                });
            }
            self.count += 1;
            return Ok(());
        }
        let reuse = self.emit()?;
        let (mut i, mut b) = reuse.unwrap_or_default();
        i.clear();
        i.extend_from_slice(ident);
        b.clear();
        b.extend_from_slice(body);
        self.prev = Some((i, b, line));
        self.count = 1;
        Ok(())
    }

    /// Writes the waiting row; gives its buffers back for reuse.
    fn emit(&mut self) -> Result<Option<Buffers>, TableError> {
        let Some((ident, body, line)) = self.prev.take() else {
            return Ok(None);
        };
        self.duplicates += u64::from(self.count - 1);
        put_row(
            &mut self.cur,
            self.keyed.then_some(ident.as_slice()),
            self.count,
            &body,
        );
        self.cur_rows += 1;
        if line & CUT != 0 || self.cur_rows as usize >= MAX_CHUNK_ROWS {
            self.cut()?;
        }
        Ok(Some((ident, body)))
    }

    /// Ends the chunk being filled.
    fn cut(&mut self) -> Result<(), TableError> {
        flush(
            self.keyed,
            &mut self.cur,
            &mut self.cur_rows,
            &mut self.chunks,
            &mut self.refs,
        )
    }

    fn finish(mut self) -> Result<(ChunkSet, Vec<ChunkRef>, u64), TableError> {
        self.emit()?;
        self.cut()?;
        self.chunks.done()?;
        Ok((self.chunks, self.refs, self.duplicates))
    }
}

/// Appends one row. Keyed rows carry their key; an unkeyed row's identity
/// and every row's content hash are recomputed from the body on reading,
/// so chunks hold no incompressible hashes.
fn put_row(out: &mut Vec<u8>, ident: Option<&[u8]>, count: u32, body: &[u8]) {
    if let Some(ident) = ident {
        out.extend_from_slice(&(ident.len() as u32).to_le_bytes());
        out.extend_from_slice(ident);
    }
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
}

fn flush(
    keyed: bool,
    cur: &mut Vec<u8>,
    rows: &mut u32,
    chunks: &mut ChunkSet,
    refs: &mut Vec<ChunkRef>,
) -> Result<(), TableError> {
    if *rows == 0 {
        return Ok(());
    }
    let mut bytes = Vec::with_capacity(CHUNK_TAG.len() + 5 + cur.len());
    bytes.extend_from_slice(CHUNK_TAG);
    bytes.push(u8::from(keyed));
    bytes.extend_from_slice(&rows.to_le_bytes());
    bytes.append(cur);
    let id = ObjectId::of(&bytes);
    refs.push(ChunkRef {
        id: crate::id::ChunkId(id),
        rows: *rows,
        skeleton: None,
    });
    chunks.push(id, &bytes)?;
    *rows = 0;
    Ok(())
}

/// The skeleton of a chunk (D83): each row's identity and count, and as
/// its body the cells of `columns` (the mapped metadata columns, which the
/// ledger reads) with the whole row's hash in [`SKELETON_HASH_CELL`].
/// Returns its id and bytes.
pub fn skeleton(
    id: ObjectId,
    chunk: &[u8],
    columns: &[String],
) -> Result<(ObjectId, Vec<u8>), TableError> {
    let out = reshape(id, chunk, &|n| columns.iter().any(|c| c == n))?;
    Ok((ObjectId::of(&out), out))
}

/// A chunk or a skeleton reduced to what both can give: each row's
/// identity and count, its body only the row's hash. Rows compare equal
/// exactly when the rows they stand for are equal, so a diff of two such
/// sides counts what changed without any cell (D83).
pub fn identities_only(id: ObjectId, bytes: &[u8]) -> Result<Vec<u8>, TableError> {
    reshape(id, bytes, &|n| n == SKELETON_HASH_CELL)
}

/// A chunk or a skeleton rewritten as a skeleton keeping the cells `keep`
/// accepts, plus the row's hash: computed from a chunk's body, carried
/// over (when kept) from a skeleton's.
fn reshape(id: ObjectId, bytes: &[u8], keep: &dyn Fn(&str) -> bool) -> Result<Vec<u8>, TableError> {
    let keyed = if bytes.starts_with(CHUNK_TAG) {
        bytes.get(CHUNK_TAG.len()) == Some(&1)
    } else if bytes.starts_with(REDACTED_TAG) {
        bytes.get(REDACTED_TAG.len() + 32) == Some(&1)
    } else {
        bytes.get(SKELETON_TAG.len()) == Some(&1)
    };
    let rows = decode_chunk(id, bytes)?;
    let mut out = SKELETON_TAG.to_vec();
    out.push(u8::from(keyed));
    out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
    for r in &rows {
        let cells = super::decode_row(&r.body)
            .ok_or_else(|| TableError::Corrupt(id, "a row does not decode".into()))?;
        // A row's own body gets its hash computed; a skeletal one (a
        // skeleton's, a purged row's) carries it.
        let plain = !is_skeletal(&r.body);
        let hash = plain.then(|| super::Cell::Text(ObjectId(super::row_hash(&r.body)).to_string()));
        let mut kept: Vec<(&str, &super::Cell)> = cells
            .iter()
            // A chunk's own cells never stand in for the hash cell.
            .filter(|(n, _)| keep(n) && !(plain && n == SKELETON_HASH_CELL))
            .map(|(n, c)| (n.as_str(), c))
            .collect();
        if let Some(h) = &hash {
            kept.push((SKELETON_HASH_CELL, h));
        }
        put_row(
            &mut out,
            Some(&r.ident),
            r.count,
            &super::encode_row(&mut kept),
        );
    }
    Ok(out)
}

/// Decodes a chunk, or a chunk's skeleton ([`skeleton`]).
pub fn decode_chunk(id: ObjectId, bytes: &[u8]) -> Result<Vec<ChunkRow>, TableError> {
    let bad = |what: &str| TableError::Corrupt(id, what.to_string());
    let (mut r, skeletal, redacted) = match bytes.strip_prefix(CHUNK_TAG) {
        Some(r) => (r, false, false),
        None => match bytes.strip_prefix(REDACTED_TAG) {
            Some(r) => (r.get(32..).ok_or_else(|| bad("truncated"))?, true, true),
            None => (
                bytes
                    .strip_prefix(SKELETON_TAG)
                    .ok_or_else(|| bad("not a row chunk"))?,
                true,
                false,
            ),
        },
    };
    let keyed = match super::take(&mut r, 1).ok_or_else(|| bad("truncated"))? {
        [0] => false,
        [1] => true,
        _ => return Err(bad("bad keyed flag")),
    };
    // A skeleton names every row's identity (its body is not the row).
    let keyed = keyed || skeletal;
    let n = super::take_u32(&mut r).ok_or_else(|| bad("truncated"))?;
    // A row takes at least 8 bytes: a forged count reserves no more.
    let mut out = Vec::with_capacity((n as usize).min(r.len() / 8));
    for _ in 0..n {
        let key = if keyed {
            let il = super::take_u32(&mut r).ok_or_else(|| bad("truncated"))? as usize;
            Some(
                super::take(&mut r, il)
                    .ok_or_else(|| bad("truncated"))?
                    .to_vec(),
            )
        } else {
            None
        };
        let count = super::take_u32(&mut r).ok_or_else(|| bad("truncated"))?;
        // A redacted chunk marks each purged row (its body a skeleton's).
        let purged = if redacted {
            match super::take(&mut r, 1).ok_or_else(|| bad("truncated"))? {
                [0] => false,
                [1] => true,
                _ => return Err(bad("bad purged flag")),
            }
        } else {
            false
        };
        let bl = super::take_u32(&mut r).ok_or_else(|| bad("truncated"))? as usize;
        let body = super::take(&mut r, bl)
            .ok_or_else(|| bad("truncated"))?
            .to_vec();
        if redacted && purged != is_skeletal(&body) {
            return Err(bad("a row's purged flag disagrees with its body"));
        }
        // An unkeyed row's identity is its content hash, recomputed here.
        let ident = key.unwrap_or_else(|| row_hash(&body).to_vec());
        out.push(ChunkRow { ident, count, body });
    }
    if !r.is_empty() {
        return Err(bad("trailing bytes"));
    }
    Ok(out)
}

mod field {
    pub const BLOB: u8 = 1;
    pub const FORMAT: u8 = 2;
    pub const KEY: u8 = 3;
    pub const DECLARED: u8 = 4;
    pub const COLUMN: u8 = 5;
    pub const ROWS: u8 = 6;
    pub const DUPLICATES: u8 = 7;
    pub const REJECTED: u8 = 8;
    pub const CHUNK: u8 = 9;
    pub const SHARD: u8 = 10;
}

fn put(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
}

impl Manifest {
    /// The canonical encoding of the root.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = TABLE_TAG.to_vec();
        put(&mut out, field::BLOB, self.blob.as_bytes());
        put(&mut out, field::FORMAT, &[self.format.code()]);
        for k in &self.key {
            put(&mut out, field::KEY, k.as_bytes());
        }
        for (name, ty) in &self.declared {
            let mut v = vec![ty.code()];
            v.extend_from_slice(name.as_bytes());
            put(&mut out, field::DECLARED, &v);
        }
        for (name, ty) in &self.columns {
            let mut v = vec![ty.code()];
            v.extend_from_slice(name.as_bytes());
            put(&mut out, field::COLUMN, &v);
        }
        put(&mut out, field::ROWS, &self.rows.to_le_bytes());
        put(&mut out, field::DUPLICATES, &self.duplicates.to_le_bytes());
        for (line, reason) in &self.rejected {
            let mut v = line.to_le_bytes().to_vec();
            v.extend_from_slice(reason.as_bytes());
            put(&mut out, field::REJECTED, &v);
        }
        for c in &self.chunks {
            let mut v = c.id.0.as_bytes().to_vec();
            v.extend_from_slice(&c.rows.to_le_bytes());
            // A skeleton follows its chunk's count (a plain chunk's field
            // is as before: old manifests keep their ids).
            if let Some(s) = c.skeleton {
                v.extend_from_slice(s.0.as_bytes());
            }
            put(&mut out, field::CHUNK, &v);
        }
        for sh in &self.shards {
            let mut v = sh.blob.as_bytes().to_vec();
            v.extend_from_slice(sh.path.as_bytes());
            put(&mut out, field::SHARD, &v);
        }
        out
    }

    /// The id of the encoded root.
    pub fn id(&self) -> crate::id::ManifestId {
        crate::id::ManifestId(ObjectId::of(&self.encode()))
    }

    /// Decodes a root.
    pub fn decode(id: ObjectId, bytes: &[u8]) -> Result<Manifest, TableError> {
        let bad = |what: &str| TableError::Corrupt(id, what.to_string());
        let mut r = bytes
            .strip_prefix(TABLE_TAG)
            .ok_or_else(|| bad("not a table manifest"))?;
        let mut m = Manifest {
            blob: ObjectId([0; 32]),
            format: Format::Csv,
            key: Vec::new(),
            declared: BTreeMap::new(),
            columns: Vec::new(),
            rows: 0,
            duplicates: 0,
            rejected: Vec::new(),
            chunks: Vec::new(),
            shards: Vec::new(),
        };
        let text = |v: &[u8]| String::from_utf8(v.to_vec()).map_err(|_| bad("text is not UTF-8"));
        let typed = |v: &[u8]| -> Result<(String, ColumnType), TableError> {
            let (t, name) = v.split_first().ok_or_else(|| bad("empty column field"))?;
            let ty = ColumnType::from_code(*t).ok_or_else(|| bad("unknown column type"))?;
            Ok((text(name)?, ty))
        };
        let u64_of = |v: &[u8]| -> Result<u64, TableError> {
            Ok(u64::from_le_bytes(
                v.try_into().map_err(|_| bad("bad number"))?,
            ))
        };
        while !r.is_empty() {
            let tag = *super::take(&mut r, 1)
                .ok_or_else(|| bad("truncated"))?
                .first()
                .expect("1");
            let len = super::take_u32(&mut r).ok_or_else(|| bad("truncated"))? as usize;
            let v = super::take(&mut r, len).ok_or_else(|| bad("truncated"))?;
            match tag {
                field::BLOB => {
                    m.blob = ObjectId::from_slice(v).ok_or_else(|| bad("bad blob id"))?
                }
                field::FORMAT => {
                    m.format = v
                        .first()
                        .and_then(|c| Format::from_code(*c))
                        .ok_or_else(|| bad("unknown format"))?
                }
                field::KEY => m.key.push(text(v)?),
                field::DECLARED => {
                    let (n, t) = typed(v)?;
                    m.declared.insert(n, t);
                }
                field::COLUMN => m.columns.push(typed(v)?),
                field::ROWS => m.rows = u64_of(v)?,
                field::DUPLICATES => m.duplicates = u64_of(v)?,
                field::REJECTED => {
                    if v.len() < 8 {
                        return Err(bad("short rejected-line field"));
                    }
                    m.rejected.push((u64_of(&v[..8])?, text(&v[8..])?));
                }
                field::CHUNK => {
                    if v.len() != 36 && v.len() != 68 {
                        return Err(bad("bad chunk field"));
                    }
                    let id = crate::id::ChunkId(ObjectId::from_slice(&v[..32]).expect("32 bytes"));
                    let rows = u32::from_le_bytes(v[32..36].try_into().expect("4 bytes"));
                    let skeleton = v
                        .get(36..)
                        .and_then(ObjectId::from_slice)
                        .map(crate::id::ChunkId);
                    m.chunks.push(ChunkRef { id, rows, skeleton });
                }
                field::SHARD => {
                    let blob = v
                        .get(..32)
                        .and_then(ObjectId::from_slice)
                        .ok_or_else(|| bad("short shard field"))?;
                    let path = text(&v[32..])?;
                    if !crate::object::valid_path(&path)
                        || m.shards
                            .last()
                            .is_some_and(|l| l.path.as_bytes() >= path.as_bytes())
                    {
                        return Err(bad("shard paths are not valid paths in order"));
                    }
                    m.shards.push(ShardRef { path, blob });
                }
                _ => return Err(bad("unknown field")),
            }
        }
        if !m.shards.is_empty() && m.blob != shard_set_id(&m.shards) {
            return Err(bad("the blob is not the id of the shards listed"));
        }
        Ok(m)
    }

    /// The settings this manifest was built with (lenient is not recorded
    /// as a setting: rejected lines show it).
    pub fn same_settings(&self, s: &TableSettings) -> bool {
        self.format == s.format && self.key == s.key && self.declared == s.declared
    }

    /// The blobs of the files this manifest was built from: its shards',
    /// or its one file's.
    pub fn blobs(&self) -> Vec<(ObjectId, Option<&str>)> {
        if self.shards.is_empty() {
            vec![(self.blob, None)]
        } else {
            self.shards
                .iter()
                .map(|s| (s.blob, Some(s.path.as_str())))
                .collect()
        }
    }

    /// Distinct rows.
    pub fn distinct_rows(&self) -> u64 {
        self.chunks.iter().map(|c| u64::from(c.rows)).sum()
    }
}

/// Where chunks are read from.
pub trait ChunkSource {
    /// The encoded chunk with this id.
    fn chunk(&self, id: &ObjectId) -> Result<Vec<u8>, TableError>;
}

/// A source borrowed.
impl<T: ChunkSource + ?Sized> ChunkSource for &T {
    fn chunk(&self, id: &ObjectId) -> Result<Vec<u8>, TableError> {
        (**self).chunk(id)
    }
}

/// Chunks borrowed from memory (a table being committed).
impl ChunkSource for HashMap<ObjectId, &[u8]> {
    fn chunk(&self, id: &ObjectId) -> Result<Vec<u8>, TableError> {
        self.get(id)
            .map(|b| b.to_vec())
            .ok_or_else(|| TableError::Corrupt(*id, "chunk missing".into()))
    }
}

/// Chunks held in memory (a working-tree table not yet stored).
impl ChunkSource for HashMap<ObjectId, Vec<u8>> {
    fn chunk(&self, id: &ObjectId) -> Result<Vec<u8>, TableError> {
        self.get(id)
            .cloned()
            .ok_or_else(|| TableError::Corrupt(*id, "chunk missing".into()))
    }
}

/// What happened to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowChangeKind {
    /// Only in the new version.
    Added,
    /// Only in the old version.
    Removed,
    /// Same identity, different content (keyed tables).
    Modified,
}

/// One changed row.
#[derive(Debug, Clone)]
pub struct RowChange {
    /// What happened.
    pub kind: RowChangeKind,
    /// The identity.
    pub ident: Vec<u8>,
    /// How many rows (more than 1 for repeated unkeyed rows).
    pub count: u32,
    /// The old canonical row, if any.
    pub old: Option<Vec<u8>>,
    /// The new canonical row, if any.
    pub new: Option<Vec<u8>>,
}

/// Row-level differences between two versions of a table.
#[derive(Debug, Clone, Default)]
pub struct RowDiff {
    /// Rows added.
    pub added: u64,
    /// Rows removed.
    pub removed: u64,
    /// Rows modified.
    pub modified: u64,
    /// Rows in chunks that were skipped because they are shared.
    pub unchanged_chunks: u64,
    /// Changed rows in identity order, up to the requested limit.
    pub changes: Vec<RowChange>,
}

struct Cursor<'a> {
    chunks: &'a [ChunkRef],
    src: &'a dyn ChunkSource,
    ci: usize,
    rows: Vec<ChunkRow>,
    ri: usize,
}

impl<'a> Cursor<'a> {
    fn new(chunks: &'a [ChunkRef], src: &'a dyn ChunkSource) -> Self {
        Cursor {
            chunks,
            src,
            ci: 0,
            rows: Vec::new(),
            ri: 0,
        }
    }

    fn at_chunk_start(&self) -> bool {
        self.rows.is_empty()
    }

    fn chunk_id(&self) -> Option<ObjectId> {
        self.chunks.get(self.ci).map(|c| c.id.0)
    }

    fn skip_chunk(&mut self) {
        self.ci += 1;
    }

    fn peek(&mut self) -> Result<Option<&ChunkRow>, TableError> {
        if self.rows.is_empty() {
            let Some(c) = self.chunks.get(self.ci) else {
                return Ok(None);
            };
            self.rows = decode_chunk(c.id.0, &self.src.chunk(&c.id.0)?)?;
            self.ri = 0;
        }
        Ok(self.rows.get(self.ri))
    }

    fn advance(&mut self) -> ChunkRow {
        let row = std::mem::replace(
            &mut self.rows[self.ri],
            ChunkRow {
                ident: Vec::new(),
                count: 0,
                body: Vec::new(),
            },
        );
        self.ri += 1;
        if self.ri == self.rows.len() {
            self.rows.clear();
            self.ci += 1;
        }
        row
    }
}

/// Walks the differences of two versions of a table (either may be
/// absent), reading only chunks that are not shared. `each` receives the
/// kind, the old and new rows (as present) and how many rows changed.
/// Returns the number of shared chunks skipped.
pub fn diff_each(
    old: Option<(&Manifest, &dyn ChunkSource)>,
    new: Option<(&Manifest, &dyn ChunkSource)>,
    each: &mut dyn FnMut(RowChangeKind, Option<ChunkRow>, Option<ChunkRow>, u32),
) -> Result<u64, TableError> {
    let none: HashMap<ObjectId, Vec<u8>> = HashMap::new();
    let empty = (&[][..], &none as &dyn ChunkSource);
    let old = old.map_or(empty, |(m, s)| (&m.chunks[..], s));
    let new = new.map_or(empty, |(m, s)| (&m.chunks[..], s));
    diff_chunks(old, new, &mut |_, _| {}, each)
}

/// A run of a manifest's chunks and where they are read.
pub type Chunked<'a> = (&'a [ChunkRef], &'a dyn ChunkSource);

/// [`diff_each`] over runs of chunks (a whole manifest's, or a stretch of
/// it), also telling `sync` each point where both walks stand at the start
/// of a chunk (old chunk number, new chunk number, counted in the runs
/// given), the last at the ends. The changes between two such points are
/// those of the old chunks between them against the new chunks between
/// them, diffed alone: the walks meet there, so no row on one side pairs
/// with a row outside.
pub fn diff_chunks(
    (oc, os): Chunked<'_>,
    (nc, ns): Chunked<'_>,
    sync: &mut dyn FnMut(usize, usize),
    each: &mut dyn FnMut(RowChangeKind, Option<ChunkRow>, Option<ChunkRow>, u32),
) -> Result<u64, TableError> {
    let mut a = Cursor::new(oc, os);
    let mut b = Cursor::new(nc, ns);
    let mut skipped = 0;
    loop {
        if a.at_chunk_start() && b.at_chunk_start() {
            sync(a.ci, b.ci);
        }
        if a.at_chunk_start()
            && b.at_chunk_start()
            && let (Some(x), Some(y)) = (a.chunk_id(), b.chunk_id())
            && x == y
        {
            a.skip_chunk();
            b.skip_chunk();
            skipped += 1;
            continue;
        }
        let order = match (a.peek()?, b.peek()?) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => x.ident.cmp(&y.ident),
        };
        match order {
            std::cmp::Ordering::Less => {
                let r = a.advance();
                let n = r.count;
                each(RowChangeKind::Removed, Some(r), None, n);
            }
            std::cmp::Ordering::Greater => {
                let r = b.advance();
                let n = r.count;
                each(RowChangeKind::Added, None, Some(r), n);
            }
            std::cmp::Ordering::Equal => {
                let (x, y) = (a.advance(), b.advance());
                // Equal canonical bodies are equal contents.
                if x.body != y.body {
                    each(RowChangeKind::Modified, Some(x), Some(y), 1);
                } else if y.count > x.count {
                    // A repeated unkeyed row occurs more or fewer times.
                    let n = y.count - x.count;
                    each(RowChangeKind::Added, Some(x), Some(y), n);
                } else if x.count > y.count {
                    let n = x.count - y.count;
                    each(RowChangeKind::Removed, Some(x), Some(y), n);
                }
            }
        }
    }
    Ok(skipped)
}

/// Compares two versions of a table (either may be absent), reading only
/// chunks that are not shared. Keeps at most `limit` row changes.
pub fn diff(
    old: Option<(&Manifest, &dyn ChunkSource)>,
    new: Option<(&Manifest, &dyn ChunkSource)>,
    limit: Option<usize>,
) -> Result<RowDiff, TableError> {
    let mut d = RowDiff::default();
    d.unchanged_chunks = diff_each(old, new, &mut |kind, x, y, n| {
        match kind {
            RowChangeKind::Added => d.added += u64::from(n),
            RowChangeKind::Removed => d.removed += u64::from(n),
            RowChangeKind::Modified => d.modified += 1,
        }
        if limit.is_none_or(|l| d.changes.len() < l) {
            let ident = x
                .as_ref()
                .or(y.as_ref())
                .map(|r| r.ident.clone())
                .unwrap_or_default();
            d.changes.push(RowChange {
                kind,
                count: n,
                ident,
                old: x.map(|r| r.body),
                new: y.map(|r| r.body),
            });
        }
    })?;
    Ok(d)
}

/// A changed cell of a modified row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CellChange {
    /// The column.
    pub column: String,
    /// The old value (`None` when null).
    pub old: Option<String>,
    /// The new value (`None` when null).
    pub new: Option<String>,
}

/// The cells that differ between two canonical rows.
pub fn cell_changes(old: &[u8], new: &[u8]) -> Vec<CellChange> {
    let a: BTreeMap<String, Cell> = super::decode_row(old)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let b: BTreeMap<String, Cell> = super::decode_row(new)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    let show = |c: Option<&Cell>| c.map(Cell::display);
    names
        .into_iter()
        .filter(|n| a.get(*n) != b.get(*n))
        .map(|n| CellChange {
            column: n.clone(),
            old: show(a.get(n)),
            new: show(b.get(n)),
        })
        .collect()
}

/// A difference in schema.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum SchemaChange {
    /// A new column.
    ColumnAdded {
        /// Its name.
        column: String,
        /// Its type.
        #[serde(rename = "type")]
        ty: ColumnType,
    },
    /// A column that is gone.
    ColumnRemoved {
        /// Its name.
        column: String,
        /// Its type.
        #[serde(rename = "type")]
        ty: ColumnType,
    },
    /// A column whose type changed.
    TypeChanged {
        /// Its name.
        column: String,
        /// Old type.
        old: ColumnType,
        /// New type.
        new: ColumnType,
    },
}

/// Schema changes between two column lists.
pub fn schema_changes(
    old: &[(String, ColumnType)],
    new: &[(String, ColumnType)],
) -> Vec<SchemaChange> {
    let mut out = Vec::new();
    for (n, t) in new {
        match old.iter().find(|(o, _)| o == n) {
            None => out.push(SchemaChange::ColumnAdded {
                column: n.clone(),
                ty: *t,
            }),
            Some((_, ot)) if ot != t => out.push(SchemaChange::TypeChanged {
                column: n.clone(),
                old: *ot,
                new: *t,
            }),
            _ => {}
        }
    }
    for (n, t) in old {
        if !new.iter().any(|(x, _)| x == n) {
            out.push(SchemaChange::ColumnRemoved {
                column: n.clone(),
                ty: *t,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing is left under the spill folder `dir/tmp`.
    fn no_runs_left(dir: &Path) -> Result<(), proptest::test_runner::TestCaseError> {
        let left = std::fs::read_dir(dir.join("tmp")).map_or(0, |r| r.count());
        proptest::prop_assert_eq!(left, 0);
        Ok(())
    }

    /// Two builds of one table agree: the same manifest and chunks, or
    /// the same error.
    fn same_build(
        a: Result<(Manifest, ChunkSet), TableError>,
        b: Result<(Manifest, ChunkSet), TableError>,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        match (a, b) {
            (Ok(a), Ok(b)) => {
                proptest::prop_assert_eq!(&a.0, &b.0);
                proptest::prop_assert_eq!(a.1.to_vec().expect("read"), b.1.to_vec().expect("read"));
            }
            (Err(a), Err(b)) => proptest::prop_assert_eq!(a.to_string(), b.to_string()),
            (a, b) => proptest::prop_assert!(false, "{a:?} vs {b:?}"),
        }
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// An external sort (runs spilled past a tiny budget, merged)
        /// gives the same manifest and chunks as sorting in memory — or
        /// the same error, naming the same lines — on random tables,
        /// keyed and not, with repeated rows and keys.
        #[test]
        fn spilled_builds_equal_in_memory_builds(
            rows in proptest::collection::vec((0u16..60, 0u8..4, "[a-c]{0,3}"), 0..300),
            keyed in proptest::bool::ANY,
            budget in 1usize..600,
        ) {
            let d = tempfile::tempdir().expect("tempdir");
            let mut text = String::from("id,x,s\n");
            for (id, x, s) in &rows {
                text += &format!("{id},{x},{s}\n");
            }
            let p = d.path().join("t.csv");
            std::fs::write(&p, &text).expect("write");
            let set = settings(if keyed { &["id"] } else { &[] });
            let blob = ObjectId::of(text.as_bytes());
            let spill = Spill { dir: d.path().join("tmp"), budget, stored: None };
            let mem = build(&p, blob, &set);
            let ext = build_with(&p, blob, &set, Some(&spill));
            same_build(mem, ext)?;
            // Every run's file is gone once the build is done.
            no_runs_left(d.path())?;
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// A table split into shards any way (rows dealt to 1–4 files in
        /// any order, CSV or JSON Lines) has the manifest (chunks, rows,
        /// duplicates) of the one file holding its rows, spilled or not:
        /// identities do not depend on shards, so moving rows between
        /// shards changes no chunk. A key repeated across shards is an
        /// error naming both files and lines.
        #[test]
        fn shards_build_the_manifest_of_their_rows(
            rows in proptest::collection::vec((0u16..80, 0u8..4, "[a-c]{0,3}", 0usize..4), 0..200),
            keyed in proptest::bool::ANY,
            jsonl in proptest::bool::ANY,
            budget in proptest::option::of(1usize..800),
        ) {
            let d = tempfile::tempdir().expect("tempdir");
            let line = |id: u16, x: u8, s: &str| if jsonl {
                format!("{{\"id\":{id},\"x\":{x},\"s\":\"{s}\"}}\n")
            } else {
                format!("{id},{x},{s}\n")
            };
            let head = if jsonl { "" } else { "id,x,s\n" };
            let mut whole = head.to_string();
            let mut parts = vec![head.to_string(); 4];
            for (id, x, s, shard) in &rows {
                whole += &line(*id, *x, s);
                parts[*shard] += &line(*id, *x, s);
            }
            let ext = if jsonl { "jsonl" } else { "csv" };
            let mut set = settings(if keyed { &["id"] } else { &[] });
            set.format = if jsonl { Format::Jsonl } else { Format::Csv };
            let p = d.path().join(format!("whole.{ext}"));
            std::fs::write(&p, &whole).expect("write");
            let one = build(&p, ObjectId::of(whole.as_bytes()), &set);
            let mut shards = Vec::new();
            for (i, text) in parts.iter().enumerate() {
                // Some shards left out when empty (adding one adds rows).
                if text.len() == head.len() && i % 2 == 1 {
                    continue;
                }
                let name = format!("t-{i:05}-of-00004.{ext}");
                let abs = d.path().join(&name);
                std::fs::write(&abs, text).expect("write");
                shards.push(ShardFile { path: format!("ds/{name}"), abs, blob: ObjectId::of(text.as_bytes()) });
            }
            let spill = budget.map(|budget| Spill { dir: d.path().join("tmp"), budget, stored: None });
            let got = build_shards(&shards, &set, spill.as_ref());
            match (one, got) {
                (Ok(a), Ok(b)) => {
                    proptest::prop_assert_eq!(&a.0.chunks, &b.0.chunks);
                    proptest::prop_assert_eq!(a.0.rows, b.0.rows);
                    proptest::prop_assert_eq!(a.0.duplicates, b.0.duplicates);
                    proptest::prop_assert_eq!(&a.0.key, &b.0.key);
                    proptest::prop_assert_eq!(a.1.to_vec().expect("read"), b.1.to_vec().expect("read"));
                    proptest::prop_assert_eq!(b.0.shards.len(), shards.len());
                    // The manifest round-trips, and names its shards' set.
                    let m = Manifest::decode(b.0.id().0, &b.0.encode()).expect("decodes");
                    proptest::prop_assert_eq!(&m, &b.0);
                }
                (Err(_), Err(TableError::DuplicateKeyAcross { key, first, second })) => {
                    proptest::prop_assert!(keyed);
                    proptest::prop_assert_ne!(&first.0, &second.0);
                    // Both lines hold the key, in the files named.
                    for (file, l) in [first, second] {
                        let text = std::fs::read_to_string(&file).expect("shard");
                        let row = text.lines().nth(l as usize - 1).expect("the line");
                        let id = if jsonl { format!("{{\"id\":{key},") } else { format!("{key},") };
                        proptest::prop_assert!(row.starts_with(&id), "{row} vs {key}");
                    }
                }
                (Err(TableError::DuplicateKey { .. }), Err(TableError::DuplicateKey { path, first, second, .. })) => {
                    let text = std::fs::read_to_string(&path).expect("shard");
                    let at = |l: u64| text.lines().nth(l as usize - 1).expect("line").split(',').next().expect("a field").to_string();
                    proptest::prop_assert_eq!(at(first), at(second));
                }
                (a, b) => proptest::prop_assert!(false, "{a:?} vs {b:?}"),
            }
            no_runs_left(d.path())?;
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Parsing a CSV on 2–4 threads gives what one thread gives: the
        /// same manifest and chunks, or the same error (the first bad
        /// line's), lenient or not, spilled or not — on random tables with
        /// repeated keys, ragged rows, quoted newlines, invalid UTF-8 and
        /// values breaking a declared type.
        #[test]
        fn parallel_parses_equal_sequential_ones(
            rows in proptest::collection::vec((0u16..300, 0u8..8, "[a-c\n]{0,3}"), 0..9000),
            keyed in proptest::bool::ANY,
            lenient in proptest::bool::ANY,
            declared in proptest::bool::ANY,
            workers in 2usize..5,
            budget in proptest::option::of(64usize..4096),
        ) {
            let d = tempfile::tempdir().expect("tempdir");
            let mut text = b"id,x,s\n".to_vec();
            for (id, x, s) in &rows {
                match x {
                    // A ragged row, a bad byte, a non-integer x.
                    7 if id % 97 == 0 => text.extend_from_slice(format!("{id},1\n").as_bytes()),
                    6 if id % 89 == 0 => {
                        text.extend_from_slice(format!("{id},1,\"").as_bytes());
                        text.extend_from_slice(&[0xff, b'"', b'\n']);
                    }
                    5 if id % 83 == 0 => text.extend_from_slice(format!("{id},x{x},\"{s}\"\n").as_bytes()),
                    _ => text.extend_from_slice(format!("{id},{x},\"{s}\"\n").as_bytes()),
                }
            }
            let p = d.path().join("t.csv");
            std::fs::write(&p, &text).expect("write");
            let mut set = settings(if keyed { &["id"] } else { &[] });
            set.lenient = lenient;
            if declared {
                set.declared.insert("x".into(), ColumnType::Integer);
            }
            let blob = ObjectId::of(&text);
            let spill = budget.map(|budget| Spill { dir: d.path().join("tmp"), budget, stored: None });
            let one = build_on(&p, blob, &set, spill.as_ref(), 1);
            let many = build_on(&p, blob, &set, spill.as_ref(), workers);
            same_build(one, many)?;
            // A file changed after it was hashed is refused either way.
            let stale = build_on(&p, ObjectId::of(b"other"), &set, None, workers);
            proptest::prop_assert!(stale.is_err());
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// JSON Lines parsed on 2–4 threads gives what one thread gives:
        /// the same columns in the same order (columns first met at random
        /// places), types, manifest and chunks, or the same error — with
        /// blank lines, invalid JSON, non-object rows and values breaking a
        /// declared type, lenient or not.
        #[test]
        fn parallel_jsonl_parses_equal_sequential_ones(
            rows in proptest::collection::vec((0u16..400, 0u8..12, "[a-c]{0,2}"), 0..9000),
            keyed in proptest::bool::ANY,
            lenient in proptest::bool::ANY,
            declared in proptest::bool::ANY,
            workers in 2usize..5,
        ) {
            let d = tempfile::tempdir().expect("tempdir");
            let mut text = String::new();
            for (i, (id, x, s)) in rows.iter().enumerate() {
                let id = if keyed { *id as usize * 31 + i } else { *id as usize };
                text += &match x {
                    // Columns first met here and there: c{x} appears late.
                    0..=5 => format!("{{\"id\":{id},\"x\":{x},\"s\":\"{s}\"}}\n"),
                    6 | 7 => format!("{{\"c{x}{s}\":true,\"id\":{id},\"b\":null}}\n"),
                    8 if id % 53 == 0 => "{not json\n".to_string(),
                    9 if id % 59 == 0 => "[1,2]\n".to_string(),
                    10 => "  \n".to_string(),
                    _ => format!("{{\"id\":{id},\"x\":\"{s}z\",\"n\":[{x}]}}\n"),
                };
            }
            let p = d.path().join("t.jsonl");
            std::fs::write(&p, &text).expect("write");
            let mut set = settings(if keyed { &["id"] } else { &[] });
            set.format = Format::Jsonl;
            set.lenient = lenient;
            if declared {
                set.declared.insert("x".into(), ColumnType::Integer);
            }
            let blob = ObjectId::of(text.as_bytes());
            let one = build_on(&p, blob, &set, None, 1);
            let many = build_on(&p, blob, &set, None, workers);
            same_build(one, many)?;
        }
    }

    /// The spill path is taken (the property above would pass vacuously
    /// if it never were): a budget of one byte writes a run per row.
    #[test]
    fn a_tiny_budget_spills_and_merges() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("t.csv");
        let text = "id,x\n3,c\n1,a\n2,b\n1,a\n";
        std::fs::write(&p, text).expect("write");
        let set = settings(&[]);
        let blob = ObjectId::of(text.as_bytes());
        let mut c = Collector::new(&p, &[], None, 0);
        let spill = Spill {
            dir: d.path().join("tmp"),
            budget: 1,
            stored: None,
        };
        c.spill = Some(&spill);
        read_table_checked(&p, set.format, &set.declared, false, &mut c, None).expect("read");
        assert_eq!(c.runs.len(), 4);
        drop(c);
        let (m, _) = build_with(&p, blob, &set, Some(&spill)).expect("build");
        assert_eq!((m.rows, m.duplicates, m.distinct_rows()), (4, 1, 3));
        assert_eq!(m, build(&p, blob, &set).expect("build").0);
    }

    /// Counts a damaged chunk or row claims reserve nothing: the decoders
    /// answer an error (before the fix, 4 billion rows reserved 240 GB and
    /// the process aborted; found by `make fuzz`).
    #[test]
    fn forged_counts_are_errors_not_allocations() {
        for keyed in [0u8, 1] {
            let mut chunk = CHUNK_TAG.to_vec();
            chunk.push(keyed);
            chunk.extend_from_slice(&u32::MAX.to_le_bytes());
            chunk.extend_from_slice(&[0u8; 12]);
            assert!(decode_chunk(ObjectId::of(&chunk), &chunk).is_err());
        }
        let mut row = u32::MAX.to_le_bytes().to_vec();
        row.extend_from_slice(&[0u8; 9]);
        assert!(crate::table::decode_row(&row).is_none());
    }

    /// A skeleton keeps each row's identity and count and only the mapped
    /// cells; reduced to identities, a skeleton and its chunk compare equal
    /// row for row, and a changed row differs (D83).
    #[test]
    fn redaction_keeps_other_rows_and_the_purged_rows_identity_hash_and_mapped_cells() {
        let d = tempfile::tempdir().expect("tempdir");
        for key in [&["id"][..], &[][..]] {
            let (_, chunks) = build_str(
                d.path(),
                "id,secret,label\n1,s1,cat\n2,SECRET2,dog\n3,s3,dog\n",
                key,
            )
            .expect("build");
            let (cid, chunk) = chunks.iter().next().expect("one chunk");
            let rows = decode_chunk(*cid, chunk).expect("rows");
            let target = rows
                .iter()
                .find(|r| contains(&r.body, b"SECRET2"))
                .expect("row 2")
                .ident
                .clone();
            let purge = |i: &[u8]| i == target.as_slice();
            let red = redact(*cid, chunk, &purge, &["label".to_string()])
                .expect("redacts")
                .expect("a row was purged");
            assert_eq!(red.id, ObjectId::of(&red.bytes));
            assert_eq!(red.original, *cid);
            assert!(!contains(&red.bytes, b"SECRET2"), "the purged cell is gone");
            let after = decode_chunk(*cid, &red.bytes).expect("decodes");
            assert_eq!(after.len(), rows.len());
            for (a, b) in rows.iter().zip(&after) {
                assert_eq!((&a.ident, a.count), (&b.ident, b.count));
                if a.ident == target {
                    // A skeleton row: its hash carried, its label kept.
                    assert!(is_skeletal(&b.body));
                    assert_eq!(content_hash_of(&b.body), Some(row_hash(&a.body)));
                    assert_eq!(red.purged, vec![row_hash(&a.body)]);
                    let cells = crate::table::decode_row(&b.body).expect("cells");
                    let names: Vec<&str> = cells.iter().map(|(n, _)| n.as_str()).collect();
                    assert_eq!(names, vec![SKELETON_HASH_CELL, "label"]);
                } else {
                    assert_eq!(a.body, b.body, "other rows whole");
                }
            }
            assert!(crate::purge::check_redacted(cid, &red.bytes).is_ok());
            assert!(crate::purge::check_redacted(&ObjectId::of(b"x"), &red.bytes).is_err());
            // Nothing selected: nothing to redact; redacting again the
            // redacted chunk keeps what was purged and purges more.
            assert!(redact(*cid, chunk, &|_| false, &[]).expect("ok").is_none());
            let first = after[0].ident.clone();
            let again = redact(*cid, &red.bytes, &|i| i == first.as_slice(), &[])
                .expect("redacts")
                .expect("one more");
            let twice = decode_chunk(*cid, &again.bytes).expect("decodes");
            assert_eq!(twice.iter().filter(|r| is_skeletal(&r.body)).count(), 2);
            assert_eq!(again.original, *cid);
            // A flag that disagrees with its body is damage.
            let mut bad = red.bytes.clone();
            let tag = REDACTED_TAG.len() + 32 + 1 + 4;
            // The first row's flag sits after its identity and count.
            let il = u32::from_le_bytes(bad[tag..tag + 4].try_into().expect("4")) as usize;
            let at = tag + 4 + il + 4;
            bad[at] ^= 1;
            assert!(decode_chunk(*cid, &bad).is_err());
        }
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn skeletons_keep_identities_counts_and_mapped_cells_only() {
        let d = tempfile::tempdir().expect("tempdir");
        for key in [&["id"][..], &[][..]] {
            let (m, chunks) = build_str(
                d.path(),
                "id,secret,label\n1,s1,cat\n2,s2,dog\n2b,s2,dog\n",
                key,
            )
            .expect("build");
            let (cid, chunk) = chunks.iter().next().expect("one chunk");
            let rows = decode_chunk(*cid, chunk).expect("rows");
            let (sid, sk) = skeleton(*cid, chunk, &["label".to_string()]).expect("skeleton");
            assert_eq!(sid, ObjectId::of(&sk));
            assert!(!sk.windows(2).any(|w| w == b"s1"), "no unmapped cell");
            let skel = decode_chunk(sid, &sk).expect("decodes");
            assert_eq!(
                skel.iter().map(|r| (&r.ident, r.count)).collect::<Vec<_>>(),
                rows.iter().map(|r| (&r.ident, r.count)).collect::<Vec<_>>()
            );
            let cells = crate::table::decode_row(&skel[0].body).expect("cells");
            let names: Vec<&str> = cells.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, vec![SKELETON_HASH_CELL, "label"]);
            // Reduced, the chunk and its skeleton are the same rows.
            let a = identities_only(*cid, chunk).expect("chunk reduced");
            let b = identities_only(sid, &sk).expect("skeleton reduced");
            assert_eq!(a, b);
            // A changed secret cell changes the reduced row.
            let (_, other) = build_str(
                d.path(),
                "id,secret,label\n1,s1,cat\n2,CHANGED,dog\n2b,s2,dog\n",
                key,
            )
            .expect("build");
            let (oid, ochunk) = other.iter().next().expect("one chunk");
            assert_ne!(identities_only(*oid, ochunk).expect("reduced"), a);
            // The manifest names the skeleton beside its chunk, and old
            // manifests keep their encoding.
            let mut with = m.clone();
            with.chunks[0].skeleton = Some(crate::id::ChunkId(sid));
            assert_eq!(
                Manifest::decode(with.id().0, &with.encode()).expect("decode"),
                with
            );
            assert_eq!(with.encode().len(), m.encode().len() + 32);
        }
    }

    fn settings(key: &[&str]) -> TableSettings {
        TableSettings {
            format: Format::Csv,
            key: key.iter().map(|s| s.to_string()).collect(),
            declared: BTreeMap::new(),
            lenient: false,
        }
    }

    fn build_str(
        d: &Path,
        content: &str,
        key: &[&str],
    ) -> Result<(Manifest, HashMap<ObjectId, Vec<u8>>), TableError> {
        let p = d.join("t.csv");
        std::fs::write(&p, content).expect("write");
        let (m, chunks) = build(&p, ObjectId::of(content.as_bytes()), &settings(key))?;
        Ok((m, chunks.to_vec()?.into_iter().collect()))
    }

    #[test]
    fn a_table_is_built_only_from_the_bytes_the_commit_hashed() {
        let d = tempfile::tempdir().expect("tempdir");
        let parquet = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/parquet/types.parquet"),
        )
        .expect("fixture");
        let cases: [(&str, Format, Vec<u8>); 3] = [
            ("t.csv", Format::Csv, b"id,x\n1,a\n2,b\n".to_vec()),
            (
                "t.jsonl",
                Format::Jsonl,
                b"{\"id\": 1}\n{\"id\": 2}\n".to_vec(),
            ),
            ("t.parquet", Format::Parquet, parquet),
        ];
        for (name, format, bytes) in cases {
            let p = d.path().join(name);
            std::fs::write(&p, &bytes).expect("write");
            let s = TableSettings {
                format,
                ..settings(&[])
            };
            // The bytes snapshotted: it builds.
            build(&p, ObjectId::of(&bytes), &s).unwrap_or_else(|e| panic!("{name}: {e}"));
            // What the snapshot hashed was another version (the file
            // changed between hashing and parsing): refused, named.
            let mut other = bytes.clone();
            other.push(b'\n');
            match build(&p, ObjectId::of(&other), &s) {
                Err(TableError::Changed { path }) => assert_eq!(path, p),
                other => panic!("{name}: expected Changed, got {:?}", other.map(|x| x.0)),
            }
        }
    }

    /// Parquet read by row groups on 2–4 threads gives what one thread
    /// gives, on every fixture (1 to 8 row groups; every type; keyed and
    /// not; lenient or not, with a declared type the rows break), and a
    /// damaged or changed file is refused either way.
    #[cfg(feature = "parquet")]
    #[test]
    fn parallel_parquet_reads_equal_sequential_ones() {
        let d = tempfile::tempdir().expect("tempdir");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/parquet");
        let mut files: Vec<std::path::PathBuf> = ["types.parquet", "same.parquet", "next.parquet"]
            .iter()
            .map(|n| dir.join(n))
            .collect();
        for set in ["two", "n3", "n4"] {
            for e in std::fs::read_dir(dir.join("shards").join(set)).expect("shards") {
                files.push(e.expect("entry").path());
            }
        }
        let mut compared = 0;
        for f in &files {
            let bytes = std::fs::read(f).expect("fixture");
            let p = d.path().join("t.parquet");
            std::fs::write(&p, &bytes).expect("write");
            let blob = ObjectId::of(&bytes);
            for (key, lenient, declared) in [
                (&[][..], false, false),
                (&["id"][..], false, false),
                (&["id"][..], true, true),
                (&[][..], false, true),
            ] {
                let mut set = settings(key);
                set.format = Format::Parquet;
                set.lenient = lenient;
                if declared {
                    // Some rows' ids break it (odd ones are not "even").
                    set.declared.insert("text".into(), ColumnType::Integer);
                }
                let one = build_on(&p, blob, &set, None, 1);
                for workers in 2..5 {
                    let many = build_on(&p, blob, &set, None, workers);
                    match (&one, &many) {
                        (Ok(a), Ok(b)) => {
                            assert_eq!(a.0, b.0, "{f:?}");
                            assert_eq!(a.1.to_vec().expect("read"), b.1.to_vec().expect("read"));
                            compared += 1;
                        }
                        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{f:?}"),
                        (a, b) => panic!("{f:?}: {:?} vs {:?}", a.is_ok(), b.is_ok()),
                    }
                }
            }
            // Damaged past its first bytes, or not the bytes hashed.
            let mut bad = bytes.clone();
            let n = bad.len();
            bad.truncate(n * 2 / 3);
            std::fs::write(&p, &bad).expect("write");
            let mut set = settings(&[]);
            set.format = Format::Parquet;
            assert!(build_on(&p, ObjectId::of(&bad), &set, None, 3).is_err());
            std::fs::write(&p, &bytes).expect("write");
            assert!(matches!(
                build_on(&p, ObjectId::of(b"other"), &set, None, 3),
                Err(TableError::Changed { .. })
            ));
        }
        assert!(compared > 20, "{compared} successful comparisons");
    }

    #[test]
    fn manifest_round_trips() {
        let d = tempfile::tempdir().expect("tempdir");
        let (m, _) = build_str(d.path(), "id,x\n1,a\n2,b\n", &["id"]).expect("build");
        assert_eq!(Manifest::decode(m.id().0, &m.encode()).expect("decode"), m);
        assert_eq!(m.rows, 2);
    }

    #[test]
    fn duplicate_keys_name_both_lines() {
        let d = tempfile::tempdir().expect("tempdir");
        let err = build_str(d.path(), "id,x\n1,a\n2,b\n1,c\n", &["id"]).expect_err("dup");
        let msg = err.to_string();
        assert!(msg.contains("duplicate key 1 on lines 2 and 4"), "{msg}");
    }

    #[test]
    fn unkeyed_duplicates_are_counted() {
        let d = tempfile::tempdir().expect("tempdir");
        let (m, _) = build_str(d.path(), "a\nx\nx\ny\n", &[]).expect("build");
        assert_eq!((m.rows, m.duplicates, m.distinct_rows()), (3, 1, 2));
    }

    #[test]
    fn same_rows_in_other_spellings_have_one_identity() {
        let d = tempfile::tempdir().expect("tempdir");
        let (a, _) = build_str(d.path(), "id,t\n1,\"x\"\n2,y\n", &[]).expect("build");
        let (b, _) = build_str(d.path(), "\"id\",t\r\n2,\"y\"\r\n\"1\",x\r\n", &[]).expect("build");
        assert_eq!(a.chunks, b.chunks);
    }

    #[test]
    fn diff_reports_rows_and_cells() {
        let d = tempfile::tempdir().expect("tempdir");
        let (a, ca) = build_str(d.path(), "id,x,y\n1,a,p\n2,b,q\n3,c,r\n", &["id"]).expect("a");
        let (b, cb) = build_str(d.path(), "id,x,y\n1,a,p\n2,B,q\n4,d,s\n", &["id"]).expect("b");
        let r = diff(Some((&a, &ca)), Some((&b, &cb)), None).expect("diff");
        assert_eq!((r.added, r.removed, r.modified), (1, 1, 1));
        let m = r
            .changes
            .iter()
            .find(|c| c.kind == RowChangeKind::Modified)
            .expect("mod");
        let cells = cell_changes(
            m.old.as_deref().expect("old"),
            m.new.as_deref().expect("new"),
        );
        assert_eq!(
            cells,
            [CellChange {
                column: "x".into(),
                old: Some("b".into()),
                new: Some("B".into())
            }]
        );
    }

    proptest::proptest! {
        /// A rebuild told which chunks the store holds (the parent
        /// version's, D96) gives the same manifest as one that holds every
        /// chunk; it holds exactly the chunks the parent lacks, and over
        /// the store it reads every chunk the same.
        #[test]
        fn a_rebuild_holds_only_the_chunks_the_store_lacks(
            rows in proptest::collection::vec((0u32..400, 0u32..5), 1..300),
            edits in proptest::collection::vec((0u32..400, 0u32..5), 0..20),
            keyed in proptest::bool::ANY,
            budget in proptest::option::of(1usize..4000),
        ) {
            let d = tempfile::tempdir().expect("tempdir");
            let set = settings(if keyed { &["id"] } else { &[] });
            let text = |rows: &std::collections::BTreeMap<u32, u32>| {
                let mut t = String::from("id,x\n");
                for (id, x) in rows {
                    t += &format!("{id},{x}\n");
                }
                t
            };
            let v1: std::collections::BTreeMap<u32, u32> = rows.into_iter().collect();
            let mut v2 = v1.clone();
            v2.extend(edits);
            let (t1, t2) = (text(&v1), text(&v2));
            let p = d.path().join("t.csv");
            std::fs::write(&p, &t1).expect("write");
            let (m1, c1) = build(&p, ObjectId::of(t1.as_bytes()), &set).expect("v1");
            let parent: HashMap<ObjectId, Vec<u8>> = c1.to_vec().expect("read").into_iter().collect();
            proptest::prop_assert_eq!(parent.len(), m1.chunks.len());
            std::fs::write(&p, &t2).expect("write");
            let blob = ObjectId::of(t2.as_bytes());
            let (whole, all) = build(&p, blob, &set).expect("v2");
            let spill = Spill {
                dir: d.path().join("tmp"),
                budget: budget.unwrap_or(super::super::spill::DEFAULT_BUDGET),
                stored: Some(std::sync::Arc::new(parent.keys().copied().collect())),
            };
            let (m2, held) = build_with(&p, blob, &set, Some(&spill)).expect("v2 again");
            proptest::prop_assert_eq!(&m2, &whole);
            let mut want: Vec<ObjectId> = whole
                .chunks
                .iter()
                .map(|c| c.id.0)
                .filter(|id| !parent.contains_key(id))
                .collect();
            want.sort();
            let mut got = held.ids();
            got.sort();
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert_eq!(held.skipped() + held.len(), whole.chunks.len());
            let over = held.over(&parent);
            for c in &whole.chunks {
                let full = all.get(&c.id.0).expect("read").expect("held").into_owned();
                proptest::prop_assert_eq!(over.chunk(&c.id.0).expect("over the store"), full);
            }
            drop((held, all, c1));
            no_runs_left(d.path())?;
        }
    }
}
