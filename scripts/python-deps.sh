#!/usr/bin/env bash
# Installs the Python packages the tests use as independent checkers when
# they are missing: `jsonschema` (docs/json schemas checked against real
# output, tests/check_json_schemas.py). moto is installed by with-s3.sh.
set -euo pipefail
PY=${PYTHON:-python3}
if ! "$PY" -c 'import jsonschema' 2>/dev/null; then
  echo "python-deps: installing jsonschema (the JSON schema check)" >&2
  # A system Python may refuse installs (PEP 668): then into the user site.
  "$PY" -m pip install --quiet 'jsonschema>=4.18' 2>/dev/null \
    || "$PY" -m pip install --quiet --user --break-system-packages 'jsonschema>=4.18' \
    || { echo "python-deps: cannot install jsonschema; the JSON schema test needs it" >&2; exit 1; }
fi
