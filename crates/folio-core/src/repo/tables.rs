//! Table files of datasets: finding them and building (or reusing) their
//! row manifests.

use std::collections::HashMap;

use rayon::prelude::*;

use super::{Repo, RepoError};
use crate::config::Config;
use crate::id::ObjectId;
use crate::object::TableRef;
use crate::snapshot::Scan;
use crate::store::Store;
use crate::table::manifest::{self, ChunkSource, Chunks, Manifest, TableSettings};
use crate::table::{Format, TableError};

impl ChunkSource for Store {
    fn chunk(&self, id: &ObjectId) -> Result<Vec<u8>, TableError> {
        self.get(id).map_err(|e| match e {
            crate::store::StoreError::Crypt(
                c @ (crate::crypt::CryptError::Locked(_)
                | crate::crypt::CryptError::NotForYou(_)
                | crate::crypt::CryptError::Refused(..)),
            ) => TableError::Sealed(*id, c.to_string()),
            e => TableError::Corrupt(*id, e.to_string()),
        })
    }
}

/// A table file found in a scan.
#[derive(Debug, Clone)]
pub struct TableFile {
    /// Path relative to the working tree (a sharded table's name).
    pub path: String,
    /// Blob id of its content.
    pub blob: ObjectId,
    /// How to read it.
    pub settings: TableSettings,
    /// The shards of a sharded table (D91), in path order; empty for a
    /// table of one file. `blob` is then their set's id.
    pub shards: Vec<crate::table::manifest::ShardFile>,
}

/// A table file found: its path, format and blob.
type Found = (String, Format, ObjectId);

fn unreadable(repo: &Repo, table: &str, reason: String) -> RepoError {
    RepoError::Table(TableError::Unreadable {
        path: repo.abs(table),
        reason,
    })
}

/// The sharded table a file named `NAME-00000-of-00008.EXT` belongs to
/// (D91): `FOLDER/NAME`, for a file at `FOLDER/` whose name has a table
/// format's extension.
pub fn shard_table_of(path: &str) -> Option<String> {
    let (folder, file) = match path.rsplit_once('/') {
        Some((d, f)) => (Some(d), f),
        None => (None, path),
    };
    let (stem, _) = file.rsplit_once('.')?;
    let (rest, total) = stem.rsplit_once("-of-")?;
    let (name, index) = rest.rsplit_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if name.is_empty() || !digits(index) || !digits(total) {
        return None;
    }
    Some(match folder {
        Some(d) => format!("{d}/{name}"),
        None => name.to_string(),
    })
}

/// A table's manifest, and its chunks when it was just built.
#[derive(Debug)]
pub struct BuiltTable {
    /// Path relative to the working tree.
    pub path: String,
    /// The manifest.
    pub manifest: Manifest,
    /// Newly built chunks (`None` when the parent's manifest was reused).
    pub chunks: Option<crate::table::chunkset::ChunkSet>,
    /// The skeletons of new chunks of an encrypted table (D83), as stored.
    pub skeletons: Chunks,
}

impl BuiltTable {
    /// The reference a commit records.
    pub fn table_ref(&self) -> TableRef {
        TableRef {
            path: self.path.clone(),
            manifest: self.manifest.id(),
        }
    }
}

/// How tables are read on this commit or diff.
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    /// Key columns given on the command line for the one table read
    /// (override the config; refused when several tables are read).
    pub key: Vec<String>,
    /// Key columns given on the command line per table path (override
    /// the config and `key`).
    pub keys: std::collections::BTreeMap<String, Vec<String>>,
    /// Record bad rows instead of failing.
    pub lenient: bool,
}

impl Repo {
    /// Loads `.folio/config.toml`.
    pub fn config(&self) -> Result<Config, RepoError> {
        Ok(Config::load(&self.dot)?)
    }

    /// Reads a manifest root from the store.
    pub fn read_manifest(&self, id: crate::id::ManifestId) -> Result<Manifest, RepoError> {
        let bytes = self.store.get(&id.0)?;
        Ok(Manifest::decode(id.0, &bytes)?)
    }

    /// The table files of a resolved scan of `dataset`. The key comes from
    /// the command line, else the config, else the parent's manifest.
    /// Shards (D91) are gathered into their table: files under a folder
    /// the config marks `shards = true`, and files named
    /// `NAME-00000-of-00008.EXT` (unless `NAME` is marked `shards = false`).
    pub(crate) fn table_files(
        &self,
        config: &Config,
        dataset: &str,
        scan: &Scan,
        parent: &HashMap<String, Manifest>,
        opts: &TableOptions,
    ) -> Result<Vec<TableFile>, RepoError> {
        use crate::table::manifest::ShardFile;
        let folders: Vec<&str> = config
            .tables
            .iter()
            .filter(|(_, t)| t.shards == Some(true))
            .map(|(p, _)| p.trim_end_matches('/'))
            .collect();
        // Table path → (format, files): one file, or shards.
        let mut found: std::collections::BTreeMap<String, (bool, Vec<Found>)> = Default::default();
        for e in scan.entries.iter().filter(|e| e.kind.is_file()) {
            let path = if e.path.is_empty() {
                dataset.to_string()
            } else {
                format!("{dataset}/{}", e.path)
            };
            let declared = folders
                .iter()
                .copied()
                .filter(|f| crate::object::is_within(&path, f) && path != *f)
                .max_by_key(|f| f.len())
                .map(str::to_string);
            let auto = || shard_table_of(&path).filter(|t| config.table(t).shards != Some(false));
            let (table, sharded) = match declared.or_else(auto) {
                Some(t) => (t, true),
                None => (path.clone(), false),
            };
            let tc = config.table(&table);
            let Some(format) = tc.format.or_else(|| Format::from_path(&path)) else {
                continue;
            };
            let blob = e.id.expect("resolved");
            let slot = found.entry(table).or_insert((sharded, Vec::new()));
            slot.0 |= sharded;
            slot.1.push((path, format, blob));
        }
        let mut out = Vec::new();
        for (table, (sharded, files)) in found {
            if sharded && files.iter().any(|f| f.0 == table) {
                let shards: Vec<&str> = files
                    .iter()
                    .filter(|f| f.0 != table)
                    .map(|f| f.0.as_str())
                    .collect();
                return Err(unreadable(
                    self,
                    &table,
                    format!(
                        "it is both a table file and the name of a sharded table (its shards: {}): rename one, or set `shards = false` under [tables.\"{table}\"] in .folio/config.toml",
                        shards.join(", ")
                    ),
                ));
            }
            let format = files[0].1;
            if let Some(other) = files.iter().find(|f| f.1 != format) {
                return Err(unreadable(
                    self,
                    &table,
                    format!(
                        "the shards of this table are in different formats ({} is {}, {} is {}): a sharded table's files share one format; convert them, or move one out",
                        files[0].0,
                        format.name(),
                        other.0,
                        other.1.name()
                    ),
                ));
            }
            let tc = config.table(&table);
            let key = if let Some(k) = opts.keys.get(&table) {
                k.clone()
            } else if !opts.key.is_empty() {
                opts.key.clone()
            } else if !tc.key.is_empty() {
                tc.key.clone()
            } else {
                parent
                    .get(&table)
                    .map(|m| m.key.clone())
                    .unwrap_or_default()
            };
            let settings = TableSettings {
                format,
                key,
                declared: tc.columns.clone(),
                lenient: opts.lenient,
            };
            if !sharded {
                let (path, _, blob) = files.into_iter().next().expect("one file");
                out.push(TableFile {
                    blob,
                    settings,
                    path,
                    shards: Vec::new(),
                });
                continue;
            }
            let shards: Vec<ShardFile> = files
                .into_iter()
                .map(|(path, _, blob)| ShardFile {
                    abs: self.abs(&path),
                    path,
                    blob,
                })
                .collect();
            let refs: Vec<_> = shards
                .iter()
                .map(|s| crate::table::manifest::ShardRef {
                    path: s.path.clone(),
                    blob: s.blob,
                })
                .collect();
            out.push(TableFile {
                blob: crate::table::manifest::shard_set_id(&refs),
                settings,
                path: table,
                shards,
            });
        }
        Ok(out)
    }

    /// Manifests of the parent commit's tables, by path.
    pub(crate) fn parent_manifests(
        &self,
        tables: &[TableRef],
    ) -> Result<HashMap<String, Manifest>, RepoError> {
        tables
            .iter()
            .map(|t| Ok((t.path.clone(), self.read_manifest(t.manifest)?)))
            .collect()
    }

    /// Builds the manifests of `files` in parallel, reusing the parent's
    /// when the content and settings are unchanged.
    pub(crate) fn build_tables(
        &self,
        files: &[TableFile],
        parent: &HashMap<String, Manifest>,
    ) -> Result<Vec<BuiltTable>, RepoError> {
        files
            .par_iter()
            .map(|f| {
                if let Some(m) = parent.get(&f.path)
                    && m.blob == f.blob
                    && m.same_settings(&f.settings)
                {
                    return Ok(BuiltTable {
                        path: f.path.clone(),
                        manifest: m.clone(),
                        chunks: None,
                        skeletons: Vec::new(),
                    });
                }
                // Rows past a budget are sorted in runs under .folio/tmp
                // and merged (bounded memory, D90).
                // The parent version's chunks are in the store: a rebuild
                // cuts them again but holds only the new ones (D96) —
                // unless a purge erased rows, whose chunks must each be
                // checked again (D86).
                let stored = parent
                    .get(&f.path)
                    .filter(|_| self.store.purged_if_any().is_none())
                    .map(|m| std::sync::Arc::new(m.chunks.iter().map(|c| c.id.0).collect()));
                let spill = crate::table::spill::Spill {
                    dir: self.tmp_dir(),
                    budget: crate::table::spill::DEFAULT_BUDGET,
                    stored,
                };
                let (manifest, chunks) = if f.shards.is_empty() {
                    manifest::build_with(&self.abs(&f.path), f.blob, &f.settings, Some(&spill))?
                } else {
                    manifest::build_shards(&f.shards, &f.settings, Some(&spill))?
                };
                Ok(BuiltTable {
                    path: f.path.clone(),
                    manifest,
                    chunks: Some(chunks),
                    skeletons: Vec::new(),
                })
            })
            .collect()
    }
}
