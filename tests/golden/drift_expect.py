"""Writes the drift test tables and the figures folio must report for them,
computed independently of folio: scipy for KS, Wasserstein and chi-square,
and the documented formulas (docs/DRIFT.md) written out here for PSI, KL,
Jensen-Shannon, Hellinger and the missing-rate z-test.

    pip install scipy && python3 tests/golden/drift_expect.py

writes tests/golden/drift/{ref.csv,cur.csv,expected.json}.
"""
import csv
import json
import math
import random
from pathlib import Path

from scipy import stats
from scipy.spatial.distance import jensenshannon

OUT = Path(__file__).parent / "drift"
N = 200


def table(seed, label_counts, mu, sigma, missing, grades):
    rng = random.Random(seed)
    labels = [l for l, n in label_counts for _ in range(n)]
    rng.shuffle(labels)
    rows = []
    for i in range(N):
        note = "" if rng.random() < missing else rng.choice(["ok", "fine", "check"])
        rows.append({"id": i + 1, "label": labels[i], "x": f"{rng.gauss(mu, sigma):.4f}",
                     "note": note, "grade": rng.choice(grades)})
    return rows


def write(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["id", "label", "x", "note", "grade"])
        w.writeheader()
        w.writerows(rows)


def shares(counts):
    n = sum(counts)
    return [c / n for c in counts]


def smoothed(counts):
    n = sum(counts)
    return [(0.5 / n) if c == 0 else c / n for c in counts]


def categorical(rc, cc):
    p, q = shares(rc), shares(cc)
    ps, qs = smoothed(rc), smoothed(cc)
    chi2, pval, dof, _ = stats.chi2_contingency([rc, cc], correction=False)
    return {
        # Bins empty on both sides are left out (they hold no evidence).
        "psi": sum((b - a) * math.log(b / a) for a, b, x, y in zip(ps, qs, rc, cc) if x or y),
        "kl": sum(a * math.log(a / b) for a, b, x, y in zip(ps, qs, rc, cc) if x or y),
        "jensen_shannon": jensenshannon(p, q, base=2) ** 2,
        "hellinger": math.sqrt(0.5 * sum((math.sqrt(a) - math.sqrt(b)) ** 2 for a, b in zip(p, q))),
        "l_infinity": max(abs(a - b) for a, b in zip(p, q)),
        "chi_square": chi2, "chi_square_p": pval, "chi_square_dof": dof,
    }


def binned(r, c, bins=10):
    r, c = sorted(r), sorted(c)
    n = len(r)
    edges = []
    for k in range(1, bins):
        e = r[max(1, min(n, -(-k * n // bins))) - 1]  # nearest rank: ceil(k n / B)
        if not edges or edges[-1] != e:
            edges.append(e)
    # Ties at the bottom: values below the reference's minimum get a bin.
    if edges and edges[0] == r[0]:
        edges.insert(0, math.nextafter(r[0], -math.inf))

    def counts(xs):
        out = [0] * (len(edges) + 1)
        for x in xs:
            i = 0
            while i < len(edges) and x > edges[i]:
                i += 1
            out[i] += 1
        return out
    rc, cc = counts(r), counts(c)
    m = categorical(rc, cc)
    return {k: m[k] for k in ("psi", "kl", "jensen_shannon", "hellinger")}, edges


def main():
    OUT.mkdir(exist_ok=True)
    ref = table(1, [("a", 100), ("b", 60), ("c", 40)], 0.0, 1.0, 0.10, ["A", "B", "C"])
    cur = table(2, [("a", 60), ("b", 60), ("c", 80)], 0.5, 1.2, 0.35, ["A", "B", "D"])
    write(OUT / "ref.csv", ref)
    write(OUT / "cur.csv", cur)
    exp = {}
    lab = lambda rows, k: [sum(1 for r in rows if r["label"] == k)]
    exp["label"] = categorical([lab(ref, k)[0] for k in "abc"], [lab(cur, k)[0] for k in "abc"])
    xr = [float(r["x"]) for r in ref]
    xc = [float(r["x"]) for r in cur]
    # Samples of at most 10,000 values: ks_2samp's default (exact) p-value.
    ks = stats.ks_2samp(xr, xc)
    ks_p = ks.pvalue
    x, edges = binned(xr, xc)
    w = stats.wasserstein_distance(xr, xc)
    sd = math.sqrt(sum((v - sum(xr) / N) ** 2 for v in xr) / N)  # population sd
    x.update({"ks": ks.statistic, "ks_p": ks_p, "wasserstein": w, "wasserstein_norm": w / sd})
    exp["x"] = x
    # The exact p-value on its own: equal and unequal sizes, ties, p-values
    # near 1 and far below 1e-10 (two 31-value samples far apart, like the
    # airquality Temp months).
    rng = random.Random(7)
    cases = []
    for n, m, shift in [(31, 31, 2.5), (5, 7, 0.8), (40, 25, 0.3), (100, 150, 0.25),
                        (12, 12, 0.0), (300, 200, 0.4), (1, 3, 1.0), (60, 45, 1.5),
                        # Up to scipy's exact limit (10,000), ties throughout.
                        (1000, 800, 0.1), (2500, 2500, 0.05), (5000, 4000, 0.04),
                        (5000, 5000, 0.0)]:
        a = [round(rng.gauss(0, 1), 1) for _ in range(n)]  # rounded: ties
        b = [round(rng.gauss(shift, 1), 1) for _ in range(m)]
        r = stats.ks_2samp(a, b)
        cases.append({"reference": a, "current": b, "d": float(r.statistic), "p": float(r.pvalue)})
    exp["ks_exact"] = cases
    exp["x_edges"] = edges
    k1 = sum(1 for r in ref if r["note"] == "")
    k2 = sum(1 for r in cur if r["note"] == "")
    p = (k1 + k2) / (2 * N)
    z = (k2 / N - k1 / N) / math.sqrt(p * (1 - p) * (2 / N))
    exp["note_missing"] = {"reference": k1 / N, "current": k2 / N, "z": z,
                           "p_value": math.erfc(abs(z) / math.sqrt(2))}
    g = lambda rows, k: sum(1 for r in rows if r["grade"] == k)
    exp["grade_new"] = [{"category": "D", "share": g(cur, "D") / N}]
    exp["grade_vanished"] = [{"category": "C", "share": g(ref, "C") / N}]
    (OUT / "expected.json").write_text(json.dumps(exp, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
