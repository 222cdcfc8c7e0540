#!/usr/bin/env python3
"""Writes the Parquet fixtures of folio-core's tests, and what folio must
read from them, computed here with Python's own formatting (never from
folio's code). Run from anywhere: python3 make.py (needs pyarrow).

types.parquet + types.expected.json: one column per Parquet type folio
maps, with nulls and an empty string; the expected text of every cell.
same.csv + same.parquet: the same rows as CSV and Parquet (integers,
non-integral floats, strings, booleans): their row identities must agree.
"""
import csv
import datetime as dt
import decimal
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
UTC = dt.timezone.utc

ids = [1, 2, 3]
i8 = [-5, None, 127]
u32 = [0, 4_000_000_000, None]
f64 = [0.25, -1.5, None]
f32 = [0.5, None, -2.25]
flag = [True, False, None]
name = ["alpha", "", None]
day = [dt.date(2026, 1, 15), None, dt.date(1969, 12, 31)]
ts_us = [dt.datetime(2026, 1, 15, 10, 0, 0, 123456, tzinfo=UTC), None,
         dt.datetime(1999, 12, 31, 23, 59, 59, 0, tzinfo=UTC)]
ts_ns = [1_768_471_200_123_456_789, None, -1]  # nanoseconds, no zone
dec = [decimal.Decimal("12.30"), decimal.Decimal("-0.05"), None]
blob = [b"\x00\xff\x10", None, b""]
tags = [["a", "b"], [], None]
info = [{"a": 1, "b": "x"}, None, {"a": None, "b": "y"}]
mapping = [[("k", 1), ("j", 2)], None, []]

table = pa.table({
    "id": pa.array(ids, pa.int64()),
    "i8": pa.array(i8, pa.int8()),
    "u32": pa.array(u32, pa.uint32()),
    "f64": pa.array(f64, pa.float64()),
    "f32": pa.array(f32, pa.float32()),
    "flag": pa.array(flag, pa.bool_()),
    "name": pa.array(name, pa.string()),
    "day": pa.array(day, pa.date32()),
    "ts_us": pa.array(ts_us, pa.timestamp("us", tz="UTC")),
    "ts_ns": pa.array(ts_ns, pa.timestamp("ns")),
    "dec": pa.array(dec, pa.decimal128(10, 2)),
    "blob": pa.array(blob, pa.binary()),
    "tags": pa.array(tags, pa.list_(pa.string())),
    "info": pa.array(info, pa.struct([("a", pa.int64()), ("b", pa.string())])),
    "m": pa.array(mapping, pa.map_(pa.string(), pa.int64())),
})
pq.write_table(table, HERE / "types.parquet", compression="snappy")


def canon(v):
    return json.dumps(v, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def ns_text(ns):
    secs, frac = divmod(ns, 1_000_000_000)
    t = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=secs)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}"


expected = []
for r in range(3):
    row = {}

    def put(col, v, text):
        if v is not None:
            row[col] = text(v)

    put("id", ids[r], str)
    put("i8", i8[r], str)
    put("u32", u32[r], str)
    put("f64", f64[r], repr)
    put("f32", f32[r], repr)
    put("flag", flag[r], lambda b: "true" if b else "false")
    put("name", name[r], str)
    put("day", day[r], lambda d: d.isoformat())
    put("ts_us", ts_us[r], lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z")
    put("ts_ns", ts_ns[r], ns_text)
    put("dec", dec[r], str)
    put("blob", blob[r], lambda b: b.hex())
    put("tags", tags[r], canon)
    put("info", info[r], canon)
    put("m", mapping[r], lambda kv: canon(dict(kv)))
    expected.append(row)
(HERE / "types.expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")

# The same rows as CSV and as Parquet.
rows = [(i, f"item {i}", i * 0.5 + 0.25, i % 3 == 0) for i in range(1, 41)]
with open(HERE / "same.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["id", "text", "score", "keep"])
    for i, t, s, k in rows:
        w.writerow([i, t, repr(s), "true" if k else "false"])
pq.write_table(pa.table({
    "id": pa.array([r[0] for r in rows], pa.int64()),
    "text": pa.array([r[1] for r in rows], pa.string()),
    "score": pa.array([r[2] for r in rows], pa.float64()),
    "keep": pa.array([r[3] for r in rows], pa.bool_()),
}), HERE / "same.parquet", compression="zstd", row_group_size=16)
print("wrote", sorted(p.name for p in HERE.iterdir()))

# A next version: row 3 removed, row 7's score changed, row 41 added.
rows2 = [r for r in rows if r[0] != 3]
rows2 = [(i, t, 99.5 if i == 7 else s, k) for i, t, s, k in rows2] + [(41, "item 41", 20.75, False)]
pq.write_table(pa.table({
    "id": pa.array([r[0] for r in rows2], pa.int64()),
    "text": pa.array([r[1] for r in rows2], pa.string()),
    "score": pa.array([r[2] for r in rows2], pa.float64()),
    "keep": pa.array([r[3] for r in rows2], pa.bool_()),
}), HERE / "next.parquet", compression="gzip")
print("wrote next.parquet")

# Sharded tables (D91): the same 40 rows in 2 shards, then dealt again to
# 3 shards in another order (no row changes), then 4 shards with rows 41
# and 42 added in the new one.
def shard(rows, path, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({
        "id": pa.array([r[0] for r in rows], pa.int64()),
        "text": pa.array([r[1] for r in rows], pa.string()),
        "score": pa.array([r[2] for r in rows], pa.float64()),
        "keep": pa.array([r[3] for r in rows], pa.bool_()),
    }), path, **kw)


for i, part in enumerate([rows[:20], rows[20:]]):
    shard(part, HERE / "shards/two" / f"train-{i:05d}-of-00002.parquet", compression="snappy")
for n in (3, 4):
    for i in range(3):
        part = [r for r in reversed(rows) if r[0] % 3 == i]
        shard(part, HERE / f"shards/n{n}" / f"train-{i:05d}-of-{n:05d}.parquet",
              compression="lz4", row_group_size=5)
extra = [(41, "item 41", 20.75, False), (42, "item 42", 21.25, True)]
shard(extra, HERE / "shards/n4" / "train-00003-of-00004.parquet", compression="zstd")
print("wrote shards/")
