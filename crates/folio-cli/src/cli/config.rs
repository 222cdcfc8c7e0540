//! `folio config`: read and edit `.folio/config.toml` by dotted key.

use super::{Ctx, Failure, Result, out, out_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Every setting, a `key = value` line each
    List {
        /// As JSON: an object of dotted keys to TOML values
        #[arg(long)]
        json: bool,
    },
    /// One setting's value (exit 1 when it is not set)
    Get {
        /// A dotted key: drift.share, tables."labels.csv".key, quality.adjudicator
        key: String,
    },
    /// Set one setting; refused (file unchanged) if the config would be invalid
    Set {
        /// A dotted key
        key: String,
        /// A TOML value (0.4, true, ["id"], "text"); anything else is a string
        value: String,
    },
    /// Remove one setting: its default applies again
    Unset {
        /// A dotted key
        key: String,
    },
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    let repo = ctx.repo()?;
    match &a.action {
        Action::List { json } => {
            let all = repo.config_list()?;
            if *json {
                let map: serde_json::Map<String, serde_json::Value> = all
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect();
                return out_json(&map);
            }
            let s: String = all
                .iter()
                .map(|(k, v)| format!("{} = {}\n", super::visible(k), super::visible(v)))
                .collect();
            out(&s)
        }
        Action::Get { key } => match repo.config_get(key)? {
            Some(v) => out(&format!("{v}\n")),
            None => Err(Failure::user(format!(
                "{key} is not set (its default applies; `folio config list` shows what is set)"
            ))),
        },
        Action::Set { key, value } => {
            let lock = repo.lock(ctx.wait)?;
            repo.config_set(&lock, key, value)?;
            let now = repo.config_get(key)?.unwrap_or_default();
            ctx.hint(&format!("set {key} = {now}"));
            Ok(())
        }
        Action::Unset { key } => {
            let lock = repo.lock(ctx.wait)?;
            if repo.config_unset(&lock, key)? {
                ctx.hint(&format!("removed {key}: its default applies"));
            } else {
                ctx.hint(&format!("{key} was not set"));
            }
            Ok(())
        }
    }
}
