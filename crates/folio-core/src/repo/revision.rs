//! Revision syntax: `HEAD`, a branch, a tag, a commit id or unique prefix,
//! each optionally followed by `~N` (the Nth first-parent ancestor).

use super::{Repo, RepoError};
use crate::id::{CommitId, IdPrefix, ObjectId};
use crate::object::looks_like_commit;
use crate::refs::RefKind;

impl Repo {
    /// Resolves a revision to a commit id.
    pub fn resolve(&self, rev: &str) -> Result<CommitId, RepoError> {
        let (base, steps) =
            split_ancestry(rev).ok_or_else(|| RepoError::UnknownRevision(rev.into()))?;
        let mut id = self.resolve_base(base, rev)?;
        for _ in 0..steps {
            let c = self.read_commit(id)?;
            id = *c.parents.first().ok_or_else(|| {
                RepoError::UnknownRevision(format!("{rev} (history is only so deep)"))
            })?;
        }
        Ok(id)
    }

    fn resolve_base(&self, base: &str, rev: &str) -> Result<CommitId, RepoError> {
        if base == "HEAD" || base == "@" {
            return self.head_commit()?.ok_or(RepoError::NoCommits);
        }
        if let Some(id) = self.refs.get(RefKind::Branch, base)? {
            return Ok(id);
        }
        if let Some(id) = self.refs.get(RefKind::Tag, base)? {
            return Ok(id);
        }
        if let Some(id) = self.refs.get(RefKind::Remote, base)? {
            return Ok(id);
        }
        if let Some(prefix) = IdPrefix::parse(base) {
            let mut found = Vec::new();
            for id in self.store.ids_with_prefix(prefix.as_str())? {
                if self.is_commit(&id) {
                    found.push(CommitId(id));
                }
            }
            match found.len() {
                0 => {}
                1 => return Ok(found[0]),
                _ => {
                    let candidates = found
                        .iter()
                        .map(|id| {
                            let summary = self
                                .read_commit(*id)
                                .map(|c| c.summary().to_string())
                                .unwrap_or_default();
                            format!("  {}  {summary}", id.0.short(12))
                        })
                        .collect();
                    return Err(RepoError::AmbiguousRevision {
                        prefix: base.to_string(),
                        candidates,
                    });
                }
            }
        }
        Err(RepoError::UnknownRevision(rev.to_string()))
    }

    fn is_commit(&self, id: &ObjectId) -> bool {
        // Commits are small and therefore always packed; skipping loose
        // objects avoids reading large blobs.
        matches!(
            self.store.locate(id),
            Some(crate::store::Location::Packed { .. })
        ) && self.store.get(id).is_ok_and(|b| looks_like_commit(&b))
    }

    /// The commits of the range `from..to`: first parents from `to` back
    /// to, not including, `from`; oldest first. `range` names the range in
    /// the error when `from` is not a first-parent ancestor of `to`.
    pub fn first_parent_range(
        &self,
        range: &str,
        from: CommitId,
        to: CommitId,
    ) -> Result<Vec<CommitId>, RepoError> {
        let mut out = Vec::new();
        let mut at = Some(to);
        while let Some(id) = at {
            if id == from {
                out.reverse();
                return Ok(out);
            }
            out.push(id);
            at = self.read_commit(id)?.parents.first().copied();
        }
        Err(RepoError::NotAnAncestor {
            range: range.to_string(),
            ancestor: from,
            descendant: to,
        })
    }
}

/// Splits `base~2~1` into `("base", 3)`; `~` alone means `~1`.
fn split_ancestry(rev: &str) -> Option<(&str, usize)> {
    let mut parts = rev.split('~');
    let base = parts.next().filter(|b| !b.is_empty())?;
    let mut steps = 0usize;
    for p in parts {
        steps += if p.is_empty() {
            1
        } else {
            p.parse::<usize>().ok()?
        };
    }
    Some((base, steps))
}

#[cfg(test)]
mod tests {
    use super::split_ancestry;

    #[test]
    fn ancestry_syntax() {
        assert_eq!(split_ancestry("HEAD"), Some(("HEAD", 0)));
        assert_eq!(split_ancestry("HEAD~"), Some(("HEAD", 1)));
        assert_eq!(split_ancestry("main~2~1"), Some(("main", 3)));
        assert_eq!(split_ancestry("~1"), None);
        assert_eq!(split_ancestry("HEAD~x"), None);
    }
}
