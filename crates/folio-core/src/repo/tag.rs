//! Tags: lightweight (a name for a commit) and annotated (a tag object
//! recording who named the commit, when and why; `tag -m`).

use super::verify::Problem;
use super::{Repo, RepoError};
use crate::id::{CommitId, ObjectId};
use crate::lock::RepoLock;
use crate::object::Tag;
use crate::refs::{RefError, RefKind};

/// What an annotated tag records besides its commit.
#[derive(Debug, Clone)]
pub struct TagNote {
    /// Who makes the tag.
    pub tagger: String,
    /// Seconds since the epoch, UTC.
    pub time: i64,
    /// Why: the release note, the audit reference.
    pub message: String,
}

/// One tag, as `tag` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TagInfo {
    /// Its name.
    pub name: String,
    /// The commit it names.
    pub commit: CommitId,
    /// The tag object of an annotated tag (`None`: lightweight).
    pub object: Option<ObjectId>,
    /// Who made it, when and why (annotated tags).
    #[serde(skip)]
    pub tag: Option<Tag>,
}

impl Repo {
    /// Creates tag `name` at `target`; with a note, an annotated tag whose
    /// object is stored before the ref names it. Returns the object's id.
    pub fn create_tag(
        &self,
        _lock: &RepoLock,
        name: &str,
        target: CommitId,
        note: Option<TagNote>,
    ) -> Result<Option<ObjectId>, RepoError> {
        crate::refs::validate_name(name)?;
        if self.refs.get(RefKind::Tag, name)?.is_some() {
            return Err(RefError::Exists {
                kind: "tag",
                name: name.to_string(),
            }
            .into());
        }
        self.read_commit(target)?;
        let object = match note {
            None => None,
            Some(n) => {
                if n.message.trim().is_empty() {
                    return Err(RepoError::TagMessage);
                }
                crate::ledger::values::text(
                    "the tagger",
                    &n.tagger,
                    crate::ledger::values::MAX_NAME,
                )?;
                let tag = Tag {
                    target,
                    name: name.to_string(),
                    tagger: n.tagger,
                    time: n.time,
                    message: n.message,
                };
                let writer = self.store.writer()?;
                let id = writer.put(&tag.encode())?;
                writer.finish()?; // durable before the ref names it
                Some(id)
            }
        };
        self.refs.set_tag(name, (target, object))?;
        Ok(object)
    }

    /// Reads and checks the tag object `id` of tag `name` at `commit`: it
    /// must decode, and name that tag and that commit.
    pub fn read_tag(&self, name: &str, commit: CommitId, id: ObjectId) -> Result<Tag, RepoError> {
        let bytes = self.store.get(&id)?;
        let bad = |detail: String| RepoError::BadObject {
            id,
            location: self
                .store
                .locate(&id)
                .map(|l| l.to_string())
                .unwrap_or_default(),
            source: crate::object::DecodeError::Malformed {
                what: "tag",
                detail,
            },
        };
        let tag = Tag::decode(&bytes).map_err(|e| bad(e.to_string()))?;
        if tag.name != name || tag.target != commit {
            return Err(bad(format!(
                "it names tag {:?} at {}, but the ref is tag {name:?} at {}",
                tag.name,
                tag.target.short(12),
                commit.short(12)
            )));
        }
        Ok(tag)
    }

    /// Every tag, sorted by name, annotated ones with their object read.
    pub fn tags(&self) -> Result<Vec<TagInfo>, RepoError> {
        let mut out = Vec::new();
        for (name, value) in self.refs.list_tags()? {
            let (commit, object) = value?;
            let tag = object
                .map(|o| self.read_tag(&name, commit, o))
                .transpose()?;
            out.push(TagInfo {
                name,
                commit,
                object,
                tag,
            });
        }
        Ok(out)
    }

    /// The tag objects of every annotated tag (for gc), each checked; what
    /// is wrong with one is a problem in place.
    pub(super) fn tag_objects(
        &self,
        problems: &mut Vec<Problem>,
    ) -> Result<Vec<ObjectId>, RepoError> {
        let mut out = Vec::new();
        for (name, value) in self.refs.list_tags()? {
            let Ok((commit, Some(object))) = value else {
                continue; // lightweight, or reported with the refs
            };
            if let Err(e) = self.read_tag(&name, commit, object) {
                problems.push(Problem {
                    file: self.refs.ref_path(RefKind::Tag, &name),
                    detail: format!("its tag object: {e}"),
                });
            }
            out.push(object);
        }
        Ok(out)
    }
}
