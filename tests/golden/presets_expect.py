"""Writes the preset test tables and what Evidently and NannyML report on
them, computed by the real packages (pinned), for folio's `--preset`
checks (crates/folio-cli/tests/cli/drift.rs, presets_match_*):

    python3 -m venv /tmp/presets && /tmp/presets/bin/pip install \
        'evidently==0.4.40' 'nannyml==0.13.1' 'pandas==2.2.3'
    /tmp/presets/bin/python tests/golden/presets_expect.py

writes tests/golden/presets/{small,large}_{ref,cur}.csv and expected.json.
Run when regenerating, not in CI.
"""

import csv
import json
import math
import random
import warnings
from pathlib import Path

import evidently
import nannyml as nml
import pandas as pd
from evidently import ColumnMapping
from evidently.metric_preset import DataDriftPreset
from evidently.report import Report

warnings.filterwarnings("ignore")
OUT = Path(__file__).parent / "presets"
COLUMNS = ["f", "miss", "i5", "i50", "b", "cat", "cat_new"]


def table(seed, n, shift):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        f = round(rng.gauss(shift, 1 + shift / 3), 4)
        miss = "" if rng.random() < 0.1 + shift / 5 else round(rng.gauss(10 + shift, 2), 3)
        i5 = rng.choices([1, 2, 3, 4], weights=[4, 3, 2 + 4 * shift, 1])[0]
        i50 = int(rng.gauss(50 + 3 * shift, 12))
        b = rng.choices(["yes", "no"], weights=[6, 4 + 3 * shift])[0]
        cats = ["a", "b", "c", "d", "e", "f"]
        cat = rng.choices(cats, weights=[5, 4, 3, 3 + 2 * shift, 2, 1])[0]
        cat_new = rng.choices(cats + ["new"], weights=[5, 4, 3, 3, 2, 1, 2 * shift])[0]
        rows.append({"id": i, "f": f, "miss": miss, "i5": i5, "i50": i50, "b": b,
                     "cat": cat, "cat_new": cat_new})
    return rows


def write(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def evidently_figures(ref, cur):
    report = Report(metrics=[DataDriftPreset()])
    report.run(reference_data=ref, current_data=cur, column_mapping=ColumnMapping(id="id"))
    d = report.as_dict()
    dataset = d["metrics"][0]["result"]
    by_col = d["metrics"][1]["result"]["drift_by_columns"]
    return {
        "dataset_drift": dataset["dataset_drift"],
        "share": dataset["share_of_drifted_columns"],
        "columns": {c: {"test": by_col[c]["stattest_name"], "score": float(by_col[c]["drift_score"]),
                        "drifted": bool(by_col[c]["drift_detected"]),
                        "threshold": float(by_col[c]["stattest_threshold"]),
                        "type": by_col[c]["column_type"]} for c in COLUMNS},
    }


def nannyml_figures(ref, cur):
    calc = nml.UnivariateDriftCalculator(
        column_names=COLUMNS,
        continuous_methods=["jensen_shannon"],
        categorical_methods=["jensen_shannon"],
        chunk_number=1,
        thresholds={"jensen_shannon": nml.thresholds.ConstantThreshold(upper=0.1)},
    )
    calc.fit(ref)
    df = calc.calculate(cur).filter(period="analysis").to_df()
    out = {}
    for c in COLUMNS:
        out[c] = {"value": float(df[(c, "jensen_shannon", "value")].iloc[0]),
                  "alert": bool(df[(c, "jensen_shannon", "alert")].iloc[0])}
    return out


def main():
    OUT.mkdir(exist_ok=True)
    exp = {"evidently_version": evidently.__version__, "nannyml_version": nml.__version__}
    for name, n_ref, n_cur in [("small", 300, 250), ("large", 1500, 1200)]:
        ref, cur = table(1, n_ref, 0.0), table(2, n_cur, 1.0)
        write(OUT / f"{name}_ref.csv", ref)
        write(OUT / f"{name}_cur.csv", cur)
        r = pd.read_csv(OUT / f"{name}_ref.csv")
        c = pd.read_csv(OUT / f"{name}_cur.csv")
        exp[name] = {"evidently": evidently_figures(r, c), "nannyml": nannyml_figures(r, c)}
    (OUT / "expected.json").write_text(json.dumps(exp, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
