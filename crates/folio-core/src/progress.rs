//! Progress reporting: the library calls this trait, the CLI draws it.

/// Receives progress of long operations. Implementations must be cheap:
/// `advance` is called from worker threads once per item.
pub trait Progress: Sync {
    /// A phase starts with `total` bytes of work.
    fn begin(&self, what: &str, total: u64);
    /// A phase starts with `total` items of work (files, rows, commits).
    fn begin_items(&self, what: &str, total: u64) {
        self.begin(what, total);
    }
    /// `n` more units (bytes, or items) are done.
    fn advance(&self, n: u64);
    /// `n` more objects moved (transfers count bytes and objects both).
    fn objects(&self, n: u64) {
        let _ = n;
    }
    /// The phase is over.
    fn end(&self);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn end(&self) {}
}
