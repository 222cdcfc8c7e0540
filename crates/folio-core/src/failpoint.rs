//! Failpoints: named steps of every write where a crash test stops the
//! process, as a power cut or `kill -9` would, to check that what is left
//! is sound (docs/RELIABILITY.md, "A crash matrix").
//!
//! One failpoint is armed per process, by the embedding program (the
//! `folio` command arms the one `FOLIO_FAILPOINT` names: `NAME`, or
//! `NAME@N` for its Nth hit); the library never reads the environment.
//! An armed failpoint aborts the process when reached (no destructor
//! runs, no temporary file is cleaned); an unarmed one costs an atomic
//! load. The names are [`NAMES`].

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Every failpoint, in the order a write reaches them.
pub const NAMES: &[&str] = &[
    // fsutil: a file written and synced, not yet renamed into place
    // (refs, HEAD, the pending list, the config, pack indexes, …).
    "write-atomic:before-rename",
    // A pack's data file in place, its index not yet written.
    "pack:data-persisted",
    // commit: its objects stored, HEAD not moved.
    "commit:objects-stored",
    // commit: HEAD moved, the branch's pending list not yet cleared.
    "commit:head-moved",
    // commit: done, the derived indexes not yet updated.
    "commit:before-index",
    // annotate and every ledger write: the batch stored, not yet listed
    // as pending.
    "ledger:batch-stored",
    // checkout: some files written, not all.
    "checkout:file-written",
    // gc --prune: the new pack written, the old ones not yet removed.
    "gc:repacked",
    // The operation log: the command's work done, not yet journalled.
    "oplog:before-append",
    // push: every object uploaded, the remote's ref not yet moved.
    "push:uploaded",
    // purge: the record listed (the store answers from it), the erased
    // copies not yet removed.
    "purge:recorded",
    // push: a purge's copies deleted on the remote, its record not yet
    // listed there.
    "push:purged",
    // reseal: the sealed copies written, the old ones not yet removed.
    "reseal:copied",
    // reseal: the record kept, the plaintext chunks not yet erased.
    "reseal:recorded",
    // push: a reseal's new copies uploaded and old ones deleted on the
    // remote, its record not yet listed there.
    "push:resealed",
];

static ARMED: OnceLock<(String, u64)> = OnceLock::new();
static HITS: AtomicU64 = AtomicU64::new(0);

/// Arms the failpoint `spec` names (`NAME` or `NAME@N`); an unknown name
/// is an error listing the known ones. Only the first call counts.
pub fn arm(spec: &str) -> Result<(), String> {
    let (name, nth) = match spec.rsplit_once('@') {
        Some((n, k)) => (
            n,
            k.parse::<u64>()
                .ok()
                .filter(|k| *k > 0)
                .ok_or_else(|| format!("failpoint {spec}: the count after @ is a number from 1"))?,
        ),
        None => (spec, 1),
    };
    if !NAMES.contains(&name) {
        return Err(format!(
            "unknown failpoint '{name}': the failpoints are {}",
            NAMES.join(", ")
        ));
    }
    let _ = ARMED.set((name.to_string(), nth));
    Ok(())
}

/// Reached a failpoint: aborts the process when it is the armed one (at
/// its Nth hit).
pub(crate) fn hit(name: &str) {
    if let Some((armed, nth)) = ARMED.get()
        && armed == name
        && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *nth
    {
        std::process::abort();
    }
}
