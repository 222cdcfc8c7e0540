"""The drift comparison a user would otherwise script with scipy: read two
versions of a CSV table, then per numeric column ks_2samp and
wasserstein_distance, per categorical column chi2_contingency and
jensenshannon. Used by bench.py for the ratio against `folio drift`."""
import csv
import sys
from collections import Counter

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

NUMERIC = [f"n{i}" for i in range(5)]
CATEGORICAL = [f"c{i}" for i in range(5)]


def load(path):
    cols = {c: [] for c in NUMERIC + CATEGORICAL}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for c in NUMERIC:
                cols[c].append(float(row[c]))
            for c in CATEGORICAL:
                cols[c].append(row[c])
    return cols


def main(ref_path, cur_path):
    ref, cur = load(ref_path), load(cur_path)
    for c in NUMERIC:
        a, b = np.array(ref[c]), np.array(cur[c])
        stats.ks_2samp(a, b)
        stats.wasserstein_distance(a, b)
    for c in CATEGORICAL:
        ra, cb = Counter(ref[c]), Counter(cur[c])
        keys = sorted(set(ra) | set(cb))
        table = [[ra[k] for k in keys], [cb[k] for k in keys]]
        stats.chi2_contingency(table, correction=False)
        jensenshannon(table[0], table[1], base=2)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
