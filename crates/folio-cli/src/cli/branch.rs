//! `folio branch` and `folio tag`.

use super::{Ctx, Result, out, out_json};
use folio_core::refs::{Head, RefKind};
use folio_core::repo::TagNote;

#[derive(clap::Args, Debug)]
pub struct BranchArgs {
    /// Create a branch of this name at HEAD (or at --at)
    name: Option<String>,
    /// Where the new branch starts
    #[arg(long, value_name = "REV", requires = "name")]
    at: Option<String>,
    /// Delete this branch (refused while it holds commits no other ref
    /// reaches or ledger events not yet committed, unless --force)
    #[arg(short, long, value_name = "NAME", conflicts_with = "name")]
    delete: Option<String>,
    /// With --delete: delete even what only this branch holds
    #[arg(long, requires = "delete")]
    force: bool,
    /// Print the list as JSON
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
pub struct TagArgs {
    /// Create a tag of this name
    name: Option<String>,
    /// The commit to tag (default HEAD)
    #[arg(requires = "name")]
    rev: Option<String>,
    /// Make an annotated tag with this message: who tagged, when and why
    /// are recorded in a tag object that push and fetch carry
    #[arg(short, long, value_name = "MSG", requires = "name")]
    message: Option<String>,
    /// With -m: who makes the tag (default: FOLIO_AUTHOR, then git's
    /// user.name and user.email, then the login name)
    #[arg(long, value_name = "NAME", requires = "message")]
    author: Option<String>,
    /// Delete this tag
    #[arg(short, long, value_name = "NAME", conflicts_with = "name")]
    delete: Option<String>,
    /// In the list: print each annotated tag's message in full (its first
    /// line is always shown)
    #[arg(short = 'n', long = "notes", conflicts_with_all = ["name", "delete"])]
    notes: bool,
    /// Print the list as JSON
    #[arg(long)]
    json: bool,
}

pub fn branch(ctx: &Ctx, a: &BranchArgs) -> Result {
    let repo = ctx.repo()?;
    let current = match repo.head()? {
        Head::Branch(b) => Some(b),
        Head::Detached(_) => None,
    };
    if let Some(name) = &a.delete {
        let lock = repo.lock(ctx.wait)?;
        let was = repo.delete_branch(&lock, name, a.force)?;
        return out(&format!("deleted branch {name} (was {})\n", was.short(12)));
    }
    if let Some(name) = &a.name {
        let id = repo.resolve(a.at.as_deref().unwrap_or("HEAD"))?;
        let _lock = repo.lock(ctx.wait)?;
        repo.refs().create(RefKind::Branch, name, id)?;
        return out(&format!("created branch {name} at {}\n", id.0.short(12)));
    }
    list(&repo, RefKind::Branch, current.as_deref(), a.json)
}

pub fn tag(ctx: &Ctx, a: &TagArgs) -> Result {
    let repo = ctx.repo()?;
    if let Some(name) = &a.delete {
        let _lock = repo.lock(ctx.wait)?;
        repo.refs().delete(RefKind::Tag, name)?;
        return out(&format!("deleted tag {name}\n"));
    }
    if let Some(name) = &a.name {
        let id = repo.resolve(a.rev.as_deref().unwrap_or("HEAD"))?;
        let note = match &a.message {
            Some(m) => Some(TagNote {
                tagger: super::commit::author(a.author.as_deref()),
                time: super::commit::now()?,
                message: m.clone(),
            }),
            None => None,
        };
        let lock = repo.lock(ctx.wait)?;
        let object = repo.create_tag(&lock, name, id, note)?;
        let kind = if object.is_some() { "annotated " } else { "" };
        return out(&format!("tagged {} as {kind}{name}\n", id.0.short(12)));
    }
    tags(&repo, a.notes, a.json)
}

fn tags(repo: &folio_core::repo::Repo, notes: bool, json: bool) -> Result {
    let tags = repo.tags()?;
    if json {
        let v: Vec<serde_json::Value> = tags
            .iter()
            .map(|t| {
                serde_json::json!({
                    "name": t.name,
                    "commit": t.commit.to_string(),
                    "annotated": t.object.is_some(),
                    "object": t.object.map(|o| o.to_string()),
                    "tagger": t.tag.as_ref().map(|x| &x.tagger),
                    "time": t.tag.as_ref().map(|x| x.time),
                    "message": t.tag.as_ref().map(|x| &x.message),
                })
            })
            .collect();
        return out_json(&v);
    }
    let mut s = String::new();
    for t in &tags {
        s += &format!("  {:<24} {}", t.name, t.commit.0.short(12));
        if let Some(x) = &t.tag {
            let mut lines = x.message.lines();
            s += &format!("  {}", lines.next().unwrap_or(""));
            if notes {
                for l in lines {
                    s += &format!("\n  {:<24} {:12}  {l}", "", "");
                }
            }
        }
        s += "\n";
    }
    out(&s)
}

fn list(repo: &folio_core::repo::Repo, kind: RefKind, current: Option<&str>, json: bool) -> Result {
    let refs = repo.refs().list(kind)?;
    if json {
        let v: Vec<serde_json::Value> = refs
            .iter()
            .map(|(n, r)| {
                serde_json::json!({
                    "name": n,
                    "commit": r.as_ref().ok().map(|c| c.to_string()),
                    "current": current == Some(n.as_str()),
                })
            })
            .collect();
        return out_json(&v);
    }
    let mut s = String::new();
    for (n, r) in &refs {
        let mark = if current == Some(n.as_str()) {
            '*'
        } else {
            ' '
        };
        let id = match r {
            Ok(c) => c.0.short(12),
            Err(e) => format!("(unreadable: {e})"),
        };
        s += &format!("{mark} {n:<24} {id}\n");
    }
    out(&s)
}
