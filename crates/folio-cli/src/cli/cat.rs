//! `folio cat REV:PATH`: a file (or a folder's listing) as it is at a
//! revision, without checking anything out.

use std::io::{self, Write};

use super::{Ctx, Failure, Result, out};
use folio_core::object::EntryKind;
use folio_core::repo::PathAt;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// REV:PATH — a commit, branch or tag, and a path from the
    /// repository's root (`HEAD:data/cats/1.png`, `v1:labels.csv`;
    /// `REV:./name` is relative to the current folder)
    #[arg(value_name = "REV:PATH")]
    spec: String,
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    let repo = ctx.repo()?;
    let Some((rev, path)) = a.spec.split_once(':') else {
        return Err(Failure::user(format!(
            "{:?} names no path: write REV:PATH, e.g. HEAD:{}",
            a.spec, a.spec
        )));
    };
    let id = repo.resolve(if rev.is_empty() { "HEAD" } else { rev })?;
    let path = if path.starts_with("./") || path.starts_with("../") {
        repo.dataset_path(&ctx.cwd.join(path))?
    } else {
        path.trim_matches('/').to_string()
    };
    let Some(found) = repo.path_at(id, &path)? else {
        // A sharded table is named by no file (D91): its shards are.
        let commit = repo.read_commit(id)?;
        if let Some(t) = commit.tables.iter().find(|t| t.path == path) {
            let m = repo.read_manifest(t.manifest)?;
            let shards: Vec<&str> = m.shards.iter().map(|s| s.path.as_str()).collect();
            return Err(Failure::user(format!(
                "{path} is a sharded table in {rev}, not a file: `folio cat {rev}:SHARD` writes one of its files ({}); `folio export {rev} {path}` writes its rows",
                shards.join(", ")
            )));
        }
        return Err(Failure::user(format!(
            "{path} is not in {rev} ({}): `folio show {rev}` lists its datasets",
            id.0.short(12)
        )));
    };
    match found {
        PathAt::Folder(entries) => {
            let mut s = String::new();
            for (name, kind, _) in entries {
                let slash = if kind == EntryKind::Tree { "/" } else { "" };
                s += &format!("{name}{slash}\n");
            }
            out(&s)
        }
        PathAt::Blob(_, blob, _) => {
            // Contents a partial clone left on the remote are fetched
            // (under the lock); a plain read takes none.
            let path = std::slice::from_ref(&path);
            if !repo.holds(&blob) {
                let _lock = repo.lock(ctx.wait)?;
                super::remote::ensure_contents(ctx, &repo, &[id], path)?;
            }
            let stdout = io::stdout();
            let mut w = io::BufWriter::with_capacity(1 << 16, stdout.lock());
            match repo.cat(&blob, &mut w).map(|_| w.flush()) {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                Ok(Err(e)) => Err(e.into()),
                Err(e) if is_broken_pipe(&e) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// A reader that stopped early (`| head`) is a clean end.
pub(super) fn is_broken_pipe(e: &folio_core::repo::RepoError) -> bool {
    let mut at: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = at {
        if let Some(io) = err.downcast_ref::<io::Error>()
            && io.kind() == io::ErrorKind::BrokenPipe
        {
            return true;
        }
        at = err.source();
    }
    false
}
