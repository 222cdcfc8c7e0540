//! The index terms of one `Rows` event, collected in bounded memory (D95):
//! its windows with the terms many rows share (a source, `annotated`), and
//! the terms of single examples (an id, a locator) each with the number of
//! the window it is in, sorted by term. A table of millions of rows has
//! millions of such entries: past a budget they are sorted in runs written
//! under `.folio/tmp` and merged when the index reads them, as a large
//! table's rows are (D90).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use rayon::slice::ParallelSliceMut;

use super::batch::LogError;
use super::rows::Window;
use crate::fsutil::TempFile;

/// Entries held in memory before a run is written (16 bytes each: 64 MiB).
pub const DEFAULT_BUDGET: usize = 4 << 20;

/// One entry on disk: the term (big-endian), then the window's number
/// (little-endian), as in the index's run blocks.
const ENTRY: usize = 12;

/// The index terms of a `Rows` event's row events.
pub struct RowsTerms {
    /// Its windows, each with the terms many of its rows share, sorted and
    /// without repeats.
    pub windows: Vec<(Window, Vec<u64>)>,
    /// The terms of single examples, with their windows' numbers.
    pub unique: TermRun,
}

/// (term, window number) entries, given in any order, read back sorted
/// and without repeats.
pub struct TermRun {
    mem: Vec<(u64, u32)>,
    spilled: Vec<Spilled>,
    dir: Option<PathBuf>,
    budget: usize,
    len: u64,
}

/// A sorted run on disk (deleted when dropped; one left by a crash is a
/// temporary file the next `gc` removes).
struct Spilled {
    _file: TempFile,
    path: PathBuf,
    reader: BufReader<File>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl TermRun {
    /// An empty run that spills to `dir` past [`DEFAULT_BUDGET`] entries
    /// (never, without a folder).
    pub fn new(dir: Option<PathBuf>) -> TermRun {
        TermRun::with_budget(dir, DEFAULT_BUDGET)
    }

    /// An empty run that spills to `dir` past `budget` entries.
    pub fn with_budget(dir: Option<PathBuf>, budget: usize) -> TermRun {
        TermRun {
            mem: Vec::new(),
            spilled: Vec::new(),
            dir,
            budget: budget.max(1),
            len: 0,
        }
    }

    /// Entries pushed (repeats included).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many runs went to disk.
    pub fn spilled(&self) -> usize {
        self.spilled.len()
    }

    /// Adds an entry; past the budget the entries held are sorted and
    /// written as a run.
    pub fn push(&mut self, term: u64, window: u32) -> Result<(), LogError> {
        self.mem.push((term, window));
        self.len += 1;
        if self.mem.len() >= self.budget && self.dir.is_some() {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<(), LogError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        self.mem.par_sort_unstable();
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut file = TempFile::new_in(dir).map_err(io(dir))?;
        let path = file.path().to_path_buf();
        // Opened before anything is written: a cleaner that removes the
        // name meanwhile takes nothing from this reader.
        let reader = BufReader::with_capacity(1 << 16, File::open(&path).map_err(io(&path))?);
        {
            let mut w = BufWriter::with_capacity(1 << 20, file.file());
            let mut last = None;
            for &e in &self.mem {
                if last == Some(e) {
                    continue;
                }
                last = Some(e);
                w.write_all(&e.0.to_be_bytes())
                    .and_then(|()| w.write_all(&e.1.to_le_bytes()))
                    .map_err(io(&path))?;
            }
            w.flush().map_err(io(&path))?;
        }
        self.mem.clear();
        self.spilled.push(Spilled {
            _file: file,
            path,
            reader,
        });
        Ok(())
    }

    /// Calls `each` with every entry in (term, window) order, each once.
    pub fn for_each_sorted<E: From<LogError>>(
        mut self,
        each: &mut dyn FnMut(u64, u32) -> Result<(), E>,
    ) -> Result<(), E> {
        self.mem.par_sort_unstable();
        let mut last = None;
        let mut emit = |e: (u64, u32)| {
            if last == Some(e) {
                return Ok(());
            }
            last = Some(e);
            each(e.0, e.1)
        };
        if self.spilled.is_empty() {
            return self.mem.iter().try_for_each(|&e| emit(e));
        }
        // Merge the runs on disk and the entries still held.
        let mem = std::mem::take(&mut self.mem);
        let mut held = mem.into_iter();
        let mut heap = BinaryHeap::with_capacity(self.spilled.len() + 1);
        if let Some(e) = held.next() {
            heap.push(Reverse((e, usize::MAX)));
        }
        for (i, s) in self.spilled.iter_mut().enumerate() {
            if let Some(e) = s.next()? {
                heap.push(Reverse((e, i)));
            }
        }
        while let Some(Reverse((e, i))) = heap.pop() {
            emit(e)?;
            let next = match i {
                usize::MAX => held.next(),
                _ => self.spilled[i].next()?,
            };
            if let Some(n) = next {
                heap.push(Reverse((n, i)));
            }
        }
        Ok(())
    }
}

impl Spilled {
    fn next(&mut self) -> Result<Option<(u64, u32)>, LogError> {
        let mut b = [0u8; ENTRY];
        match self.reader.read_exact(&mut b) {
            Ok(()) => Ok(Some((
                u64::from_be_bytes(b[..8].try_into().expect("8 bytes")),
                u32::from_le_bytes(b[8..].try_into().expect("4 bytes")),
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(io(&self.path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sorted(run: TermRun) -> Vec<(u64, u32)> {
        let mut out = Vec::new();
        run.for_each_sorted::<LogError>(&mut |t, w| {
            out.push((t, w));
            Ok(())
        })
        .expect("read back");
        out
    }

    proptest! {
        /// Whatever the budget, a run reads back its entries sorted and
        /// each once, as a set of them gives them; runs spill whenever the
        /// entries exceed the budget, and their files go with the run.
        #[test]
        fn runs_read_back_sorted_and_once_whatever_the_budget(
            entries in proptest::collection::vec((0u64..64, 0u32..8), 0..300),
            budget in 1usize..40,
        ) {
            let d = tempfile::tempdir().expect("tempdir");
            let mut run = TermRun::with_budget(Some(d.path().to_path_buf()), budget);
            for &(t, w) in &entries {
                run.push(t, w).expect("push");
            }
            prop_assert_eq!(run.len(), entries.len() as u64);
            prop_assert_eq!(run.spilled(), entries.len() / budget);
            let want: Vec<(u64, u32)> = entries
                .iter()
                .copied()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            prop_assert_eq!(sorted(run), want);
            prop_assert_eq!(std::fs::read_dir(d.path()).expect("dir").count(), 0);
        }
    }

    /// Without a folder nothing is written, whatever the budget.
    #[test]
    fn a_run_without_a_folder_holds_everything() {
        let mut run = TermRun::with_budget(None, 2);
        for (t, w) in [(5, 1), (3, 0), (5, 1), (4, 2)] {
            run.push(t, w).expect("push");
        }
        assert_eq!(run.spilled(), 0);
        assert_eq!(sorted(run), vec![(3, 0), (4, 2), (5, 1)]);
    }
}
