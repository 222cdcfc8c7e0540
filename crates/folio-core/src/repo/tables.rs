//! Table files of datasets: finding them and building (or reusing) their
//! row manifests.

use std::collections::HashMap;
use std::path::PathBuf;

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
    /// Path relative to the working tree.
    pub path: String,
    /// Absolute path.
    pub abs: PathBuf,
    /// Blob id of its content.
    pub blob: ObjectId,
    /// How to read it.
    pub settings: TableSettings,
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
    pub(crate) fn table_files(
        &self,
        config: &Config,
        dataset: &str,
        scan: &Scan,
        parent: &HashMap<String, Manifest>,
        opts: &TableOptions,
    ) -> Vec<TableFile> {
        let mut out = Vec::new();
        for e in scan.entries.iter().filter(|e| e.kind.is_file()) {
            let path = if e.path.is_empty() {
                dataset.to_string()
            } else {
                format!("{dataset}/{}", e.path)
            };
            let tc = config.table(&path);
            let Some(format) = tc.format.or_else(|| Format::from_path(&path)) else {
                continue;
            };
            let key = if let Some(k) = opts.keys.get(&path) {
                k.clone()
            } else if !opts.key.is_empty() {
                opts.key.clone()
            } else if !tc.key.is_empty() {
                tc.key.clone()
            } else {
                parent.get(&path).map(|m| m.key.clone()).unwrap_or_default()
            };
            out.push(TableFile {
                abs: self.abs(&path),
                blob: e.id.expect("resolved"),
                settings: TableSettings {
                    format,
                    key,
                    declared: tc.columns.clone(),
                    lenient: opts.lenient,
                },
                path,
            });
        }
        out
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
                let spill = crate::table::spill::Spill {
                    dir: self.dot.join("tmp"),
                    budget: crate::table::spill::DEFAULT_BUDGET,
                };
                let (manifest, chunks) =
                    manifest::build_with(&f.abs, f.blob, &f.settings, Some(&spill))?;
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
