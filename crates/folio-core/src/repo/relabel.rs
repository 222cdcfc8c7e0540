//! The relabel queue of a drift report: the current examples in the hot
//! spot (the most grown bin or category) of each drifted column, least
//! confident first, as CSV that `annotate --file` reads back.

use super::{Repo, RepoError};
use crate::drift::compare::HotSpot;
use crate::drift::report::{DriftOptions, DriftReport, LEDGER_CONFIDENCE, LEDGER_LABEL};
use crate::ledger::ExampleId;

/// One example a relabel queue lists: a current row in the hot spot of at
/// least one drifted column.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueEntry {
    /// The table.
    pub table: String,
    /// Its locator (`TABLE:KEY`, or `TABLE#…` for an unkeyed table).
    pub example: String,
    /// Its id (what `annotate --file` also accepts).
    pub id: ExampleId,
    /// Its latest label and confidence at the current commit.
    pub label: Option<String>,
    /// See `label`.
    pub confidence: Option<f64>,
    /// Each hot spot it falls in, as (column, bin or category).
    pub spots: Vec<(String, String)>,
}

/// The examples to relabel after a drift: see [`Repo::relabel_queue`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RelabelQueue {
    /// Examples, those without a confidence first, then lowest confidence
    /// first; then by table and locator.
    pub entries: Vec<QueueEntry>,
    /// The hot spots, by table.
    pub spots: Vec<(String, HotSpot)>,
    /// Tables with drifted columns whose selected rows carry no label:
    /// nothing there to relabel.
    pub unlabelled: Vec<String>,
}

impl RelabelQueue {
    /// The queue as CSV that `annotate --file` reads back once `label`
    /// (and, if wanted, `annotator` and `confidence`) are filled in; the
    /// other columns say why each example is listed.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let head = [
            "example",
            "label",
            "annotator",
            "confidence",
            "current_label",
            "current_confidence",
            "table",
            "drifted",
            "example_id",
        ];
        // Writing to memory cannot fail.
        let _ = w.write_record(head);
        for e in &self.entries {
            let spots: Vec<String> = e.spots.iter().map(|(c, b)| format!("{c} in {b}")).collect();
            let _ = w.write_record([
                e.example.as_str(),
                "",
                "",
                "",
                e.label.as_deref().unwrap_or(""),
                &e.confidence.map(|c| c.to_string()).unwrap_or_default(),
                &e.table,
                &spots.join("; "),
                &e.id.to_hex(),
            ]);
        }
        w.into_inner().unwrap_or_default()
    }
}

impl Repo {
    /// The relabel queue of a drift report: for each table, the hot spot
    /// (the bin or category whose share grew most) of every drifted column
    /// — data, metadata and the ledger's label and confidence — and the
    /// current side's selected examples that fall in one, in tables whose
    /// examples carry labels.
    pub fn relabel_queue(
        &self,
        report: &DriftReport,
        opts: &DriftOptions,
    ) -> Result<RelabelQueue, RepoError> {
        use crate::table::CellRef;
        let (rc, cc) = (
            self.read_commit(report.reference)?,
            self.read_commit(report.current)?,
        );
        let mut queue = RelabelQueue::default();
        let mut states = None;
        for t in report.tables.iter().filter(|t| !t.path.ends_with('/')) {
            let spots: Vec<HotSpot> = t
                .columns
                .iter()
                .chain(&t.metadata)
                .filter_map(|c| c.hot_spot())
                .collect();
            let Some(cm) = cc.tables.iter().find(|x| x.path == t.path) else {
                continue;
            };
            if spots.is_empty() {
                continue;
            }
            let sel = opts.selection_for(&t.path);
            let ids = self.selected_examples(&cc, &sel.current, &mut states)?;
            let st = self.states_at(&cc, &mut states)?;
            let m = self.read_manifest(cm.manifest)?;
            let keyed = !m.key.is_empty();
            let mut entries = Vec::new();
            let mut labelled = false;
            let mut visit = |ident: &[u8], body: &[u8]| -> Result<(), RepoError> {
                let id = ExampleId::row(&t.path, ident);
                if ids.as_ref().is_some_and(|s| !s.contains(&id)) {
                    return Ok(());
                }
                let (label, confidence) = st
                    .get(&id)
                    .map_or((None, None), |e| (e.label.clone(), e.confidence));
                labelled |= label.is_some();
                let conf_text = confidence.map(|c| format!("{c}"));
                let mut hits = Vec::new();
                for spot in &spots {
                    let inside = match spot.column.as_str() {
                        LEDGER_LABEL => {
                            spot.holds(label.as_deref().map_or(CellRef::Null, CellRef::Text))
                        }
                        LEDGER_CONFIDENCE => {
                            spot.holds(conf_text.as_deref().map_or(CellRef::Null, CellRef::Number))
                        }
                        name => {
                            let mut inside = false;
                            crate::table::visit_row(body, &mut |n, c| {
                                if n == name {
                                    inside = spot.holds(c);
                                }
                            })
                            .ok_or_else(|| {
                                crate::table::TableError::Corrupt(
                                    m.blob,
                                    "a row does not decode".into(),
                                )
                            })?;
                            inside
                        }
                    };
                    if inside {
                        hits.push((spot.column.clone(), spot.label.clone()));
                    }
                }
                if !hits.is_empty() {
                    entries.push(QueueEntry {
                        table: t.path.clone(),
                        example: crate::ledger::Locator::row(&t.path, keyed, ident).to_string(),
                        id,
                        label,
                        confidence,
                        spots: hits,
                    });
                }
                Ok(())
            };
            // With --added, only the rows CUR added relative to REF.
            let reference = if sel.added {
                Some(
                    rc.tables
                        .iter()
                        .find(|x| x.path == t.path)
                        .map(|x| self.read_manifest(x.manifest))
                        .transpose()?,
                )
            } else {
                None
            };
            self.each_row(
                &m,
                reference.as_ref().map(Option::as_ref),
                &mut |ident, body, _| visit(ident, body),
            )?;
            if labelled {
                queue.entries.extend(entries);
                queue
                    .spots
                    .extend(spots.into_iter().map(|s| (t.path.clone(), s)));
            } else {
                queue.unlabelled.push(t.path.clone());
            }
        }
        queue.entries.sort_by(|a, b| {
            let conf = |e: &QueueEntry| e.confidence.unwrap_or(f64::NEG_INFINITY);
            conf(a)
                .total_cmp(&conf(b))
                .then_with(|| a.table.cmp(&b.table))
                .then_with(|| a.example.cmp(&b.example))
        });
        Ok(queue)
    }
}
