//! Access records and grants (D85): who read the plaintext of encrypted
//! data, when and why, and who may. `.folio/access` is an append-only,
//! hash-chained journal (like the operation log: docs/FORMAT.md) of
//! `read`, `grant` and `revoke` entries; `verify` checks its chain.
//!
//! What is enforced here is policy, not cryptography: a user who holds a
//! recipient's identity can decrypt with the `age` tool whatever folio
//! decides (docs/GOVERNANCE.md).

use std::collections::{BTreeSet, HashMap};
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
    /// The sensitivity classes a grant covers (empty: every class).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
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
/// grant runs past `now` and was not revoked since. `Ok(None)`: every
/// class; `Ok(Some(classes))`: only objects whose examples are all of
/// these sensitivity classes. The error says why not.
pub fn may_read(
    entries: &[AccessEntry],
    actor: &str,
    now: i64,
) -> Result<Option<BTreeSet<String>>, String> {
    if !entries.iter().any(|e| e.kind == "grant") {
        return Ok(None);
    }
    let last = entries
        .iter()
        .rev()
        .find(|e| (e.kind == "grant" || e.kind == "revoke") && e.grantee.as_deref() == Some(actor));
    match last {
        Some(e) if e.kind == "grant" && e.until.is_some_and(|u| u > now) => {
            Ok((!e.classes.is_empty()).then(|| e.classes.iter().cloned().collect()))
        }
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
    /// A grant for some classes only: which, and the classes of the
    /// examples each object holds ([`Repo::object_classes`]).
    pub classes: Option<ClassGate>,
}

/// What a grant limited to some sensitivity classes lets be opened.
#[derive(Debug, Default)]
pub struct ClassGate {
    /// The classes granted.
    pub allowed: BTreeSet<String>,
    /// The classes of the examples each object holds (an object absent
    /// holds no classified example: `unclassified`).
    pub of: HashMap<ObjectId, BTreeSet<String>>,
}

/// The class of an example no sensitivity was recorded for.
pub const UNCLASSIFIED: &str = "unclassified";

impl ReadPolicy {
    /// Why opening `id` is outside the grant, if it is.
    pub(crate) fn outside_grant(&self, id: &ObjectId) -> Option<String> {
        let gate = self.classes.as_ref()?;
        let unclassified: BTreeSet<String> = [UNCLASSIFIED.to_string()].into();
        let classes = gate.of.get(id).unwrap_or(&unclassified);
        let missing: Vec<&str> = classes
            .iter()
            .filter(|c| !gate.allowed.contains(*c))
            .map(String::as_str)
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "it holds {} data and the grant covers {} only",
                missing.join(", "),
                gate.allowed.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }

    /// Notes that `id` was opened.
    pub(crate) fn opened(&self, id: &ObjectId) {
        if let Ok(mut s) = self.opened.lock() {
            s.insert(*id);
        }
    }
}

impl Repo {
    /// The latest sensitivity of every example the ledger (as readers see
    /// it now) classified; the others are not kept (each state folded and
    /// cut to its class, D94).
    pub(crate) fn classified(&self) -> Result<crate::ledger::IdMap<String>, RepoError> {
        let parts = self.ledger_view()?.fold_states(&Vec::new, &|v, id, st| {
            if let Some(s) = st.sensitivity {
                v.push((id, s));
            }
        })?;
        let mut out = crate::ledger::IdMap::default();
        out.reserve(parts.iter().map(Vec::len).sum());
        out.extend(parts.into_iter().flatten());
        Ok(out)
    }

    /// The sensitivity classes of the examples each encrypted object
    /// holds, over all history, by the ledger as readers see it now (a
    /// file: its example's; a sealed row chunk: its rows', read from its
    /// skeleton; a table file: all its rows'). An example no sensitivity
    /// was recorded for is [`UNCLASSIFIED`]. For grants limited to some
    /// classes (D85).
    pub fn object_classes(&self) -> Result<HashMap<ObjectId, BTreeSet<String>>, RepoError> {
        use crate::ledger::ExampleId;
        let classes = self.classified()?;
        let class = |id: &ExampleId| {
            classes
                .get(id)
                .cloned()
                .unwrap_or_else(|| UNCLASSIFIED.to_string())
        };
        let mut out: HashMap<ObjectId, BTreeSet<String>> = HashMap::new();
        let mut tables = Vec::new();
        self.walk_history(
            &mut |_, _, _, path, e| {
                out.entry(e.id)
                    .or_default()
                    .insert(class(&ExampleId::file(&path)));
                Ok(())
            },
            &mut |_, t| {
                tables.push(t.clone());
                Ok(())
            },
        )?;
        for t in &tables {
            let m = self.read_manifest(t.manifest)?;
            let mut all = BTreeSet::new();
            for ch in &m.chunks {
                // Only a sealed chunk is gated; its skeleton names its rows.
                let Some(s) = ch.skeleton else { continue };
                let rows = crate::table::manifest::decode_chunk(s.0, &self.store.get(&s.0)?)?;
                let classes: BTreeSet<String> = rows
                    .iter()
                    .map(|r| class(&ExampleId::row(&t.path, &r.ident)))
                    .collect();
                all.extend(classes.iter().cloned());
                out.entry(ch.id.0).or_default().extend(classes);
            }
            if !all.is_empty() {
                // The table file's own class is its rows', not its path's.
                for (blob, _) in m.blobs() {
                    let e = out.entry(blob).or_default();
                    e.remove(UNCLASSIFIED);
                    e.extend(all.iter().cloned());
                }
            }
        }
        Ok(out)
    }

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
        classes: &[String],
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
            classes: classes.to_vec(),
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
            classes: Vec::new(),
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
        assert_eq!(may_read(&log, "ann", 250), Ok(None), "every class");
        // A grant for some classes limits what may be opened.
        let mut pii = entry(4, "grant", "ann", Some(400));
        pii.classes = vec!["pii".into()];
        log.push(pii);
        assert_eq!(
            may_read(&log, "ann", 350),
            Ok(Some(["pii".to_string()].into()))
        );
        let id = ObjectId::of(b"a row chunk");
        let gate = |of: &[(&ObjectId, &[&str])]| ReadPolicy {
            classes: Some(ClassGate {
                allowed: ["pii".to_string()].into(),
                of: of
                    .iter()
                    .map(|(i, c)| (**i, c.iter().map(|x| x.to_string()).collect()))
                    .collect(),
            }),
            ..ReadPolicy::default()
        };
        assert_eq!(gate(&[(&id, &["pii"])]).outside_grant(&id), None);
        let why = gate(&[(&id, &["pii", "confidential"])])
            .outside_grant(&id)
            .expect("outside");
        assert!(why.contains("confidential"), "{why}");
        assert!(
            gate(&[])
                .outside_grant(&id)
                .expect("outside")
                .contains(UNCLASSIFIED)
        );
    }
}
