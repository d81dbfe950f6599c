#!/usr/bin/env bash
# Starts a real one-node SLURM cluster on this machine (Debian's slurmctld/slurmd/munge, SLURM 22.05), with one
# schedulable GPU (gres backed by /dev/null, as the host has none), for the integration test. Needs root.
# Idempotent: does nothing if the node is already up. Facts it relies on, found on Debian's SLURM 22.05: a gres.conf
# line needs File= (/dev/null here) or slurmd reports 0 GPUs and drains the node; with accounting off, the executor
# plugin must poll squeue, not sacct.
# It writes /etc/slurm/slurm.conf (the jobstep executor drops SLURM_CONF from a job's environment, so the default path
# is the one that works); tests/slurm/stop_cluster.sh stops the daemons and removes it again.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then echo "start_cluster.sh: needs root" >&2; exit 2; fi
for tool in slurmctld slurmd munged sinfo sbatch; do
  command -v "$tool" >/dev/null || { echo "start_cluster.sh: $tool missing (apt-get install slurmctld slurmd slurm-client munge)" >&2; exit 2; }
done

host=$(hostname -s)
if sinfo -h -N -o '%N %t' 2>/dev/null | grep -qE "^$host (idle|mix|alloc)"; then
  echo "SLURM already up on $host"; exit 0
fi

state=/var/spool/slurm-ablation
mkdir -p "$state/ctld" "$state/d" /var/log/slurm-ablation /run/munge /etc/slurm
chown munge:munge /run/munge
chmod 0755 /run/munge
[ -f /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key; }
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged

# Memory a bit below the machine's, so slurmd does not drain the node for reporting less than configured.
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 2048 ))
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=ablation-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=/run/slurmctld-ablation.pid
SlurmdPidFile=/run/slurmd-ablation.pid
SlurmctldLogFile=/var/log/slurm-ablation/slurmctld.log
SlurmdLogFile=/var/log/slurm-ablation/slurmd.log
ReturnToService=2
# Finished jobs stay visible to squeue/scontrol for an hour: the executor polls with squeue (no accounting), and the
# tests read every job's record once the workflow ends, which on a loaded machine (a run retried four times, at time
# limits of 1 to 4 minutes) can be more than 10 minutes after its first job ended.
MinJobAge=3600
GresTypes=gpu
NodeName=$host CPUs=$(nproc) RealMemory=$mem_mb Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
echo "NodeName=$host Name=gpu File=/dev/null" > /etc/slurm/gres.conf

pgrep -x slurmctld >/dev/null || slurmctld
sleep 1
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 60); do
  node_state=$(sinfo -h -N -o '%t' 2>/dev/null | head -1 || true)
  case "$node_state" in
    idle|mix|alloc) echo "SLURM up on $host ($node_state)"; exit 0 ;;
    down*|drain*) scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true ;;
  esac
  sleep 1
done
echo "start_cluster.sh: node did not become idle; see /var/log/slurm-ablation/" >&2
sinfo -N -l >&2 || true
exit 1
