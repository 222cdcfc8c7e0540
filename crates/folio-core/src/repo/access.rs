//! Access records and grants (D85): who read the plaintext of encrypted
//! data, when and why, and who may. `.folio/access` is an append-only,
//! hash-chained journal (like the operation log: docs/FORMAT.md) of
//! `read`, `grant` and `revoke` entries; `verify` checks its chain.
//!
//! What is enforced here is policy, not cryptography: a user who holds a
//! recipient's identity can decrypt with the `age` tool whatever folio
//! decides (docs/GOVERNANCE.md).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use super::chain::{Chained, ZERO, line_hash};
use super::{Repo, RepoError};
use crate::id::ObjectId;
use crate::lock::RepoLock;

/// One entry of the access log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccessEntry {
    /// Its number, from 1.
    pub seq: u64,
    /// Seconds since the epoch, UTC.
    pub time: i64,
    /// Who read, granted or revoked.
    pub actor: String,
    /// `read`, `grant` or `revoke`.
    pub kind: String,
    /// The command, as given.
    pub command: String,
    /// Why: the purpose of a read, the reason of a grant or revocation.
    pub why: String,
    /// Whom a grant or revocation is for.
    pub grantee: Option<String>,
    /// When a grant ends, seconds since the epoch.
    pub until: Option<i64>,
    /// The encrypted objects a read opened (hex ids, sorted).
    pub objects: Vec<String>,
    /// The previous entry's hash (zeros for the first).
    pub prev: String,
    /// BLAKE3 of this entry's line written with `hash` empty.
    pub hash: String,
}

impl Chained for AccessEntry {
    fn seq(&self) -> u64 {
        self.seq
    }
    fn prev(&self) -> &str {
        &self.prev
    }
    fn hash(&self) -> &str {
        &self.hash
    }
    fn with_hash(&self, h: String) -> Self {
        AccessEntry {
            hash: h,
            ..self.clone()
        }
    }
}

/// Whether `actor` may read encrypted data at `now` under the grants of
/// `entries`: when no grant was ever recorded, grants are not in force and
/// anyone holding an identity may; once one is, only an actor whose latest
/// grant runs past `now` and was not revoked since. The error says why not.
pub fn may_read(entries: &[AccessEntry], actor: &str, now: i64) -> Result<(), String> {
    if !entries.iter().any(|e| e.kind == "grant") {
        return Ok(());
    }
    let last = entries
        .iter()
        .rev()
        .find(|e| (e.kind == "grant" || e.kind == "revoke") && e.grantee.as_deref() == Some(actor));
    match last {
        Some(e) if e.kind == "grant" && e.until.is_some_and(|u| u > now) => Ok(()),
        Some(e) if e.kind == "grant" => Err(format!(
            "{actor}'s grant to read encrypted data ended {} (seq {}): ask for a new one (folio grant)",
            chrono::DateTime::from_timestamp(e.until.unwrap_or(0), 0).map_or(String::new(), |d| d
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()),
            e.seq
        )),
        Some(e) => Err(format!(
            "{actor}'s grant to read encrypted data was revoked (seq {}: {})",
            e.seq, e.why
        )),
        None => Err(format!(
            "{actor} holds no grant to read encrypted data: reads are granted (folio grant '{actor}' --until DATE --reason TEXT)"
        )),
    }
}

/// The read policy of one process (D85): why reads of encrypted data are
/// refused, if they are, and the encrypted objects it opened.
#[derive(Debug, Default)]
pub struct ReadPolicy {
    /// Why every read of encrypted data is refused (`None`: allowed).
    pub refused: Option<String>,
    /// The objects opened, shared by every repository handle of the
    /// process.
    pub opened: Arc<Mutex<BTreeSet<ObjectId>>>,
}

impl ReadPolicy {
    /// Notes that `id` was opened.
    pub(crate) fn opened(&self, id: &ObjectId) {
        if let Ok(mut s) = self.opened.lock() {
            s.insert(*id);
        }
    }
}

impl Repo {
    fn access_path(&self) -> std::path::PathBuf {
        self.dot.join("access")
    }

    /// Every entry of the access log, its chain checked.
    pub fn access_entries(&self) -> Result<Vec<AccessEntry>, RepoError> {
        super::chain::read(&self.access_path(), "access log")
    }

    /// Appends an entry (its `seq`, `prev` and `hash` are set here).
    #[allow(clippy::too_many_arguments)]
    pub fn record_access(
        &self,
        _lock: &RepoLock,
        time: i64,
        actor: &str,
        kind: &str,
        command: &str,
        why: &str,
        grantee: Option<&str>,
        until: Option<i64>,
        objects: &[ObjectId],
    ) -> Result<AccessEntry, RepoError> {
        let entries = self.access_entries()?;
        let mut e = AccessEntry {
            seq: entries.len() as u64 + 1,
            time,
            actor: actor.to_string(),
            kind: kind.to_string(),
            command: command.to_string(),
            why: why.to_string(),
            grantee: grantee.map(str::to_string),
            until,
            objects: objects.iter().map(|o| o.to_string()).collect(),
            prev: entries.last().map_or(ZERO.to_string(), |o| o.hash.clone()),
            hash: String::new(),
        };
        e.hash = line_hash(&e);
        super::chain::append(&self.access_path(), &e)?;
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, kind: &str, grantee: &str, until: Option<i64>) -> AccessEntry {
        AccessEntry {
            seq,
            time: 0,
            actor: "owner".into(),
            kind: kind.into(),
            command: String::new(),
            why: "r".into(),
            grantee: Some(grantee.into()),
            until,
            objects: Vec::new(),
            prev: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn grants_once_recorded_decide_and_the_latest_one_counts() {
        // No grant ever: not in force.
        assert!(may_read(&[], "ann", 100).is_ok());
        let mut log = vec![entry(1, "grant", "ann", Some(200))];
        assert!(may_read(&log, "ann", 100).is_ok());
        assert!(may_read(&log, "ann", 200).is_err(), "ends at `until`");
        assert!(may_read(&log, "bob", 100).is_err(), "bob holds none");
        log.push(entry(2, "revoke", "ann", None));
        assert!(
            may_read(&log, "ann", 100)
                .expect_err("revoked")
                .contains("revoked")
        );
        log.push(entry(3, "grant", "ann", Some(300)));
        assert!(may_read(&log, "ann", 250).is_ok());
    }
}
