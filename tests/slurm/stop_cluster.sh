#!/usr/bin/env bash
# Undoes tests/slurm/start_cluster.sh: stops slurmd and slurmctld and removes the slurm.conf it wrote (munged stays;
# other software may use it). Needs root. Why the config must go: with /etc/slurm/slurm.conf naming a controller that
# is not running, every `snakemake` start waits ~9 s, because the SLURM executor plugin runs `scontrol show config` at
# import and scontrol retries until it times out. Without a config, scontrol fails at once.
set -uo pipefail
for daemon in slurmd slurmctld; do
  pkill -x "$daemon" || true
done
for _ in $(seq 30); do
  if ! pgrep -x slurmd >/dev/null && ! pgrep -x slurmctld >/dev/null; then
    grep -qs '^ClusterName=ablation-test' /etc/slurm/slurm.conf && rm -f /etc/slurm/slurm.conf /etc/slurm/gres.conf
    exit 0
  fi
  sleep 1
done
echo "stop_cluster.sh: slurmd/slurmctld still running after 30 s" >&2
exit 1
