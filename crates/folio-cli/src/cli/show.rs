//! `folio show`.

use super::{Ctx, Result, fmt_bytes, fmt_time, out, out_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The commit to describe
    #[arg(default_value = "HEAD")]
    rev: String,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    let repo = ctx.repo()?;
    let id = repo.resolve(&a.rev)?;
    let info = repo.show(id)?;
    // An annotated tag named as such: who tagged the commit, when, why.
    let tag = match repo.refs().get_tag(&a.rev)? {
        Some((c, Some(object))) if c == id => Some(repo.read_tag(&a.rev, c, object)?),
        _ => None,
    };
    if a.json {
        let mut v =
            serde_json::to_value(&info).map_err(|e| std::io::Error::other(e.to_string()))?;
        v["tag"] = match &tag {
            Some(t) => serde_json::json!({
                "name": t.name,
                "tagger": t.tagger,
                "time": t.time,
                "message": t.message,
            }),
            None => serde_json::Value::Null,
        };
        return out_json(&v);
    }
    let e = &info.entry;
    let mut s = String::new();
    if let Some(t) = &tag {
        s += &format!(
            "tag {}\nTagger: {}\nDate:   {}\n\n",
            t.name,
            t.tagger,
            fmt_time(t.time)
        );
        for l in t.message.lines() {
            s += &format!("    {l}\n");
        }
        s += "\n";
    }
    s += &format!("commit {}\n", e.id);
    for p in &e.parents {
        s += &format!("Parent: {p}\n");
    }
    s += &format!("Author: {}\nDate:   {}\n\n", e.author, fmt_time(e.time));
    for l in e.message.lines() {
        s += &format!("    {l}\n");
    }
    s += "\nDatasets:\n";
    for d in &info.datasets {
        s += &format!(
            "  {:<30} {:<10} {:>8} files {:>12}  {}\n",
            d.path,
            d.kind,
            d.files,
            fmt_bytes(d.bytes),
            d.id.short(12)
        );
    }
    if !info.tables.is_empty() {
        s += "\nTables:\n";
    }
    for t in &info.tables {
        let key = super::describe_key(&t.key);
        let shards = match t.shards.len() {
            0 => String::new(),
            1 => ", 1 shard".to_string(),
            n => format!(", {n} shards"),
        };
        s += &format!(
            "  {} ({}, {} rows, {key}{shards})\n",
            t.path, t.format, t.rows
        );
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|c| format!("{}: {}", c.name, c.ty))
            .collect();
        s += &format!("    columns: {}\n", cols.join(", "));
        if t.duplicates > 0 {
            s += &format!(
                "    {} {} another row exactly\n",
                super::count(t.duplicates, "row"),
                if t.duplicates == 1 {
                    "repeats"
                } else {
                    "repeat"
                }
            );
        }
        if !t.rejected.is_empty() {
            s += &format!("    {} lines rejected (--lenient):\n", t.rejected.len());
            for r in &t.rejected {
                s += &format!("      line {}: {}\n", r.line, r.reason);
            }
        }
    }
    let against = if e.parents.is_empty() {
        "(first commit)"
    } else {
        "against the parent"
    };
    s += &format!("\nChanges {against}:\n");
    if info.changes.is_empty() {
        s += "  none\n";
    }
    for (path, ch) in &info.changes {
        s += &format!(
            "  {path}: {} added, {} modified, {} deleted\n",
            ch.added.len(),
            ch.modified.len(),
            ch.deleted.len()
        );
    }
    out(&s)
}
