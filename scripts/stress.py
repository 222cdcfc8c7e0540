#!/usr/bin/env python3
"""The random-kill campaign (make stress): folio commands stopped at random,
by SIGKILL after a random delay (0-12 ms) or by an armed failpoint
(FOLIO_FAILPOINT, one the command reaches),
on one repository, over and over. After every command it checks what a
crash must never do:

- damage: `verify` clean, or (a ledger write stopped before it was
  journalled) it names the documented repair, `folio commit`, which makes
  it clean;
- lose acknowledged work: every commit a command reported (exit 0) is still
  readable, every annotation reported on branch main is the row's label
  there unless a later attempt replaced it;
- leave litter: after the next writer, no temporary file or orphan pack
  under .folio;
- answer from damage: a command that was not stopped exits 0 or 1, never
  70.

Prints a summary (kills that landed mid-command, per command and way) and
exits 1 at the first violation, naming it and keeping the repository.

    python3 scripts/stress.py [--folio target/release/folio] [--kills 1000] [--seed 1]
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The failpoints each command reaches (docs/RELIABILITY.md), with the hit
# to stop at.
FAILPOINTS = {
    "commit": ["write-atomic:before-rename@1", "write-atomic:before-rename@2",
               "write-atomic:before-rename@3", "pack:data-persisted", "commit:objects-stored",
               "commit:head-moved", "commit:before-index", "oplog:before-append"],
    "annotate": ["ledger:batch-stored", "pack:data-persisted", "write-atomic:before-rename@1",
                 "oplog:before-append"],
    "checkout": ["checkout:file-written@1", "checkout:file-written@2", "checkout:file-written@3",
                 "write-atomic:before-rename@1", "oplog:before-append"],
    "gc": ["gc:repacked", "pack:data-persisted", "write-atomic:before-rename@1"],
    "branch": ["write-atomic:before-rename@1", "oplog:before-append"],
    "tag": ["write-atomic:before-rename@1", "oplog:before-append"],
}
ROWS = 40


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--folio", default=str(Path(__file__).resolve().parent.parent / "target/release/folio"))
    ap.add_argument("--kills", type=int, default=1000, help="stop after this many kills landed")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    folio = os.path.realpath(args.folio)
    work = Path(tempfile.mkdtemp(prefix="folio-stress-"))
    env = dict(os.environ, FOLIO_AUTHOR="stress <s@example.org>")

    def run(*a, failpoint=None, kill_after=None, check=False):
        e = dict(env)
        if failpoint:
            e["FOLIO_FAILPOINT"] = failpoint
        p = subprocess.Popen([folio, *a], cwd=work, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        landed = False
        if kill_after is not None:
            time.sleep(kill_after)
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                landed = True
        out, err = p.communicate()
        if p.returncode == -signal.SIGABRT:
            landed = True
        if check and p.returncode != 0:
            fail(f"folio {' '.join(a)} exited {p.returncode}: {err.decode(errors='replace')}")
        return p.returncode, out.decode(errors="replace"), err.decode(errors="replace"), landed

    def fail(msg):
        print(f"VIOLATION: {msg}\nrepository kept at {work}", file=sys.stderr)
        sys.exit(1)

    def write_table(labels):
        with open(work / "t.csv", "w") as f:
            f.write("id,x,label\n")
            for i in range(ROWS):
                f.write(f"{i},{rng.randrange(1000)},{labels[i]}\n")

    run("init", "-q", check=True)
    with open(work / ".folio/config.toml", "a") as c:
        c.write('[tables."t.csv"]\nkey = ["id"]\n')
    (work / "img").mkdir()
    for i in range(30):
        (work / f"img/f{i}.txt").write_text(f"0 {i}\n")
    file_labels = ["cat"] * ROWS
    write_table(file_labels)
    run("commit", "t.csv", "img", "-m", "base", check=True)
    run("branch", "side", check=True)
    acked = [json.loads(run("log", "-n", "1", "--json", check=True)[1])[0]["id"]]
    # Row → (the label last acknowledged, labels attempted since).
    labels = {}
    landed = {}
    i = 0
    while sum(landed.values()) < args.kills:
        i += 1
        cmd = rng.choice(["commit", "commit", "annotate", "annotate", "checkout", "gc", "branch", "tag"])
        if cmd == "commit":
            for _ in range(rng.randrange(1, 6)):
                (work / f"img/f{rng.randrange(40)}.txt").write_text(f"{i} {rng.random()}\n")
            write_table(file_labels)
            a = ["commit", "-m", f"c{i}"]
        elif cmd == "annotate":
            row, label = rng.randrange(ROWS), rng.choice(["cat", "dog", "emu", "owl"])
            a = ["annotate", f"t.csv:{row}", "--label", label]
        elif cmd == "checkout":
            a = ["checkout", rng.choice(["main", "side"])]
        elif cmd == "gc":
            a = ["gc", "--prune"]
        elif cmd == "branch":
            a = ["branch", f"b{i}"] if rng.random() < 0.7 else ["branch", "-d", rng.choice(["side", f"b{i - 1}"])]
        else:
            a = ["tag", f"t{i}"]
        way = rng.choice(["failpoint", "kill"])
        if way == "failpoint":
            code, out, err, hit = run(*a, failpoint=rng.choice(FAILPOINTS[cmd]))
        else:
            code, out, err, hit = run(*a, kill_after=rng.uniform(0, 0.012))
        if hit:
            landed[(cmd, way)] = landed.get((cmd, way), 0) + 1
        elif code not in (0, 1):
            fail(f"folio {' '.join(a)} exited {code} without being stopped: {err}")
        on_main = (work / ".folio/HEAD").read_text().strip() == "ref: refs/heads/main"
        # Pending annotations belong to their branch: follow main's.
        if cmd == "annotate" and on_main:
            prev = labels.get(row, (None, set()))
            labels[row] = (label, set()) if not hit and code == 0 else (prev[0], prev[1] | {label})
        if cmd == "commit" and not hit and code == 0:
            acked.append(json.loads(run("log", "-n", "1", "--json", check=True)[1])[0]["id"])
        if cmd == "branch":  # keep "side" for checkout (exit 1 when it exists)
            run("branch", "side", "--at", "main")
        # Invariants.
        vcode, vout, _, _ = run("verify")
        if vcode != 0:
            if "not in the operation log" in vout and "folio commit" in vout:
                run("commit", "--allow-empty", "-m", "repair", check=True)
                vcode, vout, _, _ = run("verify")
            if vcode != 0:
                fail(f"after folio {' '.join(a)} stopped={hit}: verify exited {vcode}:\n{vout}")
        for c in [acked[-1], rng.choice(acked)]:
            run("show", c, "--json", check=True)
        for row, (ok, tried) in rng.sample(sorted(labels.items()), min(2, len(labels)) if on_main else 0):
            got = json.loads(run("lineage", f"t.csv:{row}", "--json", check=True)[1]).get("label")
            if ok is not None and got != ok and got not in tried:
                fail(f"row {row}: label {got!r}, acknowledged {ok!r} (tried since: {tried})")
        if i % 25 == 0:
            run("status", check=True)
            run("commit", "--allow-empty", "-m", f"writer {i}", check=True)
            litter = [str(p) for p in (work / ".folio").rglob("*")
                      if p.name.startswith(".tmp-folio-")
                      or (p.suffix == ".pack" and not p.with_suffix(".idx").exists())]
            if litter:
                fail(f"leftovers after the next writer: {litter}")
        if i > 20 * args.kills:
            fail(f"only {sum(landed.values())} kills landed in {i} commands")
    print(f"{i} commands, {sum(landed.values())} stopped mid-command, 0 violations")
    for (cmd, way), n in sorted(landed.items()):
        print(f"  {cmd:<9} {way:<9} {n}")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
