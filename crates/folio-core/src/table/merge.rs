//! Three-way merge of a table's rows, down to cells, and writing merged
//! rows back as a table file.
//!
//! The rules are Dolt's: rows are matched by identity (the key, or the
//! content for unkeyed tables); a row changed on one side only takes that
//! side; edits to different cells of one row merge; the same cell changed
//! differently on both sides is a conflict, and so is a row deleted on one
//! side and changed on the other. Unkeyed tables are multisets: a row's
//! count is ours + theirs − base, and nothing conflicts.

use std::collections::{BTreeMap, BTreeSet};

use super::manifest::ChunkRow;
use super::{Cell, Format, decode_row, encode_row};

/// Which side of a merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The current branch.
    Ours,
    /// The branch being merged.
    Theirs,
}

/// A conflict in one row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowConflict {
    /// The row's key, for display.
    pub key: String,
    /// The conflicting column (`None`: the whole row, deleted on one side
    /// and changed on the other).
    pub column: Option<String>,
    /// The value at the merge base (`None`: absent).
    pub base: Option<String>,
    /// Ours.
    pub ours: Option<String>,
    /// Theirs.
    pub theirs: Option<String>,
}

/// The merged rows of a table, in identity order, and its conflicts
/// (conflicting cells and rows take the preferred side, ours by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergedRows {
    /// (identity, count, canonical body).
    pub rows: Vec<(Vec<u8>, u32, Vec<u8>)>,
    /// What conflicted.
    pub conflicts: Vec<RowConflict>,
}

/// The one side that changed, when only one did (`Some(None)`: deleted).
pub(crate) fn three_way<T: PartialEq + Copy>(
    b: Option<T>,
    o: Option<T>,
    t: Option<T>,
) -> Option<Option<T>> {
    if o == t || t == b {
        Some(o)
    } else if o == b {
        Some(t)
    } else {
        None
    }
}

fn body(r: Option<(u32, &[u8])>) -> Option<&[u8]> {
    r.map(|r| r.1)
}

fn shown(c: Option<&Cell>) -> Option<String> {
    c.filter(|c| **c != Cell::Null).map(Cell::display)
}

/// Merges the rows of a table's base, ours and theirs versions.
/// `prefer` settles every conflict for one side (nothing is reported).
pub fn merge_rows(
    keyed: bool,
    base: &[ChunkRow],
    ours: &[ChunkRow],
    theirs: &[ChunkRow],
    prefer: Option<Side>,
    display_key: &dyn Fn(&[u8]) -> String,
) -> MergedRows {
    // Manifests hold rows in identity order: a three-way merge join, one
    // pass, no maps (a million-row table is merged in linear time).
    let sorted = |v: &[ChunkRow]| v.windows(2).all(|w| w[0].ident < w[1].ident);
    let owned: [Option<Vec<ChunkRow>>; 3] = [base, ours, theirs].map(|v| {
        (!sorted(v)).then(|| {
            let mut v = v.to_vec();
            v.sort_by(|a, b| a.ident.cmp(&b.ident));
            v
        })
    });
    let (base, ours, theirs) = (
        owned[0].as_deref().unwrap_or(base),
        owned[1].as_deref().unwrap_or(ours),
        owned[2].as_deref().unwrap_or(theirs),
    );
    let mut at = [0usize; 3];
    let lists = [base, ours, theirs];
    let mut out = MergedRows::default();
    loop {
        let next = (0..3)
            .filter_map(|s| lists[s].get(at[s]).map(|r| r.ident.as_slice()))
            .min();
        let Some(id) = next else { break };
        let mut take = |s: usize| -> Option<(u32, &[u8])> {
            let r = lists[s].get(at[s]).filter(|r| r.ident.as_slice() == id)?;
            at[s] += 1;
            Some((r.count, r.body.as_slice()))
        };
        let (rb, ro, rt) = (take(0), take(1), take(2));
        if !keyed {
            let n = |r: Option<(u32, &[u8])>| i64::from(r.map_or(0, |r| r.0));
            let count = n(ro) + n(rt) - n(rb);
            if count > 0 {
                let body = ro.or(rt).or(rb).expect("present somewhere").1;
                out.rows.push((id.to_vec(), count as u32, body.to_vec()));
            }
            continue;
        }
        let merged: Option<Vec<u8>> = match three_way(body(rb), body(ro), body(rt)) {
            Some(side) => side.map(<[u8]>::to_vec),
            None => match (body(ro), body(rt)) {
                (Some(ob), Some(tb)) => Some(merge_cells(
                    body(rb),
                    ob,
                    tb,
                    prefer,
                    &display_key(id),
                    &mut out.conflicts,
                )),
                (ob, tb) => {
                    // Deleted on one side, changed on the other.
                    if prefer.is_none() {
                        out.conflicts.push(RowConflict {
                            key: display_key(id),
                            column: None,
                            base: Some("(row)".into()),
                            ours: ob.map(|_| "(changed)".into()),
                            theirs: tb.map(|_| "(changed)".into()),
                        });
                    }
                    match prefer {
                        Some(Side::Theirs) => tb.map(<[u8]>::to_vec),
                        _ => ob.map(<[u8]>::to_vec),
                    }
                }
            },
        };
        if let Some(m) = merged {
            out.rows.push((id.to_vec(), 1, m));
        }
    }
    out
}

/// Merges one row cell by cell.
fn merge_cells(
    base: Option<&[u8]>,
    ours: &[u8],
    theirs: &[u8],
    prefer: Option<Side>,
    key: &str,
    conflicts: &mut Vec<RowConflict>,
) -> Vec<u8> {
    let cells = |b: Option<&[u8]>| -> BTreeMap<String, Cell> {
        b.and_then(decode_row)
            .unwrap_or_default()
            .into_iter()
            .collect()
    };
    let (b, o, t) = (cells(base), cells(Some(ours)), cells(Some(theirs)));
    let columns: BTreeSet<&String> = b.keys().chain(o.keys()).chain(t.keys()).collect();
    let mut merged: Vec<(String, Cell)> = Vec::new();
    for c in columns {
        let (cb, co, ct) = (b.get(c), o.get(c), t.get(c));
        let value = match three_way(cb, co, ct) {
            Some(v) => v,
            None => {
                if prefer.is_none() {
                    conflicts.push(RowConflict {
                        key: key.to_string(),
                        column: Some(c.clone()),
                        base: shown(cb),
                        ours: shown(co),
                        theirs: shown(ct),
                    });
                }
                if prefer == Some(Side::Theirs) { ct } else { co }
            }
        };
        if let Some(v) = value {
            merged.push((c.clone(), v.clone()));
        }
    }
    let mut refs: Vec<(&str, &Cell)> = merged.iter().map(|(k, v)| (k.as_str(), v)).collect();
    encode_row(&mut refs)
}

/// Writes rows as a table file of `format`: the columns in `columns`'
/// order, then any other column a row holds, sorted; a row whose count is
/// n is written n times. CSV and TSV write null as an empty cell; JSON
/// Lines leaves it out.
pub fn write_rows(
    format: Format,
    columns: &[String],
    rows: &[(Vec<u8>, u32, Vec<u8>)],
) -> Result<Vec<u8>, String> {
    let order = column_order(columns, rows.iter().map(|r| r.2.as_slice()))?;
    write_ordered(format, &order, &mut |each| {
        rows.iter().try_for_each(|(_, n, body)| each(body, *n))
    })
}

/// `columns`, then every other column one of `bodies` holds, in name order
/// (one pass, no decoding).
pub fn column_order<'a>(
    columns: &[String],
    bodies: impl Iterator<Item = &'a [u8]>,
) -> Result<Vec<String>, String> {
    let mut extra: BTreeSet<String> = BTreeSet::new();
    for body in bodies {
        super::visit_row(body, &mut |name, _| {
            if !columns.iter().any(|c| c == name) && !extra.contains(name) {
                extra.insert(name.to_string());
            }
        })
        .ok_or("a merged row does not decode")?;
    }
    let mut order: Vec<String> = columns.to_vec();
    order.extend(extra);
    Ok(order)
}

/// Calls its argument with each row to write (canonical body, count), in
/// order.
pub type RowStream<'a> =
    dyn FnMut(&mut dyn FnMut(&[u8], u32) -> Result<(), String>) -> Result<(), String> + 'a;

/// Writes the rows `rows` streams as a table file of `format` with the
/// columns `order` (see [`column_order`]); a row holding a column `order`
/// lacks is refused, not written without it.
pub fn write_ordered(
    format: Format,
    order: &[String],
    rows: &mut RowStream<'_>,
) -> Result<Vec<u8>, String> {
    let unlisted = |name: &str| {
        format!("a row holds column {name:?}, which its table's manifest does not list")
    };
    match format {
        Format::Csv | Format::Tsv => {
            let mut w = csv::WriterBuilder::new()
                .delimiter(if format == Format::Tsv { b'\t' } else { b',' })
                .from_writer(Vec::new());
            w.write_record(order).map_err(|e| e.to_string())?;
            rows(&mut |body, n| {
                // The row's cells borrowed in column order, written as
                // bytes: no allocation per cell.
                let mut rec: Vec<&[u8]> = vec![b""; order.len()];
                let mut missing = None;
                super::visit_row(body, &mut |name, cell| {
                    let Some(i) = order.iter().position(|c| c == name) else {
                        missing.get_or_insert_with(|| unlisted(name));
                        return;
                    };
                    rec[i] = match cell {
                        super::CellRef::Null => b"",
                        super::CellRef::Text(t)
                        | super::CellRef::Number(t)
                        | super::CellRef::Json(t) => t.as_bytes(),
                        super::CellRef::Bool(true) => b"true",
                        super::CellRef::Bool(false) => b"false",
                    };
                })
                .ok_or("a merged row does not decode")?;
                if let Some(m) = missing {
                    return Err(m);
                }
                for _ in 0..n {
                    w.write_record(&rec).map_err(|e| e.to_string())?;
                }
                Ok(())
            })?;
            w.into_inner().map_err(|e| e.to_string())
        }
        Format::Parquet => Err(
            "a three-way merge of a Parquet table's rows cannot be written back as Parquet: settle the path with --ours or --theirs, or merge an exported CSV"
                .into(),
        ),
        Format::Jsonl => {
            let mut out = Vec::new();
            rows(&mut |body, n| {
                let row = decode_row(body).ok_or("a merged row does not decode")?;
                if let Some((k, _)) = row.iter().find(|(k, _)| !order.contains(k)) {
                    return Err(unlisted(k));
                }
                let mut obj = serde_json::Map::new();
                for c in order {
                    let v = match row.iter().find(|(k, _)| k == c).map(|(_, v)| v.clone()) {
                        None | Some(Cell::Null) => continue,
                        Some(Cell::Text(s)) => serde_json::Value::String(s),
                        Some(Cell::Bool(b)) => serde_json::Value::Bool(b),
                        Some(Cell::Number(s) | Cell::Json(s)) => {
                            serde_json::from_str(&s).map_err(|e| e.to_string())?
                        }
                    };
                    obj.insert(c.clone(), v);
                }
                let line = serde_json::to_string(&obj).map_err(|e| e.to_string())?;
                for _ in 0..n {
                    out.extend_from_slice(line.as_bytes());
                    out.push(b'\n');
                }
                Ok(())
            })?;
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::encode_key;

    fn row(id: &str, cells: &[(&str, &str)]) -> ChunkRow {
        let owned: Vec<(String, Cell)> = cells
            .iter()
            .map(|(k, v)| (k.to_string(), Cell::Text(v.to_string())))
            .collect();
        let mut refs: Vec<(&str, &Cell)> = owned.iter().map(|(k, v)| (k.as_str(), v)).collect();
        ChunkRow {
            ident: encode_key(&[&Cell::Text(id.into())]),
            count: 1,
            body: encode_row(&mut refs),
        }
    }

    fn show(ident: &[u8]) -> String {
        crate::table::display_key(ident)
    }

    fn cells_of(m: &MergedRows) -> Vec<(String, Vec<(String, String)>)> {
        m.rows
            .iter()
            .map(|(id, _, body)| {
                (
                    show(id),
                    decode_row(body)
                        .expect("decodes")
                        .into_iter()
                        .map(|(k, v)| (k, v.display()))
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn edits_to_different_cells_merge_and_the_same_cell_conflicts() {
        let base = vec![
            row("1", &[("id", "1"), ("a", "x"), ("b", "y")]),
            row("2", &[("id", "2"), ("a", "p")]),
        ];
        let ours = vec![
            row("1", &[("id", "1"), ("a", "X"), ("b", "y")]),
            row("2", &[("id", "2"), ("a", "q")]),
        ];
        let theirs = vec![
            row("1", &[("id", "1"), ("a", "x"), ("b", "Y")]),
            row("2", &[("id", "2"), ("a", "r")]),
        ];
        let m = merge_rows(true, &base, &ours, &theirs, None, &show);
        let c = cells_of(&m);
        assert_eq!(
            c[0].1,
            [
                ("a".into(), "X".into()),
                ("b".into(), "Y".into()),
                ("id".into(), "1".into())
            ]
        );
        assert_eq!(m.conflicts.len(), 1);
        let k = &m.conflicts[0];
        assert_eq!((k.key.as_str(), k.column.as_deref()), ("2", Some("a")));
        assert_eq!(
            (k.base.as_deref(), k.ours.as_deref(), k.theirs.as_deref()),
            (Some("p"), Some("q"), Some("r"))
        );
        assert_eq!(c[1].1[0].1, "q", "a conflict keeps ours until resolved");
        let t = merge_rows(true, &base, &ours, &theirs, Some(Side::Theirs), &show);
        assert!(t.conflicts.is_empty());
        assert_eq!(cells_of(&t)[1].1[0].1, "r");
        assert_eq!(
            cells_of(&t)[0].1[0].1,
            "X",
            "a clean merge is not overridden"
        );
    }

    #[test]
    fn delete_against_edit_conflicts_and_one_sided_changes_apply() {
        let base = vec![
            row("1", &[("v", "a")]),
            row("2", &[("v", "b")]),
            row("3", &[("v", "c")]),
        ];
        let ours = vec![
            row("2", &[("v", "B")]),
            row("3", &[("v", "c")]),
            row("4", &[("v", "d")]),
        ];
        let theirs = vec![row("1", &[("v", "a")]), row("2", &[("v", "b")])];
        let m = merge_rows(true, &base, &ours, &theirs, None, &show);
        // 1: deleted by ours, untouched by theirs: gone. 2: edited by ours,
        // untouched by theirs: ours. 3: deleted by theirs: gone. 4: added.
        let keys: Vec<String> = cells_of(&m).into_iter().map(|c| c.0).collect();
        assert_eq!(keys, ["2", "4"]);
        assert!(m.conflicts.is_empty());
        let theirs = vec![row("1", &[("v", "a")]), row("3", &[("v", "C")])];
        let ours = vec![row("1", &[("v", "a")]), row("2", &[("v", "B")])];
        let m = merge_rows(true, &base, &ours, &theirs, None, &show);
        let whole: Vec<(&str, bool, bool)> = m
            .conflicts
            .iter()
            .map(|c| (c.key.as_str(), c.ours.is_some(), c.theirs.is_some()))
            .collect();
        // 2: edited by ours, deleted by theirs. 3: deleted by ours, edited by theirs.
        assert_eq!(whole, [("2", true, false), ("3", false, true)]);
    }

    #[test]
    fn unkeyed_rows_merge_as_multisets() {
        let r = |v: &str, n: u32| ChunkRow {
            count: n,
            ..row(v, &[("v", v)])
        };
        let m = merge_rows(
            false,
            &[r("a", 2), r("b", 1)],
            &[r("a", 3)],
            &[r("a", 2), r("b", 1), r("c", 1)],
            None,
            &show,
        );
        let counts: Vec<u32> = m.rows.iter().map(|x| x.1).collect();
        assert_eq!(counts, [3, 1], "a: 3+2-2, b: 0+1-1 gone, c: 0+1-0");
        assert!(m.conflicts.is_empty());
    }

    #[test]
    fn written_rows_read_back_as_the_same_rows() {
        let rows = [
            row("1", &[("id", "1"), ("text", "a, \"quoted\" one")]),
            row("2", &[("id", "2")]),
        ];
        let m = MergedRows {
            rows: rows
                .iter()
                .map(|r| (r.ident.clone(), 1, r.body.clone()))
                .collect(),
            conflicts: vec![],
        };
        let csv = write_rows(Format::Csv, &["id".into()], &m.rows).expect("writes");
        assert_eq!(
            String::from_utf8(csv).expect("utf8"),
            "id,text\n1,\"a, \"\"quoted\"\" one\"\n2,\n"
        );
        let jsonl =
            write_rows(Format::Jsonl, &["id".into(), "text".into()], &m.rows).expect("writes");
        assert_eq!(
            String::from_utf8(jsonl).expect("utf8"),
            "{\"id\":\"1\",\"text\":\"a, \\\"quoted\\\" one\"}\n{\"id\":\"2\"}\n"
        );
    }

    /// A streamed row that holds a column the order lacks is refused,
    /// naming the column, in either format: never written without it.
    #[test]
    fn a_row_with_an_unlisted_column_is_refused() {
        let r = row("1", &[("id", "1"), ("secret", "x")]);
        for format in [Format::Csv, Format::Jsonl] {
            let err = write_ordered(format, &["id".into()], &mut |each| each(&r.body, 1))
                .expect_err("refused");
            assert!(err.contains("\"secret\""), "{format:?}: {err}");
        }
        // Listed, it is written.
        let csv = write_ordered(Format::Csv, &["id".into(), "secret".into()], &mut |each| {
            each(&r.body, 2)
        })
        .expect("writes");
        assert_eq!(
            String::from_utf8(csv).expect("utf8"),
            "id,secret\n1,x\n1,x\n"
        );
    }
}
