//! `config get|set|unset|list`: reading and editing `.folio/config.toml`
//! by dotted key, keeping every comment and layout the file has
//! (`toml_edit`), and refusing an edit that would leave the file invalid.

use toml_edit::{DocumentMut, Item, Table, Value};

/// Why a config key cannot be read or set.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EditError {
    /// The file is not TOML.
    #[error("config.toml is not valid TOML: {0}")]
    NotToml(String),
    /// The key does not parse as a dotted TOML key.
    #[error(
        "'{0}' is not a key: write dotted names, quoting those with dots, e.g. drift.share or tables.\"labels.csv\".key"
    )]
    BadKey(String),
    /// The key names a table of settings, not one setting.
    #[error(
        "'{0}' is a section of settings: name one of them (`folio config list` shows every key)"
    )]
    Section(String),
    /// A key under a value that is not a table.
    #[error("'{key}': '{at}' is a value, not a section")]
    NotASection {
        /// The key asked for.
        key: String,
        /// The part that is a value.
        at: String,
    },
    /// The edit would make the config invalid.
    #[error("{key} = {value}: {detail}; the file is unchanged")]
    Invalid {
        /// The key.
        key: String,
        /// The value as given.
        value: String,
        /// What the config check says.
        detail: String,
    },
}

fn parse(text: &str) -> Result<DocumentMut, EditError> {
    text.parse::<DocumentMut>()
        .map_err(|e| EditError::NotToml(e.to_string()))
}

fn keys(key: &str) -> Result<Vec<String>, EditError> {
    let parts = toml_edit::Key::parse(key).map_err(|_| EditError::BadKey(key.to_string()))?;
    if parts.is_empty() {
        return Err(EditError::BadKey(key.to_string()));
    }
    Ok(parts.iter().map(|k| k.get().to_string()).collect())
}

/// A value as the file writes it (strings quoted, arrays bracketed).
fn shown(v: &Value) -> String {
    // Without its decor: a comment after the value is not the value.
    v.clone().decorated("", "").to_string()
}

/// The value at a dotted key, as TOML (`None`: not set).
pub fn get(text: &str, key: &str) -> Result<Option<String>, EditError> {
    let doc = parse(text)?;
    let parts = keys(key)?;
    let mut item: &Item = doc.as_item();
    for p in &parts {
        match item.get(p) {
            Some(next) => item = next,
            None => return Ok(None),
        }
    }
    match item {
        Item::Value(v) => Ok(Some(shown(v))),
        Item::Table(_) | Item::ArrayOfTables(_) => Err(EditError::Section(key.to_string())),
        Item::None => Ok(None),
    }
}

/// Every setting, as (dotted key, TOML value), in file order.
pub fn list(text: &str) -> Result<Vec<(String, String)>, EditError> {
    let doc = parse(text)?;
    let mut out = Vec::new();
    walk(doc.as_table(), &mut Vec::new(), &mut out);
    Ok(out)
}

fn walk(t: &Table, path: &mut Vec<String>, out: &mut Vec<(String, String)>) {
    for (k, item) in t.iter() {
        path.push(k.to_string());
        match item {
            Item::Value(Value::InlineTable(it)) => {
                let t = it.clone().into_table();
                walk(&t, path, out);
            }
            Item::Value(v) => out.push((dotted(path), shown(v))),
            Item::Table(t) => walk(t, path, out),
            Item::ArrayOfTables(a) => {
                for (i, t) in a.iter().enumerate() {
                    path.push(i.to_string());
                    walk(t, path, out);
                    path.pop();
                }
            }
            Item::None => {}
        }
        path.pop();
    }
}

/// `a.b."c.d"`: parts quoted where a bare key would not parse back.
fn dotted(path: &[String]) -> String {
    path.iter()
        .map(|p| toml_edit::Key::new(p.as_str()).display_repr().to_string())
        .collect::<Vec<_>>()
        .join(".")
}

/// `text` with the key set to `value` — a TOML value (`0.4`, `true`,
/// `["id"]`, `"x"`), or else taken as a string — and the sections it needs
/// created. `check` is the config's own check of the result.
pub fn set(
    text: &str,
    key: &str,
    value: &str,
    check: &dyn Fn(&str) -> Result<(), String>,
) -> Result<String, EditError> {
    let mut doc = parse(text)?;
    // A file of comments only (the template) keeps them at its head, not
    // after the first section written.
    let head = if doc.as_table().is_empty() {
        let h = doc.trailing().as_str().unwrap_or("").to_string();
        doc.set_trailing("");
        h
    } else {
        String::new()
    };
    let parts = keys(key)?;
    let v: Value = value
        .parse::<Value>()
        .unwrap_or_else(|_| Value::from(value));
    let (last, sections) = parts.split_last().expect("at least one part");
    let mut table: &mut Table = doc.as_table_mut();
    for (i, p) in sections.iter().enumerate() {
        let entry = table.entry(p).or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        });
        table = match entry {
            Item::Table(t) => t,
            _ => {
                return Err(EditError::NotASection {
                    key: key.to_string(),
                    at: dotted(&parts[..=i]),
                });
            }
        };
    }
    if matches!(
        table.get(last),
        Some(Item::Table(_) | Item::ArrayOfTables(_))
    ) {
        return Err(EditError::Section(key.to_string()));
    }
    table.insert(last, Item::Value(v));
    let out = head + &doc.to_string();
    check(&out).map_err(|detail| EditError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        detail,
    })?;
    Ok(out)
}

/// `text` without the key (`None` when it was not set).
pub fn unset(
    text: &str,
    key: &str,
    check: &dyn Fn(&str) -> Result<(), String>,
) -> Result<Option<String>, EditError> {
    let mut doc = parse(text)?;
    let parts = keys(key)?;
    let (last, sections) = parts.split_last().expect("at least one part");
    let mut table: &mut Table = doc.as_table_mut();
    for p in sections {
        table = match table.get_mut(p) {
            Some(Item::Table(t)) => t,
            _ => return Ok(None),
        };
    }
    match table.get(last) {
        None => return Ok(None),
        Some(Item::Table(_) | Item::ArrayOfTables(_)) => {
            return Err(EditError::Section(key.to_string()));
        }
        Some(_) => {}
    }
    table.remove(last);
    let out = doc.to_string();
    check(&out).map_err(|detail| EditError::Invalid {
        key: key.to_string(),
        value: "(removed)".into(),
        detail,
    })?;
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(_: &str) -> Result<(), String> {
        Ok(())
    }

    const TEXT: &str = "# settings\n[drift]\nshare = 0.5 # the table share\n\n[tables.\"labels.csv\"]\nkey = [\"id\"]\n";

    #[test]
    fn get_set_unset_and_list_keep_comments() {
        assert_eq!(get(TEXT, "drift.share").expect("ok"), Some("0.5".into()));
        assert_eq!(
            get(TEXT, "tables.\"labels.csv\".key").expect("ok"),
            Some("[\"id\"]".into())
        );
        assert_eq!(get(TEXT, "drift.bins").expect("ok"), None);
        assert!(matches!(get(TEXT, "drift"), Err(EditError::Section(_))));
        let t = set(TEXT, "drift.share", "0.4", &ok).expect("ok");
        assert!(t.contains("share = 0.4") && t.contains("# settings"), "{t}");
        let t = set(&t, "quality.adjudicator", "judge", &ok).expect("ok");
        assert_eq!(
            get(&t, "quality.adjudicator").expect("ok"),
            Some("\"judge\"".into())
        );
        let t = set(&t, "tables.\"b.csv\".key", "[\"k\"]", &ok).expect("ok");
        assert_eq!(
            get(&t, "tables.\"b.csv\".key").expect("ok"),
            Some("[\"k\"]".into())
        );
        let keys: Vec<String> = list(&t).expect("ok").into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "drift.share",
                "tables.\"labels.csv\".key",
                "tables.\"b.csv\".key",
                "quality.adjudicator"
            ]
        );
        let t = unset(&t, "drift.share", &ok).expect("ok").expect("was set");
        assert_eq!(get(&t, "drift.share").expect("ok"), None);
        assert_eq!(unset(&t, "drift.share", &ok).expect("ok"), None);
    }

    #[test]
    fn a_comment_only_file_keeps_its_comment_first() {
        let t = set(
            "# folio repository configuration\n",
            "drift.share",
            "0.4",
            &ok,
        )
        .expect("ok");
        assert!(t.starts_with("# folio repository configuration\n"), "{t}");
        assert_eq!(get(&t, "drift.share").expect("ok"), Some("0.4".into()));
    }

    #[test]
    fn bad_keys_values_and_sections_are_refused() {
        assert!(matches!(get(TEXT, "a..b"), Err(EditError::BadKey(_))));
        let e = set(TEXT, "drift.share.x", "1", &ok).expect_err("refused");
        assert!(matches!(e, EditError::NotASection { .. }), "{e}");
        let refuse = |t: &str| -> Result<(), String> {
            if t.contains("share = 2") {
                Err("[drift] share 2 is outside 0..1".into())
            } else {
                Ok(())
            }
        };
        let e = set(TEXT, "drift.share", "2", &refuse).expect_err("refused");
        assert!(e.to_string().contains("outside 0..1") && e.to_string().contains("unchanged"));
    }
}
