//! Sorted runs spilled to disk while a large table's manifest is built
//! (bounded memory): rows held past a budget are sorted by identity and
//! written to a temporary file under `.folio/tmp`; at the end the runs are
//! merged back in identity order. A run's file is deleted when it is
//! dropped; one left by a crash is a temporary file the next `gc` (or
//! purge) removes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::TableError;
use crate::fsutil::TempFile;

/// Where a build spills, and how many bytes of rows it holds before it
/// does.
#[derive(Debug, Clone)]
pub struct Spill {
    /// The folder for runs (`.folio/tmp`).
    pub dir: PathBuf,
    /// Bytes of rows held in memory before a run is written.
    pub budget: usize,
    /// Chunks the store holds already (the parent version's): cut and
    /// named, not held again (D96).
    pub stored: Option<std::sync::Arc<std::collections::HashSet<crate::id::ObjectId>>>,
}

/// Rows held in memory before a commit spills a run: with the chunks and
/// the ledger's work beside it, a commit of any size stays well under
/// 500 MB (docs/PERFORMANCE.md).
pub const DEFAULT_BUDGET: usize = 96 << 20;

/// One sorted run on disk.
pub(super) struct Run {
    /// Deletes the file when dropped.
    _file: TempFile,
    /// Opened for reading as soon as it was created, so a cleaner that
    /// removes the name meanwhile takes nothing from this reader.
    reader: BufReader<File>,
    path: PathBuf,
    /// The body of the row last read.
    body: Vec<u8>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> TableError + '_ {
    move |source| TableError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Run {
    /// Writes `rows` (already in identity order, then line order) as a run.
    pub(super) fn write<'r>(
        dir: &Path,
        rows: impl Iterator<Item = (&'r [u8], &'r [u8], u64)>,
    ) -> Result<Run, TableError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut file = TempFile::new_in(dir).map_err(io(dir))?;
        let path = file.path().to_path_buf();
        let reader = BufReader::with_capacity(1 << 16, File::open(&path).map_err(io(&path))?);
        {
            let mut w = BufWriter::with_capacity(1 << 20, file.file());
            for (ident, body, line) in rows {
                w.write_all(&(ident.len() as u32).to_le_bytes())
                    .and_then(|()| w.write_all(&(body.len() as u32).to_le_bytes()))
                    .and_then(|()| w.write_all(&line.to_le_bytes()))
                    .and_then(|()| w.write_all(ident))
                    .and_then(|()| w.write_all(body))
                    .map_err(io(&path))?;
            }
            w.flush().map_err(io(&path))?;
        }
        Ok(Run {
            _file: file,
            reader,
            path,
            body: Vec::new(),
        })
    }
}

/// Rows in identity order (then line order), one at a time: a run on
/// disk, or a build's rows still in memory.
pub(super) trait Sorted {
    /// Moves to the next row: its identity into `ident` (whose allocation
    /// is reused), its line returned; `None` at the end.
    fn advance(&mut self, ident: &mut Vec<u8>) -> Result<Option<u64>, TableError>;
    /// The body of the row moved to.
    fn body(&self) -> &[u8];
}

impl Sorted for Run {
    fn advance(&mut self, ident: &mut Vec<u8>) -> Result<Option<u64>, TableError> {
        let mut lens = [0u8; 16];
        match self.reader.read_exact(&mut lens[..4]) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(io(&self.path)(e)),
        }
        self.reader
            .read_exact(&mut lens[4..])
            .map_err(io(&self.path))?;
        let word = |i: usize| u32::from_le_bytes(lens[i..i + 4].try_into().expect("4 bytes"));
        let (il, bl) = (word(0) as usize, word(4) as usize);
        let line = u64::from_le_bytes(lens[8..16].try_into().expect("8 bytes"));
        ident.resize(il, 0);
        self.body.resize(bl, 0);
        self.reader
            .read_exact(ident)
            .and_then(|()| self.reader.read_exact(&mut self.body))
            .map_err(io(&self.path))?;
        Ok(Some(line))
    }

    fn body(&self) -> &[u8] {
        &self.body
    }
}

/// Called with each merged row: identity, body, line.
pub(super) type RowFn<'a> = dyn FnMut(&[u8], &[u8], u64) -> Result<(), TableError> + 'a;

/// Merges sorted sources, calling `each` with every row in identity order
/// (then line order, as an in-memory sort gives them). Each source's
/// identity buffer goes round the heap and is reused: no allocation a row.
pub(super) fn merge(
    runs: &mut [Box<dyn Sorted + '_>],
    each: &mut RowFn<'_>,
) -> Result<(), TableError> {
    let mut heap = BinaryHeap::with_capacity(runs.len());
    for (i, r) in runs.iter_mut().enumerate() {
        let mut ident = Vec::new();
        if let Some(line) = r.advance(&mut ident)? {
            heap.push(Reverse((ident, line, i)));
        }
    }
    while let Some(Reverse((mut ident, line, i))) = heap.pop() {
        each(&ident, runs[i].body(), line)?;
        if let Some(next) = runs[i].advance(&mut ident)? {
            heap.push(Reverse((ident, next, i)));
        }
    }
    Ok(())
}
