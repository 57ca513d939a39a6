#!/usr/bin/env bash
# Tests coordinator_host on node lists as Slurm writes them (without Slurm installed).
set -euo pipefail
source "$(dirname "$0")/coordinator-address.sh"
if command -v scontrol >/dev/null 2>&1; then echo "scontrol is installed: testing the fallback needs a machine without Slurm"; exit 0; fi
pass=0 fail=0
check() {
  local got
  got="$(SLURM_JOB_NODELIST="$1" coordinator_host)"
  if [[ "$got" == "$2" ]]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: '$1' -> '$got', expected '$2'"; fi
}
check "node07" "node07"
check "node[03-05,9]" "node03"
check "gpu[12,14]" "gpu12"
check "a1,b2" "a1"
check "cn[001-128]" "cn001"
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
