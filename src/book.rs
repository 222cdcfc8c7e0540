//! The book: datasets as capital assets — lots placed in service by
//! commits, depreciated by policy, disposed of when their examples leave
//! (docs/BOOK.md).

pub mod schedule;

pub use schedule::{Convention, Method, charges};
