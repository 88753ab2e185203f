#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine (Debian's slurm-wlm + munge, no systemd), for the `slurm` tests.
#   scripts/slurm-local.sh up       install the packages if missing (apt, as root), start munged, slurmctld, slurmd
#   scripts/slurm-local.sh down     stop the daemons it started (by their pid files, never by name)
#   scripts/slurm-local.sh status   sinfo, and the SLURM_CONF line to export
# Everything (slurm.conf, state, spool, logs, pid files) lives in $TEDLOC_SLURM_DIR (default /tmp/tedloc-slurm).
set -euo pipefail
dir=${TEDLOC_SLURM_DIR:-/tmp/tedloc-slurm}
dir=$(mkdir -p "$dir" && cd "$dir" && pwd)  # slurmctld needs an absolute path: a relative one hangs it for 60 s
conf=$dir/slurm.conf
export SLURM_CONF=$conf

say() { echo "slurm-local: $*"; }

# Stops the daemon whose pid is in FILE (if that process still runs) and waits for it to go.
stop_pid_file() {
  local file=$1 pid
  [[ -s $file ]] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { say "pid $pid ($file) ignored SIGTERM: SIGKILL"; kill -9 "$pid" 2>/dev/null || true; }
  fi
  rm -f "$file"
}

install_packages() {
  local missing=()
  for p in slurm-wlm munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  say "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start_munge() {
  if [[ -S /run/munge/munge.socket.2 ]] && munge -n </dev/null >/dev/null 2>&1; then
    say "munged already runs"
    return 0
  fi
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
  if [[ ! -s /etc/munge/munge.key ]]; then
    if command -v mungekey >/dev/null; then mungekey --create --keyfile=/etc/munge/munge.key; else create-munge-key; fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
  fi
  # As root munged refuses ("Logfile is insecure"): it runs as its own user.
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
  cp /run/munge/munged.pid "$dir/munged.pid"  # ours to stop
}

write_conf() {
  local host node
  host=$(hostname -s)
  node=$(slurmd -C | head -1)  # NodeName=HOST CPUs=... RealMemory=...
  mkdir -p "$dir/state" "$dir/spool" "$dir/log"
  cat >"$conf" <<EOF
# Written by scripts/slurm-local.sh: a one-node cluster for tests.
ClusterName=tedloc
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MailProg=/bin/true
ReturnToService=1
SchedulerParameters=batch_sched_delay=0
MinJobAge=3600
KillWait=10
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

up() {
  install_packages
  if [[ -s $dir/slurmctld.pid ]] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    say "already up ($dir)"
    return 0
  fi
  start_munge
  rm -rf "$dir/state" "$dir/spool"  # a fresh cluster: no job of an earlier one comes back
  write_conf
  slurmctld -f "$conf"
  slurmd -f "$conf"
  for _ in $(seq 600); do
    if [[ $(sinfo -h -o %T 2>/dev/null) == idle ]]; then
      say "up: $(sinfo -h -o '%N %c CPUs %T') (export SLURM_CONF=$conf)"
      return 0
    fi
    sleep 0.1
  done
  say "the node did not become idle within 60 s; see $dir/log/"
  sinfo || true
  return 1
}

down() {
  stop_pid_file "$dir/slurmd.pid"
  stop_pid_file "$dir/slurmctld.pid"
  if [[ -s $dir/munged.pid ]]; then
    stop_pid_file "$dir/munged.pid"
    rm -f /run/munge/munged.pid
  fi
  say "down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status)
    sinfo || exit 1
    echo "export SLURM_CONF=$conf"
    ;;
  *)
    echo "usage: scripts/slurm-local.sh up|down|status" >&2
    exit 2
    ;;
esac
