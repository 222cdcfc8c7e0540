//! The chunks a table build cuts, held until the commit stores them: in
//! memory while they are few, then in a spool file under `.folio/tmp`
//! (bounded memory, D90) — read back by id, over the store as a
//! [`ChunkSource`]. Chunks the store already holds (the parent version's)
//! are not held again (D96).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::TableError;
use super::manifest::ChunkSource;
use crate::fsutil::TempFile;
use crate::id::ObjectId;

/// New chunks of a table version, in identity order.
pub struct ChunkSet {
    /// Each chunk: id, where its bytes start, their length.
    order: Vec<(ObjectId, u64, u32)>,
    at: HashMap<ObjectId, usize>,
    backing: Backing,
    /// Where to spool past `budget` bytes (`None`: always in memory).
    spool_to: Option<(PathBuf, usize)>,
    /// Chunks the store holds already: cut, not held.
    stored: Option<Arc<HashSet<ObjectId>>>,
    /// How many chunks were cut that the store holds.
    skipped: usize,
}

enum Backing {
    Mem(Vec<u8>),
    Spool {
        _tmp: TempFile,
        /// Writes go through this until [`ChunkSet::done`] flushes it.
        writer: Option<BufWriter<File>>,
        reader: File,
        path: PathBuf,
        len: u64,
    },
}

impl std::fmt::Debug for ChunkSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkSet")
            .field("chunks", &self.order.len())
            .field("spooled", &matches!(self.backing, Backing::Spool { .. }))
            .finish()
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> TableError + '_ {
    move |source| TableError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl ChunkSet {
    /// An empty set held in memory, or spooled to a file in `dir` once it
    /// holds more than `budget` bytes.
    pub fn new(spool_to: Option<(PathBuf, usize)>) -> Self {
        ChunkSet::skipping(spool_to, None)
    }

    /// [`ChunkSet::new`] that does not hold the chunks of `stored` (ones
    /// the store holds already): read them through [`ChunkSet::over`].
    pub fn skipping(
        spool_to: Option<(PathBuf, usize)>,
        stored: Option<Arc<HashSet<ObjectId>>>,
    ) -> Self {
        ChunkSet {
            order: Vec::new(),
            at: HashMap::new(),
            backing: Backing::Mem(Vec::new()),
            spool_to,
            stored,
            skipped: 0,
        }
    }

    /// Adds a chunk (ids are distinct: a chunk names its rows), unless
    /// the store holds it already.
    pub fn push(&mut self, id: ObjectId, bytes: &[u8]) -> Result<(), TableError> {
        if self.stored.as_ref().is_some_and(|s| s.contains(&id)) {
            self.skipped += 1;
            return Ok(());
        }
        if let (Backing::Mem(m), Some((dir, budget))) = (&self.backing, &self.spool_to)
            && m.len() + bytes.len() > *budget
        {
            let dir = dir.clone();
            self.spool(&dir)?;
        }
        let offset = match &mut self.backing {
            Backing::Mem(m) => {
                let o = m.len() as u64;
                m.extend_from_slice(bytes);
                o
            }
            Backing::Spool {
                writer, path, len, ..
            } => {
                let o = *len;
                writer
                    .as_mut()
                    .expect("a set is written before it is done")
                    .write_all(bytes)
                    .map_err(io(path))?;
                *len += bytes.len() as u64;
                o
            }
        };
        self.at.insert(id, self.order.len());
        self.order.push((id, offset, bytes.len() as u32));
        Ok(())
    }

    /// Moves what is held into a spool file.
    fn spool(&mut self, dir: &Path) -> Result<(), TableError> {
        let Backing::Mem(held) = &self.backing else {
            return Ok(());
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut tmp = TempFile::new_in(dir).map_err(io(dir))?;
        let path = tmp.path().to_path_buf();
        let reader = File::open(&path).map_err(io(&path))?;
        let file = tmp.file().try_clone().map_err(io(&path))?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        writer.write_all(held).map_err(io(&path))?;
        let len = held.len() as u64;
        self.backing = Backing::Spool {
            _tmp: tmp,
            writer: Some(writer),
            reader,
            path,
            len,
        };
        Ok(())
    }

    /// Ends writing (flushes a spool): call before reading.
    pub fn done(&mut self) -> Result<(), TableError> {
        if let Backing::Spool { writer, path, .. } = &mut self.backing
            && let Some(mut w) = writer.take()
        {
            w.flush().map_err(io(path))?;
        }
        Ok(())
    }

    /// How many chunks cut were not held: the store holds them.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// How many chunks are held.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The held chunks' ids, in identity order.
    pub fn ids(&self) -> Vec<ObjectId> {
        self.order.iter().map(|(id, _, _)| *id).collect()
    }

    /// The bytes of chunk `id`, if the set holds it.
    pub fn get(&self, id: &ObjectId) -> Result<Option<Cow<'_, [u8]>>, TableError> {
        let Some(&i) = self.at.get(id) else {
            return Ok(None);
        };
        let (_, off, len) = self.order[i];
        match &self.backing {
            Backing::Mem(m) => Ok(Some(Cow::Borrowed(
                &m[off as usize..off as usize + len as usize],
            ))),
            Backing::Spool { reader, path, .. } => {
                let mut buf = vec![0u8; len as usize];
                reader.read_exact_at(&mut buf, off).map_err(io(path))?;
                Ok(Some(Cow::Owned(buf)))
            }
        }
    }

    /// Every chunk with its bytes, in identity order.
    pub fn to_vec(&self) -> Result<Vec<(ObjectId, Vec<u8>)>, TableError> {
        self.order
            .iter()
            .map(|(id, _, _)| {
                let b = self.get(id)?.expect("listed");
                Ok((*id, b.into_owned()))
            })
            .collect()
    }

    /// The chunks of the version: the ones held, then `rest` (the store)
    /// for the others.
    pub fn over<'a>(&'a self, rest: &'a (dyn ChunkSource + Sync)) -> Over<'a> {
        Over { set: self, rest }
    }
}

/// A [`ChunkSet`] over the store: the version's chunks, whether held or
/// stored already.
pub struct Over<'a> {
    set: &'a ChunkSet,
    rest: &'a (dyn ChunkSource + Sync),
}

impl ChunkSource for Over<'_> {
    fn chunk(&self, id: &ObjectId) -> Result<Vec<u8>, TableError> {
        match self.set.get(id)? {
            Some(b) => Ok(b.into_owned()),
            None => self.rest.chunk(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past its budget a set moves to a spool file, and every chunk reads
    /// back the same by id, in order; the file goes with the set.
    #[test]
    fn a_set_spools_past_its_budget_and_reads_back_the_same() {
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path().join("tmp");
        let mut set = ChunkSet::new(Some((dir.clone(), 100)));
        let chunks: Vec<(ObjectId, Vec<u8>)> = (0..50u32)
            .map(|i| {
                let b = format!("chunk {i} {}", "x".repeat(i as usize)).into_bytes();
                (ObjectId::of(&b), b)
            })
            .collect();
        for (id, b) in &chunks {
            set.push(*id, b).expect("push");
        }
        set.done().expect("done");
        assert!(format!("{set:?}").contains("spooled: true"));
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 1);
        assert_eq!(set.len(), 50);
        assert_eq!(set.to_vec().expect("read"), chunks);
        let (id, b) = &chunks[17];
        let none: HashMap<ObjectId, Vec<u8>> = HashMap::new();
        assert_eq!(set.over(&none).chunk(id).expect("chunk"), *b);
        assert!(set.over(&none).chunk(&ObjectId::of(b"absent")).is_err());
        drop(set);
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 0);
        // Without a budget it stays in memory.
        let mut mem = ChunkSet::new(None);
        mem.push(chunks[0].0, &chunks[0].1).expect("push");
        assert!(format!("{mem:?}").contains("spooled: false"));
    }
}
