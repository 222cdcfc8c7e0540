#!/usr/bin/env python3
"""Independent implementation of the tree and commit encodings in docs/FORMAT.md.

Writes the golden ids that src/object.rs tests against. Run from the
repository root: python3 tests/golden/encode.py  (needs `pip install blake3`).
"""
import struct
from pathlib import Path

from blake3 import blake3

FILE, EXECUTABLE, SYMLINK, TREE = 1, 2, 3, 4


def h(b: bytes) -> bytes:
    return blake3(b).digest()


def tree(entries):
    """entries: list of (name, kind, id_bytes, size)."""
    out = b"folio-tree 1\n" + struct.pack("<I", len(entries))
    for name, kind, oid, size in sorted(entries, key=lambda e: e[0].encode()):
        n = name.encode()
        out += bytes([kind]) + struct.pack("<I", len(n)) + n + oid + struct.pack("<Q", size)
    return out


def field(tag, value):
    return bytes([tag]) + struct.pack("<I", len(value)) + value


def commit(parents, datasets, author, time, message, ledger=None, batches=()):
    out = b"folio-commit 2\n"
    for p in parents:
        out += field(1, p)
    for path, kind, oid, size in sorted(datasets, key=lambda d: d[0].encode()):
        out += field(2, bytes([kind]) + oid + struct.pack("<Q", size) + path.encode())
    out += field(3, author.encode())
    out += field(4, struct.pack("<q", time))
    out += field(5, message.encode())
    if ledger is not None:
        size, root = ledger
        out += field(7, struct.pack("<Q", size) + root)
    for batch, count in batches:
        out += field(8, batch + struct.pack("<Q", count))
    return out


def main():
    here = Path(__file__).parent
    empty = tree([])
    sample = tree([("b.txt", FILE, h(b"hello\n"), 6), ("a", TREE, h(empty), 0)])
    c = commit([], [("data", TREE, h(sample), 6)], "Ada <ada@example.com>", 1_700_000_000, "first",
               ledger=(12, bytes([9]) * 32), batches=[(h(b"b1"), 5), (h(b"b2"), 7)])
    for name, obj in [("empty_tree", empty), ("sample_tree", sample), ("sample_commit", c)]:
        (here / f"{name}.id").write_text(blake3(obj).hexdigest() + "\n")
        print(name, blake3(obj).hexdigest())


if __name__ == "__main__":
    main()
