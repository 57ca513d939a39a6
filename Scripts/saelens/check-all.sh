#!/usr/bin/env bash
# Exports every architecture × kind from the Swift side and loads each export with the real sae_lens.
# Not part of CI (torch is large). Needs the pinned venv:
#   python3 -m venv /work/saelens && /work/saelens/bin/pip install sae-lens==6.54.12 transformer-lens==3.9.0
# Usage: Scripts/saelens/check-all.sh [PYTHON]   (default /work/saelens/bin/python; the test binary must be built)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
python="${1:-/work/saelens/bin/python}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cd "$root"
LANTERN_SAELENS_CHECK_DIR="$out" swift test --skip-build --filter writesEveryArchitectureForTheSAELensCheck >/dev/null
mapfile -t dirs < <(find "$out" -mindepth 1 -maxdepth 1 -type d | sort -t/ -k4 -V)
"$python" Scripts/saelens/check_load.py "${dirs[@]}"
