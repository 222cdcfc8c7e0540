//! `folio prove` and `folio verify-proof`.

use std::path::PathBuf;

use super::{Ctx, Failure, Result, out, out_json};
use folio_core::ledger::proof::Proof;

#[derive(clap::Args, Debug)]
pub struct ProveArgs {
    /// An example id (or unique prefix), a file path, or TABLE:KEY for a row
    selector: String,
    /// The commit whose ledger head the proof is against
    #[arg(long, default_value = "HEAD")]
    rev: String,
}

#[derive(clap::Args, Debug)]
pub struct VerifyProofArgs {
    /// A proof written by `folio prove`
    file: PathBuf,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn prove(ctx: &Ctx, a: &ProveArgs) -> Result {
    let repo = ctx.repo()?;
    let rev = repo.resolve(&a.rev)?;
    out_json(&repo.prove(&a.selector, rev)?)
}

pub fn verify(ctx: &Ctx, a: &VerifyProofArgs) -> Result {
    let path = if a.file.is_absolute() {
        a.file.clone()
    } else {
        ctx.cwd.join(&a.file)
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Failure::user(format!("{}: {e}", path.display())))?;
    let proof: Proof = serde_json::from_str(&text)
        .map_err(|e| Failure::user(format!("{}: not a folio proof: {e}", path.display())))?;
    match folio_core::ledger::proof::verify(&proof) {
        Ok(c) if a.json => out_json(&c),
        Ok(c) => out(&format!(
            "valid: {} of example {} {} in the ledger commit {} attests\n{}",
            super::count(c.events as u64, "event"),
            c.example.short(16),
            if c.events == 1 { "is" } else { "are" },
            c.commit.short(12),
            match c.purge {
                None => String::new(),
                Some(folio_core::ledger::proof::PurgeBasis {
                    record: r,
                    named: true,
                }) => format!(
                    "the row was purged: its evidence is the redacted chunk purge record {} pairs with the one the manifest lists, and a `purged` event of the proof names that record\n",
                    r.short(12)
                ),
                Some(folio_core::ledger::proof::PurgeBasis {
                    record: r,
                    named: false,
                }) => format!(
                    "the row was purged: its evidence is the redacted chunk purge record {} pairs with the one the manifest lists; no event of the proof names that record (prove at a commit made after the purge for that)\n",
                    r.short(12)
                ),
            }
        )),
        Err(why) => Err(Failure {
            code: super::exit::of(why.kind()),
            message: format!("{}: invalid proof: {why}", path.display()),
        }),
    }
}
