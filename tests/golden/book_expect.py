"""Expected depreciation schedules for folio's book, computed independently
of folio with exact rational arithmetic (Python's Fraction) from the rules
in docs/BOOK.md:

- a method gives the cumulative share F(t) of the depreciable amount
  D = cost - residual charged after t whole months of service; between whole
  months F is linear (half a month = half that month's share);
- conventions: full-month (t = p + 1 at the end of calendar period p),
  mid-month (t = p + 1/2), next-month (t = p), capped at the life;
- each period's charge is round(D F(t_end)) - round(D F(t_start)), rounding
  half away from zero to minor units.

    python3 tests/golden/book_expect.py   # writes tests/golden/book/expected.json
"""
import json
from fractions import Fraction as Fr
from pathlib import Path


def rnd(x):
    """Half away from zero (amounts here are never negative)."""
    return int(x + Fr(1, 2)) if x >= 0 else -int(-x + Fr(1, 2))


def shares(method, cost, residual, life, factor=None):
    d = cost - residual
    if method == "straight-line":
        return [Fr(t, life) for t in range(life + 1)]
    if method == "sum-of-years-digits":
        total = life * (life + 1) // 2
        out, s = [Fr(0)], 0
        for t in range(1, life + 1):
            s += life - t + 1
            out.append(Fr(s, total))
        return out
    if method == "declining-balance":
        rate = Fr(factor).limit_denominator(1000) / life
        bv, out = Fr(cost), [Fr(0)]
        for t in range(1, life + 1):
            db = bv * rate
            sl = (bv - residual) / (life - t + 1)
            charge = min(max(db, sl), bv - residual)
            bv -= charge
            out.append((cost - bv) / d)
        out[-1] = Fr(1)
        return out
    raise ValueError(method)


def charges(method, cost, residual, life, convention, factor=None):
    f = shares(method, cost, residual, life, factor)
    d = cost - residual

    def F(half):  # half-months elapsed
        a, r = divmod(half, 2)
        if a >= life:
            return Fr(1)
        return f[a] + (Fr(r, 2) * (f[a + 1] - f[a]))

    end = {"full-month": lambda p: 2 * (p + 1), "mid-month": lambda p: 2 * p + 1,
           "next-month": lambda p: 2 * p}[convention]
    periods = life if convention == "full-month" else life + 1
    out, prev = [], 0
    for p in range(periods):
        cum = rnd(d * F(min(end(p), 2 * life)))
        out.append(cum - prev)
        prev = cum
    return out


CASES = [
    ("straight-line", 12_000_000, 0, 18, "full-month", None),
    ("declining-balance", 12_000_000, 0, 18, "full-month", 2.0),
    ("declining-balance", 12_000_000, 0, 18, "full-month", 1.5),
    ("sum-of-years-digits", 12_000_000, 0, 18, "full-month", None),
    ("straight-line", 12_000_000, 0, 18, "mid-month", None),
    ("sum-of-years-digits", 12_000_000, 0, 18, "mid-month", None),
    ("declining-balance", 12_000_000, 0, 18, "next-month", 2.0),
    ("declining-balance", 10_000_000, 1_000_000, 12, "full-month", 2.0),
    ("straight-line", 99_999, 333, 7, "mid-month", None),
    ("sum-of-years-digits", 5_000_001, 0, 36, "next-month", None),
]


def main():
    out = []
    for method, cost, residual, life, conv, factor in CASES:
        c = charges(method, cost, residual, life, conv, factor)
        assert sum(c) == cost - residual
        out.append({"method": method, "cost": cost, "residual": residual, "life": life,
                    "convention": conv, "factor": factor, "charges": c})
    path = Path(__file__).parent / "book" / "expected.json"
    path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
