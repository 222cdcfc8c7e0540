#!/usr/bin/env bash
# Runs a command with a real S3-compatible server (moto) on 127.0.0.1,
# for the S3 remote tests: installs moto[server] when missing, starts it
# on a free port, exports FOLIO_TEST_S3_ENDPOINT and FOLIO_REQUIRE_S3 (so
# the S3 tests fail rather than skip), and stops it when the command ends.
# Usage: scripts/with-s3.sh COMMAND [ARGS...]
set -euo pipefail
PY=${PYTHON:-python3}
if ! "$PY" -c 'import moto.server, flask, flask_cors' 2>/dev/null; then
  echo "with-s3: installing moto[server] (the S3 test server)" >&2
  # A system Python may refuse installs (PEP 668): then into the user site.
  "$PY" -m pip install --quiet 'moto[server]>=5.0' 2>/dev/null \
    || "$PY" -m pip install --quiet --user --break-system-packages 'moto[server]>=5.0' \
    || { echo "with-s3: cannot install moto[server]; the S3 tests need it" >&2; exit 1; }
fi
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
LOG=$(mktemp "${TMPDIR:-/tmp}/moto.XXXXXX")
"$PY" -m moto.server -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
MOTO=$!
trap 'kill $MOTO 2>/dev/null || true; wait $MOTO 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 100); do
  if "$PY" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/')" 2>/dev/null; then
    break
  fi
  if ! kill -0 $MOTO 2>/dev/null; then
    echo "with-s3: moto exited:" >&2; cat "$LOG" >&2; exit 1
  fi
  sleep 0.1
done
export FOLIO_TEST_S3_ENDPOINT="http://127.0.0.1:$PORT" FOLIO_REQUIRE_S3=1
echo "with-s3: moto on $FOLIO_TEST_S3_ENDPOINT" >&2
"$@"
