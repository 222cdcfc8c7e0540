#!/usr/bin/env python3
"""Golden vectors for folio's archival formats, from docs/FORMAT.md alone.

An implementation independent of the Rust code: it reads no folio source and
shares no code with it. It writes tests/golden/formats/, which the tests in
crates/folio-core/src/golden.rs check byte for byte, so a format change
cannot pass silently:

  example_ids.json   example-id derivation (files and table rows)
  events.json        event encodings and hashes, one of every kind
  merkle.json        RFC 6962 roots (BLAKE3) and inclusion paths
  batch.bin          an event batch of two zstd frames holding events.json's
                     events; ledger.json its id, event count and Merkle root
  pack_write/        a pack and its index of raw records, as folio must write them
  pack_read/         a pack with raw and zstd records, as folio must read them

Run from the repository root:
    pip install blake3 zstandard && python3 tests/golden/formats.py
"""
import json
import struct
from pathlib import Path

import zstandard
from blake3 import blake3

OUT = Path(__file__).parent / "formats"


def h(b: bytes) -> bytes:
    return blake3(b).digest()


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + struct.pack("<I", len(value)) + value


# Example ids ---------------------------------------------------------------

def example_id(kind: int, path: str, ident: bytes) -> bytes:
    p = path.encode()
    return h(b"folio-example 1\n" + bytes([kind]) + struct.pack("<I", len(p)) + p + ident)


EXAMPLES = [
    {"kind": "file", "path": "images/cat/001.png", "ident": ""},
    {"kind": "file", "path": "données/é.txt", "ident": ""},
    {"kind": "row", "path": "labels.csv", "ident": "0100000000" + "3432".encode().hex()},
    {"kind": "row", "path": "t.jsonl", "ident": "ff" * 32},
]


# Events --------------------------------------------------------------------

KIND = {"added": 1, "removed": 2, "annotated": 3, "valued": 4,
        "reclassified": 5, "trained": 6, "licensed": 7, "impaired": 8, "voided": 9,
        "rows_changed": 10, "purged": 11}

# Metadata field names, in the order their indexes give (docs/FORMAT.md).
META_NAMES = ["source", "collected_at", "label", "annotator", "confidence", "cost",
              "labelling_cost", "vendor", "currency", "license", "sensitivity"]


def meta(m: dict) -> bytes:
    """Set metadata fields: (index u8, length u32, text), in index order."""
    return b"".join(tlv(i, m[n].encode()) for i, n in enumerate(META_NAMES) if n in m)


def payload(p: dict) -> bytes:
    k = p["kind"]
    out = bytes([KIND[k]])
    text = lambda tag, key: tlv(tag, p[key].encode()) if p.get(key) is not None else b""
    if k == "added":
        out += text(1, "dataset") + text(2, "locator") + text(3, "source") + text(4, "collected_at")
    elif k == "removed":
        out += text(2, "locator")
    elif k == "annotated":
        out += text(1, "label") + text(2, "annotator")
        if p.get("confidence") is not None:
            out += tlv(3, struct.pack("<d", p["confidence"]))
    elif k == "valued":
        out += tlv(1, struct.pack("<q", p["acquisition"])) + tlv(2, struct.pack("<q", p["labelling"]))
        out += text(3, "currency") + text(4, "vendor")
    elif k == "reclassified":
        out += text(1, "sensitivity")
    elif k == "trained":
        out += text(1, "model") + text(2, "run")
    elif k == "licensed":
        out += text(1, "license")
    elif k == "voided":
        out += tlv(1, bytes.fromhex(p["target"])) + text(2, "reason")
    elif k == "purged":
        out += tlv(1, bytes.fromhex(p["record"])) + text(2, "reason")
    elif k == "impaired":
        out += tlv(1, struct.pack("<q", p["amount"])) + text(2, "currency") + text(3, "reason")
    elif k == "rows_changed":
        out += text(1, "dataset") + text(2, "table")
        for tag, key in ((3, "old"), (4, "new")):
            if p.get(key):
                out += tlv(tag, bytes.fromhex(p[key]))
        out += text(5, "source")
        for tag, key in ((6, "meta"), (7, "columns")):
            if p.get(key):
                out += tlv(tag, meta(p[key]))
    return out


def event(e: dict) -> bytes:
    out = b"folio-event 2\n"
    out += tlv(2, struct.pack("<q", e["time"]))
    out += tlv(3, e["actor"].encode())
    if e.get("commit"):
        out += tlv(4, bytes.fromhex(e["commit"]))
    if "example" in e:
        out += tlv(5, b"\x01" + bytes.fromhex(e["example"]))
    else:
        out += tlv(5, b"\x02" + e["dataset"].encode())
    out += tlv(6, payload(e["payload"]))
    return out


def events():
    ex = example_id(1, "images/cat/001.png", b"").hex()
    row = example_id(2, "labels.csv", bytes.fromhex(EXAMPLES[2]["ident"])).hex()
    commit = h(b"a commit").hex()
    base = {"time": 1_768_471_200, "actor": "Ada <ada@example.com>"}
    specs = [
        {"example": ex, "payload": {"kind": "added", "dataset": "images", "locator": "images/cat/001.png",
                                    "source": "s3://vendor/batch-1", "collected_at": "2026-01-15"}},
        {"example": row, "payload": {"kind": "added", "dataset": "labels.csv", "locator": "labels.csv:42"}},
        {"example": row, "payload": {"kind": "annotated", "label": "cat", "annotator": "bob", "confidence": 0.875}},
        {"example": row, "payload": {"kind": "annotated", "label": "dog"}},
        {"example": ex, "payload": {"kind": "valued", "acquisition": 1250, "labelling": -3,
                                    "currency": "EUR", "vendor": "acme"}},
        {"example": ex, "payload": {"kind": "valued", "acquisition": 0, "labelling": 0, "currency": "JPY"}},
        {"example": ex, "payload": {"kind": "reclassified", "sensitivity": "pii"}},
        {"example": ex, "payload": {"kind": "licensed", "license": "CC-BY-4.0"}},
        {"dataset": "images", "commit": commit, "payload": {"kind": "trained", "model": "resnet50", "run": "r-17"}},
        {"dataset": "images", "payload": {"kind": "impaired", "amount": 4200, "currency": "EUR", "reason": "drift"}},
        {"example": ex, "commit": commit, "payload": {"kind": "removed", "locator": "images/cat/001.png"}},
        {"example": row, "payload": {"kind": "voided", "target": h(b"an event").hex(), "reason": "wrong label"}},
        {"example": row, "payload": {"kind": "purged", "record": h(b"a purge record").hex(), "reason": "Art. 17 request"}},
        {"dataset": "data/t.csv", "commit": commit, "payload": {
            "kind": "rows_changed", "dataset": "data", "table": "data/t.csv",
            "old": h(b"old manifest").hex(), "new": h(b"new manifest").hex(),
            "source": "s3://vendor/batch", "meta": {"label": "cat", "currency": "EUR"},
            "columns": {"label": "y", "annotator": "who", "confidence": "conf"}}},
        {"dataset": "data/u.csv", "payload": {
            "kind": "rows_changed", "dataset": "data", "table": "data/u.csv",
            "new": h(b"first manifest").hex()}},
    ]
    out = []
    for s in specs:
        e = {**base, **s}
        enc = event(e)
        e["encoding"] = enc.hex()
        e["hash"] = h(enc).hex()
        out.append(e)
    return out


# Merkle --------------------------------------------------------------------

def leaf(event_hash: bytes) -> bytes:
    return h(b"\x00" + event_hash)


def node(left: bytes, right: bytes) -> bytes:
    return h(b"\x01" + left + right)


def mth(leaves):
    n = len(leaves)
    if n == 0:
        return h(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))


def path(m, leaves):
    """RFC 6962 §2.1.1 PATH(m, D[n]): sibling hashes from the leaf up."""
    n = len(leaves)
    if n <= 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def merkle():
    hashes = [h(struct.pack("<Q", i)) for i in range(13)]
    leaves = [leaf(x) for x in hashes]
    roots = [{"size": n, "root": mth(leaves[:n]).hex()} for n in [0, 1, 2, 3, 4, 5, 7, 8, 13]]
    paths = [{"size": n, "index": i, "path": [p.hex() for p in path(i, leaves[:n])]}
             for n, i in [(1, 0), (3, 2), (7, 0), (7, 5), (13, 12), (13, 6)]]
    return {"event_hashes": [x.hex() for x in hashes], "roots": roots, "paths": paths}


# Event batch -----------------------------------------------------------------

def frame(encodings) -> bytes:
    body = b"".join(struct.pack("<I", len(e)) + e for e in encodings)
    payload = zstandard.ZstdCompressor(level=3).compress(body)
    return struct.pack("<I", len(payload)) + struct.pack("<I", len(encodings)) + h(payload)[:8] + payload


def batch(evs):
    encs = [bytes.fromhex(e["encoding"]) for e in evs]
    base = h(b"a commit")
    out = b"folio-batch 1\n" + base + struct.pack("<Q", 7) + struct.pack("<Q", len(encs))
    out += frame(encs[:4]) + frame(encs[4:])
    leaves = [leaf(bytes.fromhex(e["hash"])) for e in evs]
    return out, mth(leaves)


# Packs ---------------------------------------------------------------------

def pack(objects):
    """objects: list of (bytes, encoding) with encoding 0 raw or 1 zstd."""
    out = b"FOLIOPAK" + struct.pack("<I", 1)
    entries = []
    for raw, enc in objects:
        stored = raw if enc == 0 else zstandard.ZstdCompressor(level=3).compress(raw)
        entries.append((h(raw), len(out)))
        out += h(raw) + bytes([enc]) + struct.pack("<Q", len(raw)) + struct.pack("<I", len(stored)) + stored
    idx = b"FOLIOIDX" + struct.pack("<I", 1) + struct.pack("<I", len(entries))
    for oid, off in sorted(entries):
        idx += oid + struct.pack("<Q", off)
    idx += h(idx)
    name = "pack-" + blake3(out).hexdigest()
    return name, out, idx


def write_pack(folder: Path, objects):
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("pack-*"):
        old.unlink()
    name, data, idx = pack(objects)
    (folder / f"{name}.pack").write_bytes(data)
    (folder / f"{name}.idx").write_bytes(idx)
    return {"objects": [{"id": h(raw).hex(), "bytes": raw.hex(), "encoding": enc} for raw, enc in objects],
            "pack": name}


def main():
    OUT.mkdir(exist_ok=True)
    ids = [{**e, "id": example_id(1 if e["kind"] == "file" else 2, e["path"], bytes.fromhex(e["ident"])).hex()}
           for e in EXAMPLES]
    (OUT / "example_ids.json").write_text(json.dumps(ids, indent=1, ensure_ascii=False) + "\n")
    evs = events()
    (OUT / "events.json").write_text(json.dumps(evs, indent=1, ensure_ascii=False) + "\n")
    (OUT / "merkle.json").write_text(json.dumps(merkle(), indent=1) + "\n")
    data, root = batch(evs)
    (OUT / "batch.bin").write_bytes(data)
    (OUT / "ledger.json").write_text(json.dumps({"size": len(evs), "root": root.hex(), "batch": h(data).hex(),
                                                   "base": h(b"a commit").hex(), "nonce": 7}, indent=1) + "\n")
    # Raw records folio writes as is: too short or too random for zstd to pay.
    incompressible = [h(bytes([i])) + h(bytes([i, 1])) + h(bytes([i, 2])) for i in range(3)]
    w = write_pack(OUT / "pack_write", [(b"hello\n", 0)] + [(x, 0) for x in incompressible])
    r = write_pack(OUT / "pack_read", [(b"short", 0), (b"a line that repeats\n" * 50, 1)])
    (OUT / "packs.json").write_text(json.dumps({"write": w, "read": r}, indent=1) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
