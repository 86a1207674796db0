#!/bin/sh
# Regenerates tests/data/api-key-vectors.json with the real Flyte 2 SDK (`flyte` on PyPI).
# decode_api_key and sanitize_endpoint have no dependencies beyond the standard library, so
# the wheel is downloaded and the two modules are loaded from it. CI does not run this; the
# Rust tests replay the committed JSON.
set -eu
FLYTE_VERSION=${FLYTE_VERSION:-2.12.1}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download -q --no-deps -d "$work" "flyte==$FLYTE_VERSION"
(cd "$work" && python3 -m zipfile -e flyte-*.whl x)
python3 "$here/gen.py" --flyte-root "$work/x" --out "$here/../tests/data/api-key-vectors.json"
