"""One step of the Oxen side by side (bench.py, case `big`), through the
`oxenai` Python package (the Rust library the `oxen` CLI is built on):

    oxen_step.py commit MSG   init when needed, `add t.csv`, `commit MSG`;
                              the commit id is appended to oxen-commits.txt
    oxen_step.py diff         the keyed (`id`) row diff of t.csv between the
                              last two commits; prints how many rows differ

Run in the peer's folder. bench.py times the whole process (the
interpreter and the import included; docs/PERFORMANCE.md gives the
command that times them alone)."""

import os
import sys

import oxen

LOG = "oxen-commits.txt"


def main():
    here = os.getcwd()
    if sys.argv[1] == "commit":
        repo = oxen.Repo(here)
        if not os.path.isdir(os.path.join(here, ".oxen")):
            repo.init()
        repo.add(os.path.join(here, "t.csv"))
        c = repo.commit(sys.argv[2])
        with open(LOG, "a") as f:
            f.write(f"{c.id}\n")
    elif sys.argv[1] == "diff":
        left, right = open(LOG).read().split()[-2:]
        d = oxen.diff("t.csv", repo_dir=here, revision_left=left, revision_right=right,
                      keys=["id"])
        print(f"{d.tabular.data.height} rows differ")
    else:
        sys.exit(f"unknown step {sys.argv[1]!r}")


if __name__ == "__main__":
    main()
