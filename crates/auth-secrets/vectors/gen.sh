#!/bin/sh
# Regenerates tests/data/secrets-vectors.json with the real flytekit and flyte from PyPI.
# Needs python3 (3.10+) with venv and access to PyPI; CI does not run this, the Rust tests
# replay the committed JSON.
set -eu
FLYTEKIT_VERSION=${FLYTEKIT_VERSION:-1.16.31}
FLYTE_VERSION=${FLYTE_VERSION:-2.12.1}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "flytekit==$FLYTEKIT_VERSION"
# Flyte 2's Secret lives in one module without dependencies: load it from the wheel.
"$work/venv/bin/pip" download -q --no-deps -d "$work/flyte" "flyte==$FLYTE_VERSION"
(cd "$work/flyte" && python3 -m zipfile -e flyte-*.whl x)
PYTHONUTF8=1 "$work/venv/bin/python" "$here/gen.py" --flyte-root "$work/flyte/x" \
    --out "$here/../tests/data/secrets-vectors.json"
