//! `checkout` and `switch`: materialise a snapshot.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rayon::prelude::*;

use super::{Repo, RepoError};
use crate::fsutil::DirFd;
use crate::id::CommitId;
use crate::index::{DatasetCache, StatEntry};
use crate::lock::RepoLock;
use crate::object::{DatasetEntry, EntryKind};
use crate::progress::Progress;
use crate::refs::Head;
use crate::snapshot::FlatEntry;

/// What a checkout wrote.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct CheckoutStats {
    /// Files and symlinks written.
    pub written: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Files, symlinks and folders removed.
    pub removed: u64,
    /// Files not written because their content was purged (D86), by path
    /// under the destination.
    pub purged: Vec<String>,
    /// Tables whose file was purged, written again from the rows kept
    /// (in row-identity order).
    pub rebuilt: Vec<String>,
}

/// One path to write: absolute destination and what goes there.
struct Job<'a> {
    dest: std::path::PathBuf,
    entry: &'a FlatEntry,
}

/// One dataset's checkout: what HEAD holds, what the target wants, what
/// the working tree has.
struct Plan {
    path: String,
    head: BTreeMap<String, FlatEntry>,
    want: BTreeMap<String, FlatEntry>,
    work: BTreeMap<String, FlatEntry>,
}

impl Repo {
    /// Writes every dataset of `id` into `dir`, which must be new or empty.
    pub fn checkout_to(
        &self,
        id: CommitId,
        dir: &Path,
        progress: &dyn Progress,
    ) -> Result<CheckoutStats, RepoError> {
        if dir.exists() {
            let mut rd = fs::read_dir(dir).map_err(RepoError::io(dir))?;
            if rd.next().is_some() {
                return Err(RepoError::DestinationNotEmpty(dir.to_path_buf()));
            }
        }
        fs::create_dir_all(dir).map_err(RepoError::io(dir))?;
        // The destination the user named may be reached through links; what
        // checkout creates below it never is.
        let dir = &dir.canonicalize().map_err(RepoError::io(dir))?;
        let commit = self.read_commit(id)?;
        let mut flats = Vec::new();
        for d in &commit.datasets {
            flats.push((d, self.flatten_dataset(Some(d))?));
        }
        let mut jobs = Vec::new();
        for (d, flat) in &flats {
            let base = dir.join(&d.path);
            let folder = match (d.kind, d.path.rsplit_once('/')) {
                (EntryKind::Tree, _) => Some(d.path.as_str()),
                (_, Some((parent, _))) => Some(parent),
                (_, None) => None,
            };
            if let Some(f) = folder {
                real_dirs(dir, f, false)?;
            }
            for (p, e) in flat {
                jobs.push(Job {
                    dest: if p.is_empty() {
                        base.clone()
                    } else {
                        base.join(p)
                    },
                    entry: e,
                });
            }
        }
        self.run_jobs(dir, &jobs, false, progress)
    }

    /// Makes the working tree match `target` and points HEAD at `new_head`.
    /// Refuses to overwrite or delete uncommitted work unless `force`.
    pub fn checkout(
        &self,
        lock: &RepoLock,
        target: CommitId,
        new_head: Head,
        force: bool,
        progress: &dyn Progress,
    ) -> Result<CheckoutStats, RepoError> {
        let index = self.open_index_rw(lock)?;
        let stamp = index.stamp()?;
        let current: Vec<DatasetEntry> = self.head_datasets()?;
        let wanted = self.read_commit(target)?.datasets;
        // Plan everything first; touch nothing until the plan is safe.
        let (plans, at_risk) =
            self.plan_checkout(&current, &wanted, &index, stamp, lock, progress)?;
        if !at_risk.is_empty() && !force {
            return Err(RepoError::UncommittedChanges { paths: at_risk });
        }
        let mut stats = CheckoutStats::default();
        let mut caches: Vec<(String, DatasetCache)> = Vec::new();
        for plan in &plans {
            let target = wanted.iter().find(|d| d.path == plan.path);
            if let Some(cache) =
                self.apply_plan(plan, target, force, stamp, &mut stats, progress)?
            {
                caches.push((plan.path.clone(), cache));
            }
        }
        self.refs.set_head(&new_head)?;
        self.save_caches(&index, &caches)?;
        let keep: Vec<&str> = wanted.iter().map(|d| d.path.as_str()).collect();
        index.retain_datasets(&keep)?;
        Ok(stats)
    }

    /// Writes the paths `paths` (repository-relative, each a dataset or a
    /// path inside one) into the working tree as they are in `target`,
    /// without moving HEAD (`folio checkout REV -- PATH…`). Like git's, it
    /// overlays: what `target` lacks under a path is left in place (`folio
    /// restore` removes it). A file whose contents the store does not hold
    /// (uncommitted work) is overwritten only with `force`.
    pub fn checkout_paths(
        &self,
        lock: &RepoLock,
        target: CommitId,
        paths: &[String],
        force: bool,
        progress: &dyn Progress,
    ) -> Result<CheckoutStats, RepoError> {
        let index = self.open_index_rw(lock)?;
        let stamp = index.stamp()?;
        let current: Vec<DatasetEntry> = self.head_datasets()?;
        let wanted = self.read_commit(target)?.datasets;
        use crate::object::is_within;
        let within = |full: &str| paths.iter().any(|p| is_within(full, p));
        // A path inside the dataset, or a folder holding it.
        let touches = |p: &str, d: &DatasetEntry| is_within(p, &d.path) || is_within(&d.path, p);
        for p in paths {
            if !wanted.iter().any(|d| touches(p, d)) {
                return Err(RepoError::NotInRevision {
                    path: p.clone(),
                    rev: target.0.short(12),
                });
            }
        }
        let mut plans = Vec::new();
        let mut at_risk = Vec::new();
        for d in wanted
            .iter()
            .filter(|d| paths.iter().any(|p| touches(p, d)))
        {
            let dp = d.path.as_str();
            let keep = |m: BTreeMap<String, FlatEntry>| -> BTreeMap<String, FlatEntry> {
                m.into_iter()
                    .filter(|(rel, _)| within(&super::join_path(dp, rel)))
                    .collect()
            };
            let want = keep(self.flatten_dataset(Some(d))?);
            if want.is_empty() {
                return Err(RepoError::NotInRevision {
                    path: paths
                        .iter()
                        .find(|p| is_within(p, dp))
                        .cloned()
                        .unwrap_or_else(|| dp.to_string()),
                    rev: target.0.short(12),
                });
            }
            let head = keep(self.flatten_dataset(current.iter().find(|c| c.path == dp))?);
            let work = if fs::symlink_metadata(self.abs(dp)).is_ok() {
                keep(
                    self.scan_flat(dp, Some(&index), stamp, Some(lock), progress)?
                        .0,
                )
            } else {
                BTreeMap::new()
            };
            at_risk.extend(replaced_folders(dp, &head, &want, &work));
            for (rel, w) in &work {
                let Some(t) = want.get(rel) else { continue };
                // Contents the store holds (HEAD's, or any committed
                // version) can be had back; anything else is uncommitted.
                let kept = head.get(rel).is_some_and(|h| same(h, w)) || self.store.contains(&w.id);
                if w.kind != EntryKind::Tree && !kept && !same(t, w) {
                    at_risk.push(super::join_path(dp, rel));
                }
            }
            plans.push((d, want, work));
        }
        if !at_risk.is_empty() && !force {
            return Err(RepoError::UncommittedChanges { paths: at_risk });
        }
        let mut stats = CheckoutStats::default();
        for (d, want, work) in &plans {
            let base = self.abs(&d.path);
            if let Some((parent, _)) = d.path.rsplit_once('/') {
                real_dirs(&self.work, parent, force)?;
            }
            if d.kind == EntryKind::Tree {
                real_dirs(&self.work, &d.path, force)?;
            }
            let jobs: Vec<Job<'_>> = want
                .iter()
                .filter(|(rel, t)| {
                    !work.get(*rel).is_some_and(|w| same(w, t)) || self.is_purged(&t.id)
                })
                .map(|(rel, t)| Job {
                    dest: join_abs(&base, rel),
                    entry: t,
                })
                .collect();
            let s = self.run_jobs(&self.work, &jobs, force, progress)?;
            stats.written += s.written;
            stats.bytes += s.bytes;
        }
        Ok(stats)
    }

    /// Each dataset's plan, and the paths whose uncommitted work the
    /// checkout would overwrite or delete.
    fn plan_checkout(
        &self,
        current: &[DatasetEntry],
        wanted: &[DatasetEntry],
        index: &crate::index::Index,
        stamp: i128,
        lock: &RepoLock,
        progress: &dyn Progress,
    ) -> Result<(Vec<Plan>, Vec<String>), RepoError> {
        let mut paths: Vec<&str> = current
            .iter()
            .chain(wanted)
            .map(|d| d.path.as_str())
            .collect();
        paths.sort();
        paths.dedup();
        let mut plans = Vec::new();
        let mut at_risk = Vec::new();
        for p in paths {
            let head = self.flatten_dataset(current.iter().find(|d| d.path == p))?;
            let want = self.flatten_dataset(wanted.iter().find(|d| d.path == p))?;
            let exists = fs::symlink_metadata(self.abs(p)).is_ok();
            let work = if exists {
                self.scan_flat(p, Some(index), stamp, Some(lock), progress)?
                    .0
            } else {
                BTreeMap::new()
            };
            at_risk.extend(replaced_folders(p, &head, &want, &work));
            for (rel, w) in &work {
                let differs_from_head = head.get(rel).is_none_or(|h| !same(h, w));
                let differs_from_target = want.get(rel).is_none_or(|t| !same(t, w));
                // Untracked files that the target does not have are left alone.
                let touched = want.contains_key(rel) || head.contains_key(rel);
                if touched && differs_from_head && differs_from_target && w.kind != EntryKind::Tree
                {
                    at_risk.push(super::join_path(p, rel));
                }
            }
            plans.push(Plan {
                path: p.to_string(),
                head,
                want,
                work,
            });
        }
        Ok((plans, at_risk))
    }

    /// Carries out one dataset's plan (`target`: its entry in the target
    /// commit); returns its refreshed stat cache.
    fn apply_plan(
        &self,
        plan: &Plan,
        target: Option<&DatasetEntry>,
        force: bool,
        stamp: i128,
        stats: &mut CheckoutStats,
        progress: &dyn Progress,
    ) -> Result<Option<DatasetCache>, RepoError> {
        let Plan {
            path,
            head,
            want,
            work,
        } = plan;
        stats.removed += self.remove_stale(path, head, want, work)?;
        if want.is_empty() && target.is_none() {
            return Ok(None);
        }
        let base = self.abs(path);
        let jobs: Vec<Job<'_>> = want
            .iter()
            .filter(|(rel, t)| !work.get(*rel).is_some_and(|w| same(w, t)) || self.is_purged(&t.id))
            .map(|(rel, t)| Job {
                dest: if rel.is_empty() {
                    base.clone()
                } else {
                    base.join(rel)
                },
                entry: t,
            })
            .collect();
        let folder = match (target.map(|d| d.kind), path.rsplit_once('/')) {
            (Some(EntryKind::Tree), _) => Some(path.as_str()),
            (_, Some((parent, _))) => Some(parent),
            (_, None) => None,
        };
        if let Some(f) = folder {
            real_dirs(&self.work, f, force)?;
        }
        let s = self.run_jobs(&self.work, &jobs, force, progress)?;
        stats.written += s.written;
        stats.bytes += s.bytes;
        stats.purged.extend(s.purged);
        stats.rebuilt.extend(s.rebuilt);
        Ok(Some(self.refresh_cache(&base, want, stamp)))
    }

    /// Removes tracked paths the target no longer has; untracked files
    /// stay, and so do folders that still hold them.
    fn remove_stale(
        &self,
        dataset: &str,
        head: &BTreeMap<String, FlatEntry>,
        want: &BTreeMap<String, FlatEntry>,
        work: &BTreeMap<String, FlatEntry>,
    ) -> Result<u64, RepoError> {
        let mut removed = 0;
        // Each entry is removed relative to its folder, opened beneath the
        // working tree without following a link: a folder swapped for a
        // link makes the checkout stop, never remove anything through it.
        let mut dirs: std::collections::HashMap<String, DirFd> = std::collections::HashMap::new();
        // Deepest paths first so folders are empty when their turn comes.
        for (rel, w) in work.iter().rev() {
            if want.contains_key(rel) || !head.contains_key(rel) {
                continue;
            }
            let full = super::join_path(dataset, rel);
            let (dir, name) = full.rsplit_once('/').unwrap_or(("", &full));
            let Some(fd) = opened(&self.work, &mut dirs, dir)? else {
                continue;
            };
            if w.kind == EntryKind::Tree {
                if fd.remove_empty_dir(name) {
                    removed += 1;
                }
                continue;
            }
            if fd
                .remove_file(name)
                .map_err(RepoError::io(&self.abs(&full)))?
            {
                removed += 1;
            }
        }
        let (dir, name) = dataset.rsplit_once('/').unwrap_or(("", dataset));
        if want.is_empty()
            && let Some(fd) = opened(&self.work, &mut dirs, dir)?
            && fd.is_dir(name)
            && fd.remove_empty_dir(name)
        {
            removed += 1;
        }
        Ok(removed)
    }

    /// Writes `jobs` under `root`: folders first (sequentially, parents
    /// before children, never through a symlink), then files in parallel.
    fn run_jobs(
        &self,
        root: &Path,
        jobs: &[Job<'_>],
        force: bool,
        progress: &dyn Progress,
    ) -> Result<CheckoutStats, RepoError> {
        for j in jobs.iter().filter(|j| j.entry.kind == EntryKind::Tree) {
            let rel = j
                .dest
                .strip_prefix(root)
                .map_err(|_| RepoError::PathOutside {
                    path: j.dest.clone(),
                    root: root.to_path_buf(),
                })?;
            let rel = rel.to_string_lossy();
            // Its parents are real folders first; then a file or link in
            // its place (tracked and unchanged, or --force: the plan
            // checked) is removed — the link, never its target.
            let (parent, name) = rel.rsplit_once('/').unwrap_or(("", &rel));
            let fd = real_dirs(root, parent, force)?;
            if !fd.is_dir(name) {
                fd.remove_file(name).map_err(RepoError::io(&j.dest))?;
            }
            real_dirs(root, &rel, force)?;
        }
        // Files whose content a purge erased are not written (a table's
        // is rebuilt from its rows kept): listed instead (D86).
        let purged = self.store.purged();
        let mut skipped = Vec::new();
        let mut rebuilt = Vec::new();
        let rel_of = |j: &Job<'_>| {
            j.dest
                .strip_prefix(root)
                .unwrap_or(&j.dest)
                .to_string_lossy()
                .into_owned()
        };
        let files: Vec<&Job<'_>> = jobs
            .iter()
            .filter(|j| j.entry.kind != EntryKind::Tree)
            .collect();
        for j in &files {
            if purged.erased.contains_key(&j.entry.id) {
                if purged.tables.contains_key(&j.entry.id) {
                    rebuilt.push(rel_of(j));
                } else {
                    skipped.push(rel_of(j));
                }
            }
        }
        progress.begin("writing", files.iter().map(|j| j.entry.size).sum());
        // Each folder opened once, beneath the root, without following a
        // link; files are written relative to it.
        let mut dirs: std::collections::HashMap<&Path, DirFd> = std::collections::HashMap::new();
        for j in &files {
            let dir = j.dest.parent().expect("destination has a folder");
            if !dirs.contains_key(dir) {
                dirs.insert(dir, open_dir(root, dir)?);
            }
        }
        let written: Result<Vec<u64>, RepoError> = files
            .par_iter()
            .map(|j| {
                let dir = j.dest.parent().expect("destination has a folder");
                self.write_entry_in(&dirs[dir], &j.dest, j.entry)?;
                progress.advance(j.entry.size);
                Ok(j.entry.size)
            })
            .collect();
        progress.end();
        let written = written?;
        skipped.sort();
        rebuilt.sort();
        Ok(CheckoutStats {
            written: (written.len() - skipped.len()) as u64,
            bytes: written.iter().sum::<u64>()
                - files
                    .iter()
                    .filter(|j| {
                        purged.erased.contains_key(&j.entry.id)
                            && !purged.tables.contains_key(&j.entry.id)
                    })
                    .map(|j| j.entry.size)
                    .sum::<u64>(),
            removed: 0,
            purged: skipped,
            rebuilt,
        })
    }

    /// Writes one file or symlink of the working tree atomically (temp
    /// file, rename), without fsync: working-tree files are not part of
    /// the repository's truth. Its folder was made by `real_dirs`; it is
    /// opened beneath the working tree without following a link, and the
    /// file written relative to it, so no file is written through a link.
    pub(super) fn write_entry(&self, dest: &Path, e: &FlatEntry) -> Result<(), RepoError> {
        let dir = dest.parent().expect("destination has a folder");
        let fd = open_dir(&self.work, dir)?;
        self.write_entry_in(&fd, dest, e)
    }

    /// [`Repo::write_entry`] into the folder `fd` already opened.
    fn write_entry_in(&self, fd: &DirFd, dest: &Path, e: &FlatEntry) -> Result<(), RepoError> {
        let name =
            dest.file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| RepoError::PathOutside {
                    path: dest.to_path_buf(),
                    root: self.work.clone(),
                })?;
        // A folder where the file goes (the plan checked it holds no
        // uncommitted work) is removed relative to the opened parent.
        if fd.is_dir(name) {
            fd.remove_tree(name).map_err(RepoError::io(dest))?;
        }
        if e.kind == EntryKind::Symlink {
            let target = self.store.get(&e.id)?;
            return fd
                .symlink(name, std::ffi::OsStr::from_bytes(&target))
                .map_err(RepoError::io(dest));
        }
        let mode = if e.kind == EntryKind::Executable {
            0o755
        } else {
            0o644
        };
        let mut failed: Option<RepoError> = None;
        // A file whose content was purged is not written, and a copy of it
        // in the way is removed; a table whose file was purged is written
        // from its rows kept (D86).
        let rebuild = if self.is_purged(&e.id) {
            self.store.purged().tables.get(&e.id).cloned()
        } else {
            None
        };
        if rebuild.is_none() && self.is_purged(&e.id) {
            fd.remove_file(name).map_err(RepoError::io(dest))?;
            return Ok(());
        }
        let written = fd.write_file(name, mode, &mut |f| {
            let res = match &rebuild {
                Some((manifest, table)) => self.rebuild_table(*manifest, table, f).map(|_| ()),
                None => self
                    .store
                    .copy_to(&e.id, f)
                    .map(|_| ())
                    .map_err(|err| match err {
                        crate::store::StoreError::Sink { source, .. } => RepoError::Io {
                            path: dest.to_path_buf(),
                            source,
                        },
                        other => other.into(),
                    }),
            };
            res.map_err(|err| {
                failed = Some(err);
                std::io::Error::other("reading the store failed")
            })
        });
        match (written, failed) {
            (_, Some(err)) => Err(err),
            (Err(err), None) => Err(RepoError::io(dest)(err)),
            (Ok(()), None) => {
                crate::failpoint::hit("checkout:file-written");
                Ok(())
            }
        }
    }

    /// A stat cache for files just written (their ids are known).
    fn refresh_cache(
        &self,
        base: &Path,
        want: &BTreeMap<String, FlatEntry>,
        stamp: i128,
    ) -> DatasetCache {
        // A purged file's stand-in is not its blob: never cached as it.
        let purged = self.store.purged();
        let mut cache: DatasetCache = want
            .iter()
            .filter(|(_, e)| e.kind.is_file() && purged.record_of(&e.id).is_none())
            .filter_map(|(rel, e)| {
                let meta = fs::symlink_metadata(join_abs(base, rel)).ok()?;
                Some((rel.clone(), StatEntry::new(&(&meta).into(), e.id, stamp)))
            })
            .collect();
        cache.sort_by(|a, b| crate::snapshot::path_order(&a.0, &b.0));
        cache
    }
}

impl Repo {
    /// Whether a purge erased `id` (D86): a working-tree file equal to it
    /// is written again (without what was purged) by checkout and restore.
    pub(super) fn is_purged(&self, id: &crate::id::ObjectId) -> bool {
        self.store.purge_record_of(id).is_some()
    }
}

fn same(a: &FlatEntry, b: &FlatEntry) -> bool {
    a.kind == b.kind && (a.kind == EntryKind::Tree || a.id == b.id)
}

fn join_abs(base: &Path, rel: &str) -> std::path::PathBuf {
    if rel.is_empty() {
        base.to_path_buf()
    } else {
        base.join(rel)
    }
}

/// The folder `dir` (beneath the working tree `work`) from `dirs`, opened
/// there first without following a link; `None` when it is gone.
pub(super) fn opened<'a>(
    work: &Path,
    dirs: &'a mut std::collections::HashMap<String, DirFd>,
    dir: &str,
) -> Result<Option<&'a DirFd>, RepoError> {
    if !dirs.contains_key(dir) {
        match DirFd::open_beneath(work, dir) {
            Ok(fd) => {
                dirs.insert(dir.to_owned(), fd);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => {
                return Err(RepoError::SymlinkInTheWay(work.join(dir)));
            }
            Err(e) => return Err(RepoError::io(&work.join(dir))(e)),
        }
    }
    Ok(dirs.get(dir))
}

/// The folder `dir` under `root`, opened without following a link: a link
/// (or a file) in the way is [`RepoError::SymlinkInTheWay`].
fn open_dir(root: &Path, dir: &Path) -> Result<DirFd, RepoError> {
    let rel = dir.strip_prefix(root).map_err(|_| RepoError::PathOutside {
        path: dir.to_path_buf(),
        root: root.to_path_buf(),
    })?;
    DirFd::open_beneath(root, &rel.to_string_lossy()).map_err(|e| {
        if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) {
            RepoError::SymlinkInTheWay(dir.to_path_buf())
        } else {
            RepoError::io(dir)(e)
        }
    })
}

/// Makes each folder of `rel` (a `/`-separated path) under `root`, one
/// component at a time, never following a symlink: a symlink where a
/// folder must be is refused — checkout writes nothing through a link —
/// unless `force`, which replaces the link itself (never its target). A
/// file there is uncommitted work: refused unless `force`. Each folder
/// is made relative to its parent already opened ([`DirFd::make_beneath`]);
/// the last one is returned opened.
pub(super) fn real_dirs(root: &Path, rel: &str, force: bool) -> Result<DirFd, RepoError> {
    use crate::fsutil::MakeDirError;
    DirFd::make_beneath(root, rel, force).map_err(|e| match e {
        MakeDirError::Link(at) => RepoError::SymlinkInTheWay(root.join(at)),
        MakeDirError::File(at) => RepoError::UncommittedChanges {
            paths: vec![root.join(at).display().to_string()],
        },
        MakeDirError::Io(at, e) => RepoError::io(&root.join(at))(e),
    })
}

/// Working-tree paths under a folder the target replaces by a file (or a
/// symlink) that HEAD does not hold as they are: untracked or changed work
/// the replacement would delete.
fn replaced_folders(
    dataset: &str,
    head: &BTreeMap<String, FlatEntry>,
    want: &BTreeMap<String, FlatEntry>,
    work: &BTreeMap<String, FlatEntry>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (rel, _) in want.iter().filter(|(_, t)| t.kind != EntryKind::Tree) {
        if work.get(rel).is_none_or(|w| w.kind != EntryKind::Tree) {
            continue;
        }
        let inside = |p: &String| rel.is_empty() || p.starts_with(&format!("{rel}/"));
        for (p, w) in work.iter().filter(|(p, _)| inside(p)) {
            if w.kind != EntryKind::Tree && head.get(p).is_none_or(|h| !same(h, w)) {
                out.push(super::join_path(dataset, p));
            }
        }
    }
    out
}
