//! folio: version ML training datasets as capital.
//!
//! The library owns everything folio does; the `folio` binary only parses
//! arguments, calls it and renders results. The library never prints,
//! reads the environment or exits.
//!
//! ```
//! use folio_core::repo::{CommitOptions, Repo};
//! use folio_core::progress::NoProgress;
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::create_dir(dir.path().join("data"))?;
//! std::fs::write(dir.path().join("data/a.txt"), "hello\n")?;
//! let repo = Repo::init(dir.path())?;
//! let lock = repo.lock(false)?;
//! let out = repo.commit(&lock, &CommitOptions {
//!     paths: vec![dir.path().join("data")],
//!     message: "first".into(),
//!     author: "Ada".into(),
//!     time: 0,
//!     allow_empty: false,
//!     tables: Default::default(),
//!     source: None,
//!     meta: Default::default(),
//!     meta_file: None,
//! }, &NoProgress)?;
//! assert!(out.commit.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Test code prepares input files with plain `std::fs` calls; the library
// itself creates files under `.folio/` only through `fsutil` (clippy.toml).
#![cfg_attr(test, allow(clippy::disallowed_methods))]

// The public API: what the command line and a future Python binding need.
pub mod book;
pub mod config;
pub mod crypt;
pub mod drift;
pub mod error;
pub mod failpoint;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod id;
pub mod ledger;
pub mod lock;
pub mod object;
pub mod progress;
pub mod purge;
pub mod refs;
pub mod remote;
pub mod repo;
pub mod retention;
pub mod table;

// Internals: the store, the derived index, scanning and the atomic-write
// helper. Their errors are named here because repository errors wrap them.
mod fsutil;
mod index;
mod snapshot;
mod store;

pub use fsutil::{TempFile, write_atomic};
pub use index::IndexError;
pub use snapshot::{FileChanges, HashStats, SnapshotError};
pub use store::StoreError;

#[cfg(test)]
mod golden;
