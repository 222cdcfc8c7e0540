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
}
