//! Purge records (D86): what `folio purge` erased, by hash, by whom and
//! why. A record is an ordinary object of the store (`folio-purge 1`),
//! named by the `purged` ledger events it explains and listed in
//! `.folio/purges`; the store consults the records when an object is not
//! there (docs/FORMAT.md, "Purge records").

use serde::{Deserialize, Serialize};

use crate::id::ObjectId;
use crate::table::manifest::{REDACTED_TAG, decode_chunk};

/// First line of a purge record.
pub const PURGE_TAG: &[u8] = b"folio-purge 1\n";

/// One example a purge erased.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PurgedExample {
    /// Its example id (64 hex digits).
    pub id: String,
    /// Where it was: a file's path, `TABLE:KEY` or `TABLE#HASH` for a row.
    pub locator: String,
}

/// What one purge erased. Encoded as [`PURGE_TAG`] then this struct as
/// compact JSON (fields in this order, lists sorted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeRecord {
    /// Who purged.
    pub actor: String,
    /// When, seconds since the epoch.
    pub time: i64,
    /// Why.
    pub reason: String,
    /// The examples erased, by id.
    pub examples: Vec<PurgedExample>,
    /// Objects erased with nothing in their place: the files' blobs, the
    /// table files that held purged rows, and the chunks only they used.
    pub erased: Vec<ObjectId>,
    /// Row chunks replaced: (the chunk, its redacted replacement).
    pub redacted: Vec<(ObjectId, ObjectId)>,
    /// The erased table files: (the file's blob, a row manifest of it,
    /// the table's path), so a checkout writes it again from the rows
    /// kept.
    pub tables: Vec<(ObjectId, ObjectId, String)>,
    /// The content hashes of the row versions purged (`BLAKE3("folio-row
    /// 1\n" || row)`), and the blob ids of the files purged: what was
    /// erased, by hash.
    pub hashes: Vec<ObjectId>,
}

impl PurgeRecord {
    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = PURGE_TAG.to_vec();
        out.extend_from_slice(&serde_json::to_vec(self).expect("a record serializes"));
        out
    }

    /// Reads a record.
    pub fn decode(bytes: &[u8]) -> Result<PurgeRecord, String> {
        let body = bytes
            .strip_prefix(PURGE_TAG)
            .ok_or("not a purge record (no `folio-purge 1` line)")?;
        serde_json::from_slice(body).map_err(|e| format!("a purge record does not decode: {e}"))
    }

    /// Adds what this record erased to `map`.
    pub(crate) fn apply_to(&self, record: ObjectId, map: &mut crate::store::Purged) {
        for id in &self.erased {
            map.erased.insert(*id, record);
        }
        for (orig, repl) in &self.redacted {
            map.redacted.insert(*orig, (*repl, record));
        }
        map.hashes.extend(self.hashes.iter().copied());
        for (blob, manifest, path) in &self.tables {
            map.tables
                .insert(*blob, (crate::id::ManifestId(*manifest), path.clone()));
        }
    }
}

/// Checks that `bytes` are a well-formed redacted chunk standing for
/// `original`.
pub fn check_redacted(original: &ObjectId, bytes: &[u8]) -> Result<(), String> {
    let rest = bytes.strip_prefix(REDACTED_TAG).ok_or_else(|| {
        format!(
            "the replacement of purged chunk {} is not a redacted chunk",
            original.short(12)
        )
    })?;
    if rest.get(..32) != Some(original.as_bytes()) {
        return Err(format!(
            "the replacement of purged chunk {} names another chunk",
            original.short(12)
        ));
    }
    decode_chunk(*original, bytes)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_refuse_other_bytes() {
        let r = PurgeRecord {
            actor: "DPO <dpo@example.com>".into(),
            time: 1_780_000_000,
            reason: "Art. 17 request 2026-41".into(),
            examples: vec![PurgedExample {
                id: "ab".repeat(32),
                locator: "people.csv:42".into(),
            }],
            erased: vec![ObjectId::of(b"file")],
            redacted: vec![(ObjectId::of(b"a"), ObjectId::of(b"b"))],
            tables: vec![(ObjectId::of(b"t"), ObjectId::of(b"m"), "people.csv".into())],
            hashes: vec![ObjectId::of(b"row")],
        };
        let bytes = r.encode();
        assert!(bytes.starts_with(PURGE_TAG));
        assert_eq!(PurgeRecord::decode(&bytes).expect("decodes"), r);
        assert!(PurgeRecord::decode(b"folio-purge 1\n{").is_err());
        assert!(PurgeRecord::decode(&bytes[1..]).is_err());
        let mut map = crate::store::Purged::default();
        r.apply_to(ObjectId::of(&bytes), &mut map);
        assert_eq!(
            map.record_of(&ObjectId::of(b"a")),
            Some(ObjectId::of(&bytes))
        );
        assert_eq!(
            map.record_of(&ObjectId::of(b"file")),
            Some(ObjectId::of(&bytes))
        );
        assert_eq!(map.record_of(&ObjectId::of(b"b")), None);
    }
}
