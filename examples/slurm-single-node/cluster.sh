#!/usr/bin/env bash
# A single-node Slurm cluster in one folder: this host is controller and only node.
#
#   examples/slurm-single-node/cluster.sh start DIR [CPUS]   # prints the export line for SLURM_CONF
#   examples/slurm-single-node/cluster.sh stop DIR
#
# Needs Debian's slurm-wlm and munge (apt-get install slurm-wlm munge) and root (slurmd starts the
# jobs as their submitting user). Everything it writes (slurm.conf, a munge key, sockets, state,
# logs) stays in DIR and the daemons listen on free ports, so it runs beside a machine's own Slurm
# or another such cluster; clients find it through SLURM_CONF=DIR/slurm.conf.
set -euo pipefail

usage() { echo "usage: $0 start DIR [CPUS] | stop DIR" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
action=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)
cpus=${3:-$(nproc)}

stop() {
  # Jobs first: their slurmstepd processes would outlive slurmd. Only this cluster's (its own SLURM_CONF).
  if [[ -s "$dir/slurmctld.pid" ]] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    jobs=$(SLURM_CONF=$dir/slurm.conf squeue -h -o %i 2>/dev/null || true)
    if [[ -n $jobs ]]; then
      # shellcheck disable=SC2086  # one job id per word
      SLURM_CONF=$dir/slurm.conf scancel $jobs 2>/dev/null || true
      for _ in $(seq 100); do
        [[ -z $(SLURM_CONF=$dir/slurm.conf squeue -h -o %i 2>/dev/null) ]] && break
        sleep 0.5
      done
    fi
  fi
  # Each daemon by the pid it wrote into DIR, so nothing else on the machine is touched.
  for name in slurmd slurmctld munged; do
    if [[ -s "$dir/$name.pid" ]]; then
      pid=$(cat "$dir/$name.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/$name.pid"
    fi
  done
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  for binary in munged slurmctld slurmd sinfo; do
    command -v "$binary" >/dev/null || { echo "error: $binary not found: apt-get install slurm-wlm munge" >&2; exit 1; }
  done
  [[ $(id -u) -eq 0 ]] || { echo "error: run as root (slurmd starts jobs as their user)" >&2; exit 1; }
  [[ $cpus =~ ^[1-9][0-9]*$ ]] || { echo "error: CPUS must be a positive integer, got '$cpus'" >&2; exit 2; }
  stop
  mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
  chmod 700 "$dir/munge"
  [[ -s "$dir/munge/munge.key" ]] || { dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none; chmod 400 "$dir/munge/munge.key"; }
  # --force: munged refuses to run as root or with a key outside /etc/munge otherwise.
  munged --force --socket "$dir/munge/munge.socket" --key-file "$dir/munge/munge.key" \
    --pid-file "$dir/munged.pid" --log-file "$dir/munged.log" --seed-file "$dir/munge/munge.seed"

  host=$(hostname -s)
  cat > "$dir/slurm.conf" <<EOF
ClusterName=single-$(basename "$dir" | tr -c 'a-zA-Z0-9\n' '-' | tr 'A-Z' 'a-z' | cut -c1-20)
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# Seconds between SIGTERM and SIGKILL when a job is cancelled or requeued.
KillWait=30
# Finished jobs stay visible to scontrol (there is no accounting database for sacct) this long.
MinJobAge=3600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF" -N "$host"
  for _ in $(seq 100); do
    if sinfo -h -o '%t' 2>/dev/null | grep -qx 'idle'; then
      echo "export SLURM_CONF=$SLURM_CONF"
      return
    fi
    sleep 0.3
  done
  echo "error: the node did not come up; see $dir/slurmctld.log and $dir/slurmd.log" >&2
  sinfo >&2 || true
  exit 1
}

case $action in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
