# folio: the two set-up commands are `make demo` and `make test`.
CARGO ?= cargo

.PHONY: all build demo test lint bench toolchain clean man fuzz fuzz-seeds stress

all: build

toolchain:
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy

build:
	$(CARGO) build --release

## Build folio and run the end-to-end demo on fixtures/ in a temporary folder.
demo: build
	bash scripts/demo.sh target/release/folio

lint: toolchain
	$(CARGO) fmt --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## The whole suite: formatting, lints, every test.
test: lint
	bash scripts/python-deps.sh
	bash scripts/with-s3.sh $(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

## Man pages (folio.1, folio-COMMAND.1) in target/man: `man -l target/man/folio-drift.1`.
man: build
	target/release/folio man target/man

## Benchmarks against b3sum, cp and git (not part of `make test`).
bench: build
	bash bench/run.sh

## Fuzz every decoder and reader (cargo-fuzz, nightly; not part of
## `make test`, which replays the corpora): FUZZ_SECONDS (600) each,
## FUZZ_JOBS (2) at a time, new inputs
## kept in fuzz/corpus, crashes in fuzz/artifacts. Figures: docs/RELIABILITY.md.
fuzz:
	@$(CARGO) fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	bash scripts/fuzz.sh

## The random-kill campaign: 1,000 commands stopped at random (SIGKILL or a
## failpoint), every invariant checked after each (docs/RELIABILITY.md).
stress: build
	python3 scripts/stress.py --folio target/release/folio --kills $${STRESS_KILLS:-1000}

## Rewrite the seed corpora from a small repository made of fixtures/.
fuzz-seeds:
	$(CARGO) test -p folio-core --lib write_fuzz_seeds -- --ignored

clean:
	$(CARGO) clean
