#!/usr/bin/env bash
# End-to-end demo of folio on the bundled fixtures, in a temporary folder.
# Usage: scripts/demo.sh PATH/TO/folio
set -euo pipefail
FOLIO=$(realpath "${1:-target/release/folio}")
FIXTURES=$(realpath "$(dirname "$0")/../fixtures")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/folio-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export FOLIO_AUTHOR="Demo User <demo@example.com>"
export FOLIO_NOW="2026-01-15T09:00:00Z"

step() { printf '\n\033[1m== %s\033[0m\n$ folio %s\n' "$1" "${*:2}"; "$FOLIO" "${@:2}"; }

cd "$WORK"
cp -r "$FIXTURES/images" "$FIXTURES/reviews.csv" "$FIXTURES/sensors.jsonl" .
echo "demo folder: $WORK"

step "Create a repository" init
echo "(map the reviews table's columns to ledger metadata; label each image by its folder, and let a small table of expert labels describe some images)"
cat >> .folio/config.toml <<'TOML'
[tables."reviews.csv".meta]
label = "label"
annotator = "annotator"
confidence = "confidence"
source = "source"
[datasets."images"]
labels = "parent-folder"
[tables."image_labels.csv"]
key = ["id"]
links = { column = "path", dataset = "images" }
[tables."image_labels.csv".meta]
label = "label"
annotator = "annotator"
confidence = "confidence"
TOML
printf 'id,path,label,annotator,confidence\n1,cat/cat_00.pgm,cat,vet,0.97\n2,dog/dog_01.pgm,cat,vet,0.62\n' > image_labels.csv
cat image_labels.csv
cat .folio/config.toml
step "Snapshot a folder of images and two keyed tables" commit images image_labels.csv reviews.csv sensors.jsonl --key reviews.csv=id --key sensors.jsonl=id --source s3://vendor-a/2026-01 --license CC-BY-4.0 --cost 0.40 --labelling-cost 0.10 --currency EUR -m "Import labelled images and reviews"
step "Nothing changed yet" status

echo; echo "(move one image to another label, remove one, add one; relabel review 3, drop review 7, add review 41; fix one sensor reading)"
mv images/dog/dog_03.pgm images/cat/cat_04.pgm
rm images/bird/bird_02.pgm
printf 'P2\n1 1\n255\n0\n' > images/bird/bird_09.pgm
sed -i -e '/^3,/s/,negative,/,positive,/' -e '/^7,/d' reviews.csv
printf '41,"new review great",positive,ann,0.91,crawl://forum\n' >> reviews.csv
sed -i 's/"id": "r005", "temp": [0-9.]*/"id": "r005", "temp": 22.0/' sensors.jsonl

step "What changed" status
step "Down to rows and cells" diff
export FOLIO_NOW="2026-02-01T09:00:00Z"
step "Record the new version" commit -m "Relabel dog_03 as cat, drop a blurry bird, add review 41"
step "Tag the first version, saying why (an annotated tag)" tag v1 HEAD~1 -m "First release: the images and reviews of January"
step "History" log
step "One commit in detail" show HEAD
step "Compare two versions, counts only" diff v1 HEAD --stat
step "Did the data drift between the two versions? (every figure is defined in docs/DRIFT.md)" drift v1 HEAD
printf '\n\033[1m== %s\033[0m\n$ folio drift v1 HEAD --html drift.html --fail-on-drift\n' "The same as a CI gate, with a report to look at"
if "$FOLIO" drift v1 HEAD --html "$WORK/drift.html" --fail-on-drift > /dev/null; then
  echo "exit 0: nothing drifted; report in $WORK/drift.html"
else
  echo "exit $?: drifted; report in $WORK/drift.html"
fi
step "Only the rows HEAD added or changed since v1 (review 41, relabelled review 3)" drift v1 HEAD --added
step "Queue the examples in the drifted bins for relabelling, least confident first" drift v1 HEAD --added --relabel-queue queue.csv
cat queue.csv
echo "(a reviewer fills in the label column; here: confirm each as positive)"
sed -i -E '2,$ s/^([^,]*),,,,/\1,positive,demo-reviewer,0.99,/' queue.csv
step "The labelled queue goes back into the ledger" annotate --file queue.csv
step "Branches" branch experiment
step "List branches" branch
step "Materialise v1 elsewhere, byte for byte" checkout v1 --to "$WORK/v1-copy"
ls -R "$WORK/v1-copy" | head -20
step "Go back to v1 in the working tree" checkout v1
step "And back to main" switch main
step "Label a row, give its cost and sensitivity" annotate reviews.csv:12 --label positive --confidence 0.95 --annotator cy
"$FOLIO" value reviews.csv:12 --cost 0.40 --labelling-cost 0.0825 --currency EUR --vendor acme  # labelling priced below the cent
"$FOLIO" classify reviews.csv:12 --sensitivity internal
step "Send every unsure label from the forum crawl back for review" annotate --where-source crawl://forum --max-confidence 0.6 --label needs-review --annotator triage
step "A model was trained on v1" trained v1 --model sentiment-bert --run run-001
step "The story of one row" lineage reviews.csv:12
step "The story of a row that left" lineage reviews.csv:7
step "The story of an image the expert table describes (a row gives its label; the folder labels every other image)" lineage images/dog/dog_01.pgm
printf '\n\033[1m== %s\033[0m\n$ folio audit | head -n 12\n' "The inventory a reviewer asks for"
"$FOLIO" audit | head -n 12
printf '\n\033[1m== %s\033[0m\n$ folio ledger export | head -n 2\n' "The first ledger events, re-checkable without folio"
"$FOLIO" ledger export | head -n 2 | cut -c 1-300
step "Bring the recorded events into history (annotations wait, like staged changes, for the next commit)" commit -m "Labels, costs, a triage pass and a training run"

echo; echo "(branches keep their own data and ledger: relabel review 5 differently on each side)"
step "Work on the experiment branch" switch experiment
sed -i '/^5,/s/,negative,cy,/,positive,dee,/' reviews.csv
step "Commit there" commit -m "Review 5 reads positive"
step "Back to main" switch main
sed -i '/^5,/s/,negative,cy,/,neutral,cy,/' reviews.csv
sed -i '/^6,/s/,positive,cy,0.70,/,positive,cy,0.75,/' reviews.csv
step "Commit on main too" commit -m "Review 5 is neutral; review 6 surer"
printf '\n\033[1m== %s\033[0m\n$ folio merge experiment\n' "Merge: different cells merge, the same cell changed twice is a conflict"
if "$FOLIO" merge experiment; then echo "merged"; else echo "(exit $?: nothing committed; the conflict waits)"; fi
step "A merge in progress shows in status" status
step "Settle the table for the branch's side" merge --theirs reviews.csv
step "Commit the merge (two parents)" merge --continue -m "Merge experiment: review 5 positive"
step "The row's story across both branches" lineage reviews.csv:5
step "History with the merge" log -n 3
step "Data out: the positive reviews as they stand, with the ledger's latest label" export HEAD reviews.csv --where-label positive --columns id,label --with-ledger

echo; echo "(a tabular training set as Hugging Face ships it: Parquet shards named train-0000N-of-0000M, read as one table)"
cp -r "$FIXTURES/tabular" .
cat >> .folio/config.toml <<'TOML'
[tables."tabular/train"]
key = ["id"]
[tables."tabular/train".meta]
label = "label"
confidence = "confidence"
TOML
step "Commit the shards: one table, tabular/train" commit tabular --source hf://demo/spam -m "Import the spam table (2 Parquet shards)"
step "One table of 60 rows from two files" show HEAD
rm -r tabular; cp -r "$FIXTURES/tabular-v2" tabular
step "Re-sharded into three files with six rows added: only the six are row changes" diff tabular
step "Record it" commit tabular -m "Re-shard the spam table; rows 61-66 added"
step "Rows labelled spam with confidence 0.9 or more, out as Parquet" export HEAD tabular/train --where-label spam --min-confidence 0.9 --format parquet -o "$WORK/spam.parquet"

echo; echo "(a mistaken commit, undone)"
printf 'P2\n1 1\n255\n9\n' > images/cat/cat_99.pgm
step "Commit by mistake" commit -m "oops: a stray image"
step "Every ref move is in the operation log" oplog -n 3
step "Undo it: the branch moves back; the file stays in the working tree" undo
step "Discard the stray file" restore images
step "Clean again" status

step "Book the reviews as an asset: 18 months, double-declining" book policy reviews.csv --method declining-balance --life 18
"$FOLIO" book policy images --method straight-line --life 24 > /dev/null
"$FOLIO" book policy sensors.jsonl --method sum-of-years-digits --life 12 --residual 0.1 > /dev/null
step "Every dataset's policy" book policy
step "The reviews' depreciation schedule, by quarter (a removed review leaves the book)" book schedule --dataset reviews.csv --period quarter
step "All datasets by year" book schedule --period year
step "What v1 is worth on the balance sheet at the end of June 2026" book value v1 --as-of 2026-06
step "Would drift justify writing the reviews down? (shown, not recorded)" book impair reviews.csv --from-drift v1 HEAD
export FOLIO_NOW="2026-03-10T09:00:00Z"
step "Write the images down after a licence narrowed (recorded in the ledger)" book impair images --amount 1.00 --reason "licence narrowed to research use"
step "The data balance sheet, and a page to look at" book portfolio --as-of 2026-06 --html "$WORK/book.html"
step "Check every object, commit, tree, ref and ledger event" verify
step "Look for unreachable objects" gc
step "Rebuild the derived indexes from the working tree and the ledger alone" reindex
step "Machine-readable output for CI" log -n 1 --json

echo; echo "(share through a folder remote: a teammate clones, commits, pushes; we pull)"
step "Add a remote (a folder here; s3://bucket/prefix works the same)" remote add origin "$WORK/shared"
step "Push every branch and tag, and their ledger" push --all
step "A teammate clones it" clone "$WORK/shared" "$WORK/teammate"
step "Their copy answers as ours does" -C "$WORK/teammate" lineage reviews.csv:12
printf 'P2\n1 1\n255\n42\n' > "$WORK/teammate/images/cat/cat_42.pgm"
step "They add an image and commit" -C "$WORK/teammate" commit -m "Teammate: one more cat"
step "And push" -C "$WORK/teammate" push
step "We pull their commit (a fast-forward)" pull
step "History now has their commit" log -n 2
step "A history-only clone: contents are fetched when a checkout needs them" clone --no-data "$WORK/shared" "$WORK/light"
step "It verifies, counting what is not fetched" -C "$WORK/light" verify
step "One file of v1, printed without checking anything out (fetched on demand)" -C "$WORK/light" cat v1:reviews.csv
step "Only the cat images of v1, written in place; HEAD stays" -C "$WORK/light" checkout v1 -- images/cat
step "Checkout fetches what main needs" -C "$WORK/light" checkout main
step "What a week-old interrupted push would have left on the remote (nothing here)" gc --remote origin
echo; echo "(sensitive data: a small patients table, stored encrypted to a recipient's public key)"
cd "$WORK"
printf 'id,name,diagnosis,label\n1,Ada Byron,DEMO-SECRET-asthma,treat\n2,Alan Turing,DEMO-SECRET-flu,rest\n' > patients.csv
cat >> .folio/config.toml <<TOML
[encryption]
recipients = ["$(cat "$FIXTURES/keys/demo.pub")"]
[datasets."patients.csv"]
encrypt = true
[tables."patients.csv".meta]
label = "label"
TOML
step "Commit the table: only the public key is needed to write" commit patients.csv --key id --sensitivity pii -m "Patients, encrypted"
printf '\n\033[1m== %s\033[0m\n$ grep -r DEMO-SECRET .folio\n' "No plaintext anywhere in the store"
if grep -rq DEMO-SECRET .folio; then echo "plaintext found"; exit 1; else echo "(no match)"; fi
printf '\n\033[1m== %s\033[0m\n$ folio cat HEAD:patients.csv\n' "Reading it needs an identity"
"$FOLIO" cat HEAD:patients.csv || echo "(exit $?)"
step "The ledger still answers without one" lineage patients.csv:2
step "verify finds every encrypted object and says it did not open them" verify
printf '\n\033[1m== %s\033[0m\n$ FOLIO_IDENTITY=fixtures/keys/demo.txt folio cat HEAD:patients.csv --purpose "…"\n' "With a recipient's identity, and a purpose (recorded)"
FOLIO_IDENTITY="$FIXTURES/keys/demo.txt" "$FOLIO" cat HEAD:patients.csv --purpose "check the import (ticket 42)"
step "Who read encrypted data, when and why" audit --access
echo; echo "(encryption configured after the fact: a photo committed in the clear turns out to show a face)"
step "Classify it as personal data" classify images/cat/cat_02.pgm --sensitivity pii
step "What a reseal would seal: every stored version of it (nothing is written)" reseal --clear-only --dry-run
step "Seal it in place, with no identity: ids and history unchanged, the plaintext copies removed" reseal --clear-only --reason "photo shows a face (ticket 51)"
step "The reseals recorded" reseal --list
echo; echo "(retention: the forum crawl may be kept 6 months, the images 36; the check runs as of a date)"
"$FOLIO" config set 'retention.sources."crawl://forum"' 6 > /dev/null
"$FOLIO" config set 'retention.datasets.images' 36 > /dev/null
step "What is due for deletion by the end of August 2026, and what falls due within 90 days" retention check --as-of 2026-08-31 --within 90 --limit 5
echo; echo "(right to erasure: the author of review 12 asks for it to be deleted, from every version)"
step "What a purge would erase (nothing is written)" purge reviews.csv:12 --reason "Art. 17 request 2026-41" --dry-run
step "Purge it: every snapshot of every branch, with a record naming what went, by hash" purge reviews.csv:12 --reason "Art. 17 request 2026-41"
step "The working tree lets go of it too (the table is written from its rows kept)" restore reviews.csv
step "Prove it gone" purge --verify reviews.csv:12
step "History, ids and the ledger are whole; purged objects are counted apart from damage" verify
step "Its story ends with the purge" lineage reviews.csv:12
echo; echo "demo finished: every step above ran on a fresh repository in $WORK"
