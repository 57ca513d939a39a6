# coordinator_host: the first host of the Slurm allocation (where the sbatch script runs the
# coordinator). Uses `scontrol show hostnames` when available, otherwise expands the first entry
# of SLURM_JOB_NODELIST itself ("node[03-05,9],gpu1" -> node03), so it can be tested without Slurm.
coordinator_host() {
  local list="${SLURM_JOB_NODELIST:?SLURM_JOB_NODELIST is not set: run inside a Slurm allocation}"
  if command -v scontrol >/dev/null 2>&1; then
    scontrol show hostnames "$list" | head -n 1
    return
  fi
  local first="${list%%,*}"
  if [[ "$list" =~ ^([^,\[]+)\[([^]]+)\] ]]; then
    local prefix="${BASH_REMATCH[1]}" ranges="${BASH_REMATCH[2]}"
    local range="${ranges%%,*}"
    echo "${prefix}${range%%-*}"
  else
    echo "$first"
  fi
}
