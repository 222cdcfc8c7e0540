"""Writes what numpy's np.sum gives for arrays folio can rebuild exactly,
for the test that folio sums as numpy does (crates/folio-core/src/drift/
preset.rs, `np_sum`): NannyML's leftover bin and scipy's jensenshannon
normalisation depend on numpy's rounding.

    /tmp/presets/bin/python tests/golden/np_sum_expect.py   # any numpy 2.x

Value i of every array is ((i * 7919) % 1000 + 1) / 997 * M[i % 11], with
M = 1e-5 … 1e5: the same IEEE operations in Python and Rust. Sums are
stored as the hex of their bits, so nothing is lost to decimal text.
"""

import json
import struct
from pathlib import Path

import numpy as np

M = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5]
SIZES = [1, 2, 7, 8, 9, 15, 16, 17, 100, 127, 128, 129, 130, 255, 256, 257,
         1000, 1023, 1024, 1025, 3000, 5000]


def value(i):
    return ((i * 7919) % 1000 + 1) / 997 * M[i % 11]


def bits(x):
    return struct.pack(">d", x).hex()


def main():
    cases = []
    for n in SIZES:
        a = np.array([value(i) for i in range(n)], dtype=np.float64)
        seq = 0.0
        for x in a:
            seq += float(x)
        cases.append({"n": n, "numpy": bits(float(np.sum(a))), "sequential": bits(seq)})
    out = Path(__file__).parent / "presets" / "np_sum.json"
    out.write_text(json.dumps({"numpy": np.__version__, "cases": cases}, indent=1) + "\n")


if __name__ == "__main__":
    main()
