//! Atomic, durable file writes: the one place that creates files in `.folio/`.
//!
//! Every write goes to a temporary file in the destination folder, is
//! fsynced, renamed over its final name, and the folder is fsynced, so a
//! crash at any instant leaves either the old file or the complete new one.
//!
//! `clippy.toml` forbids the raw `std::fs` calls that create or replace
//! files everywhere else; this module is where they are allowed.
#![allow(clippy::disallowed_methods)]

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Prefix of every temporary file; `gc` removes stale ones.
pub const TEMP_PREFIX: &str = ".tmp-folio-";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary file in the destination folder, renamed into place by
/// [`TempFile::persist`] and removed on drop otherwise.
pub struct TempFile {
    path: PathBuf,
    file: Option<File>,
}

/// Refuses a path that is a symlink: nothing folio writes may be reached
/// through a link (a repository or working tree handed to us could point
/// the write elsewhere). The error's kind is `InvalidData`: damage, not a
/// failing disk.
pub fn refuse_symlink(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is a symlink: folio never writes through a link; replace it with the file or folder itself",
                path.display()
            ),
        )),
        _ => Ok(()),
    }
}

/// Opens a file for appending or locking in place, refusing a symlink
/// (`O_NOFOLLOW`): for the lock file and ledger segments, the only files
/// under `.folio` not replaced whole.
pub fn open_in_place(path: &Path, create: bool) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} is a symlink: folio never writes through a link",
                        path.display()
                    ),
                )
            } else {
                e
            }
        })
}

impl TempFile {
    /// Creates a new empty temporary file in `dir` (never through a symlink).
    pub fn new_in(dir: &Path) -> io::Result<Self> {
        refuse_symlink(dir)?;
        Self::create(dir, 0o666)
    }

    fn create(dir: &Path, mode: u32) -> io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt as _;
        static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
        let pid = *PID.get_or_init(std::process::id);
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("{TEMP_PREFIX}{pid}-{n}");
            let path = dir.join(name);
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(TempFile {
                        path,
                        file: Some(file),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The open file, for writing.
    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("file is present until persist")
    }

    /// Path of the temporary file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Fsyncs the file, renames it to `dest` and fsyncs the folder.
    pub fn persist(mut self, dest: &Path) -> io::Result<()> {
        let file = self.file.take().expect("file is present until persist");
        file.sync_all()?;
        drop(file);
        crate::failpoint::hit("write-atomic:before-rename");
        fs::rename(&self.path, dest)?;
        self.path = PathBuf::new();
        sync_dir(dest.parent().unwrap_or(Path::new(".")))
    }

    /// Like [`TempFile::persist`], but never replaces an existing `dest`
    /// (a hard link, which fails when the name is taken): returns `false`
    /// and drops the temporary file when `dest` exists. For create-only
    /// writes, such as a folder remote's refs and objects.
    pub fn persist_new(mut self, dest: &Path) -> io::Result<bool> {
        let file = self.file.take().expect("file is present until persist");
        file.sync_all()?;
        drop(file);
        match fs::hard_link(&self.path, dest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(e),
        }
        sync_dir(dest.parent().unwrap_or(Path::new(".")))?;
        Ok(true)
    }
}

impl Write for TempFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file().flush()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Writes `bytes` to `dest` atomically and durably.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let mut tmp = TempFile::new_in(dir)?;
    tmp.file().write_all(bytes)?;
    tmp.persist(dest)
}

/// Renames `from` to `to` (same folder or file system) and fsyncs the
/// destination's folder: for whole folders built aside (`init`) and for
/// entries that are not regular files (symlinks).
pub fn rename_durable(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)?;
    sync_dir(to.parent().unwrap_or(Path::new(".")))
}

/// Fsyncs a folder so that renames into it survive a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Creates `dir` and its parents, fsyncing each folder it creates' parent.
pub fn create_dir_durable(dir: &Path) -> io::Result<()> {
    refuse_symlink(dir)?;
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_durable(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => sync_dir(dir.parent().unwrap_or(Path::new("."))),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// A folder opened without following links, whose entries are written
/// relative to it (`openat`, `renameat`, `symlinkat`, through rustix's safe
/// calls): once opened, no later swap of a parent for a symlink can
/// redirect a write elsewhere — the check and the write are one. For
/// checkouts into working trees.
pub struct DirFd {
    fd: std::os::fd::OwnedFd,
}

impl DirFd {
    /// Opens the folder `rel` (components separated by `/`) beneath `root`
    /// (opened as given: the user's choice of destination), every
    /// component opened with `O_NOFOLLOW | O_DIRECTORY`: a symlink or a
    /// file in the way is an error (`ELOOP`, `ENOTDIR`), never followed.
    pub fn open_beneath(root: &Path, rel: &str) -> io::Result<DirFd> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let mut fd = rustix::fs::open(root, flags, Mode::empty())?;
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            if part == "." || part == ".." {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("a path component '{part}'"),
                ));
            }
            fd = rustix::fs::openat(&fd, part, flags | OFlags::NOFOLLOW, Mode::empty())?;
        }
        Ok(DirFd { fd })
    }

    /// Replaces (or creates) the file `name` in this folder atomically: a
    /// temporary file created with `O_EXCL | O_NOFOLLOW` and `mode` (the
    /// umask applies), filled by `fill`, renamed over `name`. Without
    /// fsync: working-tree files are written atomically, not durably.
    pub fn write_file(
        &self,
        name: &str,
        mode: u32,
        fill: &mut dyn FnMut(&mut File) -> io::Result<()>,
    ) -> io::Result<()> {
        use rustix::fs::{Mode, OFlags};
        static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
        let pid = *PID.get_or_init(std::process::id);
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let (tmp, mut file) = loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let tmp = format!("{TEMP_PREFIX}{pid}-{n}");
            match rustix::fs::openat(&self.fd, tmp.as_str(), flags, Mode::from_raw_mode(mode)) {
                Ok(fd) => break (tmp, File::from(fd)),
                Err(rustix::io::Errno::EXIST) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let done = fill(&mut file).and_then(|()| {
            drop(file);
            self.rename_into(&tmp, name)
        });
        if done.is_err() {
            let _ = rustix::fs::unlinkat(&self.fd, tmp.as_str(), rustix::fs::AtFlags::empty());
        }
        done
    }

    /// Replaces (or creates) `name` in this folder by a symlink to
    /// `target`, atomically (a temporary link renamed over it).
    pub fn symlink(&self, name: &str, target: &std::ffi::OsStr) -> io::Result<()> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = format!("{TEMP_PREFIX}{}-link-{n}", std::process::id());
        rustix::fs::symlinkat(target, &self.fd, tmp.as_str())?;
        let done = self.rename_into(&tmp, name);
        if done.is_err() {
            let _ = rustix::fs::unlinkat(&self.fd, tmp.as_str(), rustix::fs::AtFlags::empty());
        }
        done
    }

    fn rename_into(&self, tmp: &str, name: &str) -> io::Result<()> {
        Ok(rustix::fs::renameat(&self.fd, tmp, &self.fd, name)?)
    }

    /// Opens the folder `rel` beneath `root` as [`DirFd::open_beneath`]
    /// does, making each missing folder on the way one component at a
    /// time (`mkdirat`, the umask applies) relative to its parent already
    /// opened: no swap of a parent for a link, before or during the call,
    /// can make a folder (or anything) appear outside `root`. A symlink or
    /// a file where a folder must be is an error naming it, unless
    /// `replace`, which removes that entry itself — the link, never its
    /// target — and makes the folder.
    pub fn make_beneath(root: &Path, rel: &str, replace: bool) -> Result<DirFd, MakeDirError> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let mut fd = rustix::fs::open(root, flags, Mode::empty())
            .map_err(|e| MakeDirError::Io(String::new(), e.into()))?;
        let mut at = String::new();
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            if !at.is_empty() {
                at.push('/');
            }
            at.push_str(part);
            if part == "." || part == ".." {
                let e = io::Error::new(io::ErrorKind::InvalidInput, "a path component '..'");
                return Err(MakeDirError::Io(at, e));
            }
            let open = |fd: &std::os::fd::OwnedFd| {
                rustix::fs::openat(fd, part, flags | OFlags::NOFOLLOW, Mode::empty())
            };
            let io_err = |at: &str, e: rustix::io::Errno| MakeDirError::Io(at.to_owned(), e.into());
            let next = match open(&fd) {
                Ok(next) => next,
                Err(rustix::io::Errno::NOENT) => {
                    match rustix::fs::mkdirat(&fd, part, Mode::from_raw_mode(0o777)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(io_err(&at, e)),
                    }
                    open(&fd).map_err(|e| in_the_way(&fd, part, &at, e))?
                }
                Err(e @ (rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR)) => {
                    let err = in_the_way(&fd, part, &at, e);
                    if !replace || matches!(err, MakeDirError::Io(..)) {
                        return Err(err);
                    }
                    rustix::fs::unlinkat(&fd, part, rustix::fs::AtFlags::empty())
                        .map_err(|e| io_err(&at, e))?;
                    match rustix::fs::mkdirat(&fd, part, Mode::from_raw_mode(0o777)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(io_err(&at, e)),
                    }
                    open(&fd).map_err(|e| in_the_way(&fd, part, &at, e))?
                }
                Err(e) => return Err(io_err(&at, e)),
            };
            fd = next;
        }
        Ok(DirFd { fd })
    }

    /// Removes the entry `name` of this folder that is not a folder (a
    /// file or a link — the link itself). `Ok(false)` when it is absent.
    pub fn remove_file(&self, name: &str) -> io::Result<bool> {
        match rustix::fs::unlinkat(&self.fd, name, rustix::fs::AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::NOENT) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the folder `name` of this folder when it is empty; `false`
    /// when it is absent, not empty, or not a folder.
    pub fn remove_empty_dir(&self, name: &str) -> bool {
        rustix::fs::unlinkat(&self.fd, name, rustix::fs::AtFlags::REMOVEDIR).is_ok()
    }

    /// Whether `name` in this folder is a folder (a link to one is not).
    pub fn is_dir(&self, name: &str) -> bool {
        rustix::fs::statat(&self.fd, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|st| {
            rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory
        })
    }

    /// Removes the folder `name` of this folder and everything in it,
    /// every entry relative to its own opened folder and no link
    /// followed (a link inside is removed, its target kept).
    pub fn remove_tree(&self, name: &str) -> io::Result<()> {
        let name = std::ffi::CString::new(name)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a name holding NUL"))?;
        remove_tree_in(&self.fd, &name, 0)
    }
}

/// [`DirFd::remove_tree`] of `name` in `parent`, `depth` folders down.
fn remove_tree_in(
    parent: &std::os::fd::OwnedFd,
    name: &std::ffi::CStr,
    depth: usize,
) -> io::Result<()> {
    use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    // Deeper than any tree folio checks out (MAX_DEPTH of the walker is
    // far below): a bound, not recursion without end.
    if depth > 4096 {
        return Err(io::Error::other("folders nested more than 4096 deep"));
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let sub = rustix::fs::openat(parent, name, flags, Mode::empty())?;
    let mut names = Vec::new();
    let mut dir = rustix::fs::Dir::read_from(&sub)?;
    while let Some(entry) = dir.read() {
        let entry = entry?;
        let n = entry.file_name().to_bytes();
        if n == b"." || n == b".." {
            continue;
        }
        names.push((entry.file_name().to_owned(), entry.file_type()));
    }
    for (n, kind) in names {
        let is_dir = match kind {
            FileType::Directory => true,
            FileType::Unknown => rustix::fs::statat(&sub, &n, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory),
            _ => false,
        };
        if is_dir {
            remove_tree_in(&sub, &n, depth + 1)?;
        } else {
            rustix::fs::unlinkat(&sub, &n, AtFlags::empty())?;
        }
    }
    rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR)?;
    Ok(())
}

/// Why [`DirFd::make_beneath`] could not make a folder; each names the
/// path beneath the root where it stopped.
#[derive(Debug)]
pub enum MakeDirError {
    /// A symlink where a folder must be.
    Link(String),
    /// A file (or anything not a folder) where a folder must be.
    File(String),
    /// The system refused.
    Io(String, io::Error),
}

/// What stands at `part` of `fd`, which could not be opened as a folder.
fn in_the_way(
    fd: &std::os::fd::OwnedFd,
    part: &str,
    at: &str,
    e: rustix::io::Errno,
) -> MakeDirError {
    use rustix::fs::FileType;
    match rustix::fs::statat(fd, part, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => match FileType::from_raw_mode(st.st_mode) {
            FileType::Symlink => MakeDirError::Link(at.to_owned()),
            FileType::Directory => MakeDirError::Io(at.to_owned(), e.into()),
            _ => MakeDirError::File(at.to_owned()),
        },
        Err(_) => MakeDirError::Io(at.to_owned(), e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_whole_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("f");
        write_atomic(&p, b"first version, long").expect("write");
        write_atomic(&p, b"second").expect("write");
        assert_eq!(fs::read(&p).expect("read"), b"second");
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn dropped_temp_file_is_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = {
            let mut t = TempFile::new_in(dir.path()).expect("temp");
            t.file().write_all(b"x").expect("write");
            t.path().to_path_buf()
        };
        assert!(!path.exists());
    }

    #[test]
    fn folders_are_made_beneath_the_root_never_through_a_link() {
        let root = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        let r = root.path();
        // Missing folders are made one at a time, the last one opened.
        let fd = DirFd::make_beneath(r, "a/b/c", false).expect("made");
        fd.write_file("f", 0o644, &mut |f| f.write_all(b"x"))
            .expect("write");
        assert_eq!(fs::read(r.join("a/b/c/f")).expect("read"), b"x");
        // A link where a folder must be: named, never followed.
        std::os::unix::fs::symlink(outside.path(), r.join("a/link")).expect("link");
        match DirFd::make_beneath(r, "a/link/new", false) {
            Err(MakeDirError::Link(at)) => assert_eq!(at, "a/link"),
            other => panic!("expected the link to be named, got {:?}", other.err()),
        }
        // A file where a folder must be.
        fs::write(r.join("a/file"), b"work").expect("write");
        match DirFd::make_beneath(r, "a/file/new", false) {
            Err(MakeDirError::File(at)) => assert_eq!(at, "a/file"),
            other => panic!("expected the file to be named, got {:?}", other.err()),
        }
        // Replacing removes the link itself, never what it points at.
        fs::write(outside.path().join("kept"), b"k").expect("write");
        DirFd::make_beneath(r, "a/link/new", true).expect("replaced");
        assert!(r.join("a/link/new").is_dir());
        assert!(
            !fs::symlink_metadata(r.join("a/link"))
                .expect("stat")
                .file_type()
                .is_symlink()
        );
        let outside_names: Vec<_> = fs::read_dir(outside.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(outside_names, vec![std::ffi::OsString::from("kept")]);
        assert!(matches!(
            DirFd::make_beneath(r, "a/../x", false),
            Err(MakeDirError::Io(..))
        ));
    }

    #[test]
    fn a_removed_tree_keeps_what_its_links_point_at() {
        let root = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        let r = root.path();
        fs::create_dir_all(r.join("t/u/v")).expect("mkdir");
        fs::write(r.join("t/u/v/f"), b"x").expect("write");
        fs::write(outside.path().join("kept"), b"k").expect("write");
        std::os::unix::fs::symlink(outside.path(), r.join("t/u/link")).expect("link");
        let fd = DirFd::open_beneath(r, "").expect("open");
        assert!(fd.is_dir("t"));
        fd.remove_tree("t").expect("removed");
        assert!(!r.join("t").exists());
        assert_eq!(fs::read(outside.path().join("kept")).expect("read"), b"k");
        // A link is never removed as a tree, and a file is removed once.
        std::os::unix::fs::symlink(outside.path(), r.join("l")).expect("link");
        assert!(!fd.is_dir("l"));
        assert!(fd.remove_tree("l").is_err());
        assert!(fd.remove_file("l").expect("unlink"));
        assert!(!fd.remove_file("l").expect("absent"));
        assert!(outside.path().join("kept").exists());
    }
}
