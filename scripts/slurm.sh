#!/usr/bin/env bash
# A one-node Slurm on this machine, for the tests of `protein run --launcher slurm` (and for
# trying it out): installs Debian's slurm-wlm and munge where missing (needs root and apt),
# writes a slurm.conf for this host and starts munged, slurmctld and slurmd. Idempotent: a
# Slurm that already answers is left as it is. On a real cluster you need none of this.
#
#   bash scripts/slurm.sh          # install if needed, start, wait until the node is idle
#   bash scripts/slurm.sh stop     # stop the daemons this script started
set -euo pipefail

STATE=${PROTEIN_SLURM_STATE:-/var/lib/protein-slurm}
CONF=/etc/slurm/slurm.conf

if [[ ${1:-start} == stop ]]; then
    pkill -x slurmd 2>/dev/null || true
    pkill -x slurmctld 2>/dev/null || true
    exit 0
fi

if command -v sinfo >/dev/null && timeout 5 sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mix|alloc'; then
    exit 0  # already up
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
        echo "scripts/slurm.sh: slurm-wlm and munge are not installed and this is not a root" \
             "shell with apt-get; the Slurm tests will skip" >&2
        exit 1
    fi
    echo "scripts/slurm.sh: installing slurm-wlm and munge (Debian packages)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
             apt-get install -y -q slurm-wlm munge >/dev/null; }
fi

host=$(hostname -s)
# more CPUs than the machine has, so the tests' light workers run side by side (a real
# cluster's slurm.conf describes its real nodes)
cpus=$(( $(nproc) > 8 ? $(nproc) : 8 ))
mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
mkdir -p "$STATE/ctld" "$STATE/d" /var/log/slurm /run/munge /etc/slurm
cat > "$CONF" <<EOF
# written by protein's scripts/slurm.sh: one node, this host
ClusterName=protein-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
ReturnToService=2
SlurmdParameters=config_overrides
JobRequeue=1
KillWait=10
MinJobAge=300
MessageTimeout=20
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF

[[ -s /etc/munge/munge.key ]] || { mkdir -p /etc/munge; dd if=/dev/urandom bs=1 count=1024 \
    of=/etc/munge/munge.key 2>/dev/null; }
chown -R munge:munge /etc/munge /run/munge 2>/dev/null || true
chmod 700 /etc/munge; chmod 400 /etc/munge/munge.key
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged 2>/dev/null || /usr/sbin/munged --force
pgrep -x slurmctld >/dev/null || slurmctld -c
pgrep -x slurmd >/dev/null || slurmd -c

for _ in $(seq 60); do
    if timeout 5 sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mix|alloc'; then
        scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
        echo "scripts/slurm.sh: Slurm is up (node $host, $cpus CPUs, partition debug)" >&2
        exit 0
    fi
    scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
    sleep 1
done
echo "scripts/slurm.sh: Slurm did not come up; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
exit 1
