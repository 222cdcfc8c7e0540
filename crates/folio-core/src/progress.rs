//! Progress reporting: the library calls this trait, the CLI draws it.

/// Receives progress of long operations. Implementations must be cheap:
/// `advance` is called from worker threads once per item.
pub trait Progress: Sync {
    /// A phase starts with `total` units of work (bytes or items).
    fn begin(&self, what: &str, total: u64);
    /// `n` more units are done.
    fn advance(&self, n: u64);
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
