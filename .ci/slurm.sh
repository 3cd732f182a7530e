#!/usr/bin/env bash
# .ci/slurm.sh start|stop|status -- a one-node Slurm "cluster" on this machine,
# so that sigmoe's convergence studies can be run and tested for real through
# future.batchtools (plan(future.batchtools::batchtools_slurm, template =
# system.file("templates", "slurm.tmpl", package = "sigmoe"))).
#
#   start   Installs what is missing (munge, slurmctld, slurmd, slurm-client,
#           r-cran-batchtools, r-cran-future.batchtools; `apt-get update` only
#           when the install fails without it), writes /etc/slurm/slurm.conf,
#           creates the state/spool/log dirs, starts munged (as the munge
#           user), slurmctld and slurmd -- each only if it is not already
#           running -- records the PIDs of the daemons it started in
#           $STATE_DIR/pids and waits (at most $SIGMOE_SLURM_TIMEOUT s,
#           default 60) until `sinfo` shows the node idle. A second `start`
#           is a no-op success. On failure it prints the daemons' logs, stops
#           what it started and exits 1.
#   stop    Cancels the jobs still on the cluster (only when it started
#           slurmctld), stops only the daemons it started, by their recorded
#           PIDs (after checking /proc/PID/comm; never by name), waits for
#           them to exit and removes the state file.
#   status  Prints whether the cluster is up (exit 0) or not (exit 1).
#
# Exit codes: 0 ok; 1 failure (with a message and logs); 2 usage; 3 Slurm
# cannot be run here (not root and no passwordless sudo, not a Debian-like
# system, or the packages cannot be installed). For 3 the last line on
# stderr is one line starting with "SKIP:", meant for testthat::skip().
#
# Settings (found to work on Debian 12 / Slurm 22.05, root, no systemd,
# 2 cores) and why:
#   SlurmctldHost=<hostname -s>(127.0.0.1), NodeName=<hostname -s>
#     NodeAddr=127.0.0.1: slurmd finds its node by short host name; all
#     traffic stays on the loopback (ports 6817/6818).
#   CPUs=$(nproc), RealMemory = what `slurmd -C` reports: a node that
#     registers with less memory than configured is drained.
#   ProctrackType=proctrack/linuxproc, TaskPlugin=task/none: no cgroups
#     (no systemd, no cgroup.conf needed).
#   SelectType=select/cons_tres, SelectTypeParameters=CR_Core: cores are
#     the consumable resource, so two 1-cpu jobs run side by side; memory
#     requests (--mem) are checked against RealMemory but neither consumed
#     nor enforced (no cgroups).
#   EnforcePartLimits=ALL: a job that can never run (more cpus or memory
#     than the node has) is refused by sbatch, so future() fails at once
#     instead of the job pending forever with reason PartitionConfig.
#   SlurmUser=root, no accounting (accounting_storage/none,
#     jobacct_gather/none), MailProg=/bin/true (no mailer installed).
#   State in /var/spool/slurmctld (kept between starts), spool in
#     /var/spool/slurmd, logs in /var/log/slurm, pid files in /run/slurm.
#   KillWait=5: a cancelled job gets SIGKILL 5 s after SIGTERM, not 30.
#   /etc/slurm/slurm.conf is the path the Debian 22.05 packages read
#     (compiled-in default, `scontrol show config` says SLURM_CONF =
#     /etc/slurm/slurm.conf; /etc/slurm-llnl was the pre-bullseye path). It
#     is rewritten on every start, but a slurm.conf that this script did not
#     write is left alone.
#   munged is started as the munge user, with the key that the Debian
#     package creates (/etc/munge/munge.key) and its socket in /run/munge.
#   While installing, a temporary /usr/sbin/policy-rc.d (exit 101), unless
#     one exists, keeps the packages from starting daemons we would not own.
# The daemons run in the foreground (-F / -D) under setsid, so $! is the
# daemon's own PID; they outlive this script and are ended by `stop`.
# slurmd logs "can not load PMIx library" errors at start: harmless.
#
# Callers must have USER set (export USER=$(id -un)): batchtools lists jobs
# with `squeue --user=$USER`; without it every job looks expired: resolved()
# is TRUE at once and futures may fail with BatchtoolsExpiration.
#
# Measured on the 2-core Debian 12 machine (2026-12, Slurm 22.05.8):
# installing the 11 packages (6 named + libhwloc15, liblua5.1-0, libmunge2,
# r-cran-base64url, slurm-wlm-basic-plugins) 12 s; `start` with them
# installed 1.2 s (the node turns idle ~0.2 s after slurmd starts); a second
# `start` 0.2 s; `status` 0.06-0.2 s; `stop` 5-6.5 s (each daemon takes ~2 s
# to exit after SIGTERM); a failing start (slurmd cannot bind its port)
# exits 1 in 1.6 s.
set -euo pipefail

PKGS=(munge slurmctld slurmd slurm-client r-cran-batchtools r-cran-future.batchtools)
STATE_DIR=${SIGMOE_SLURM_STATE_DIR:-/run/sigmoe-slurm}
PIDS=$STATE_DIR/pids
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
MARK="# Written by sigmoe .ci/slurm.sh"
LOG_DIR=/var/log/slurm
RUN_DIR=/run/slurm
TIMEOUT=${SIGMOE_SLURM_TIMEOUT:-60}
CANNOT=3

say()  { echo "slurm.sh [$(date +%T.%2N)]: $*" >&2; }
skip() { echo "SKIP: $*" >&2; exit "$CANNOT"; }

usage() { echo "usage: $0 start|stop|status" >&2; exit 2; }
[ $# -eq 1 ] || usage
cmd=$1
case $cmd in start|stop|status) ;; *) usage ;; esac

# --- privileges: root, or re-run through passwordless sudo ------------------
need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      exec sudo -n env SIGMOE_SLURM_STATE_DIR="$STATE_DIR" SIGMOE_SLURM_TIMEOUT="$TIMEOUT" \
        bash "$0" "$@"
    fi
    skip "Slurm needs root or passwordless sudo to start or stop (running as $(id -un 2>/dev/null || id -u))"
  fi
}

# --- helpers ----------------------------------------------------------------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# Running processes with exactly this command name (for detection only).
running() { pgrep -x "$1" >/dev/null 2>&1; }

# Node states in which the cluster counts as up (a trailing * means the node
# is not responding; down/drain/unknown are not up).
# sinfo retries for ~10 s when no slurmctld answers: with our own slurm.conf
# (slurmctld on this machine) a missing slurmctld process means down at once.
node_state() {
  if { [ ! -e "$CONF" ] || head -n 1 "$CONF" | grep -qF "$MARK"; } && ! running slurmctld; then
    return 0
  fi
  timeout 20 sinfo -h -o %T 2>/dev/null | head -n 1 || true
}
node_up() {
  case $(node_state) in idle|mixed|allocated|completing) return 0 ;; *) return 1 ;; esac
}
node_idle() { [ "$(node_state)" = idle ]; }


# PID recorded for a daemon that is still alive with the expected name.
alive() { [ -n "$2" ] && [ -r "/proc/$2/comm" ] && [ "$(cat "/proc/$2/comm" 2>/dev/null)" = "$1" ]; }

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

wait_for() {  # wait_for SECONDS CMD...: poll CMD every 0.2 s until it succeeds
  local end=$((SECONDS + $1)); shift
  while :; do
    "$@" && return 0
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.2
  done
}

show_logs() {  # the end of each daemon's log (its stderr when the log is empty)
  local name f
  for name in munged slurmctld slurmd; do
    case $name in munged) f=/var/log/munge/munged.log ;; *) f=$LOG_DIR/$name.log ;; esac
    [ -s "$f" ] || f=$STATE_DIR/$name.out
    [ -s "$f" ] || continue
    echo "----- last lines of $f -----" >&2
    tail -n 25 "$f" >&2
  done
  echo "----- sinfo -N -l -----" >&2
  timeout 20 sinfo -N -l >&2 2>/dev/null || true
}

# --- install ------------------------------------------------------------------
install_missing() {
  local missing=() p
  command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 ||
    skip "no dpkg/apt-get: Slurm can only be installed by .ci/slurm.sh on Debian-like systems"
  for p in "${PKGS[@]}"; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  # Keep the packages' maintainer scripts from starting the daemons through
  # invoke-rc.d: then they would be running but not ours to stop.
  local policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"
  fi
  local ok=0 t0=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  if apt-get install -y -qq --no-install-recommends "${missing[@]}" > "$STATE_DIR/apt.log" 2>&1; then
    ok=1
  elif apt-get update -qq >> "$STATE_DIR/apt.log" 2>&1 &&
       apt-get install -y -qq --no-install-recommends "${missing[@]}" >> "$STATE_DIR/apt.log" 2>&1; then
    ok=1
  fi
  [ -n "$policy" ] && rm -f "$policy"
  if [ $ok -ne 1 ]; then
    tail -n 20 "$STATE_DIR/apt.log" >&2
    skip "could not install ${missing[*]} with apt-get"
  fi
  say "installed in $((SECONDS - t0)) s"
}

# --- configuration ------------------------------------------------------------
write_conf() {
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n 1)
  [ -n "$mem" ] || { say "slurmd -C did not report RealMemory"; exit 1; }
  if [ -e "$CONF" ] && ! head -n 1 "$CONF" | grep -qF "$MARK"; then
    say "$CONF exists and was not written by this script; leaving it as it is"
    return 0
  fi
  mkdir -p "$CONF_DIR"
  cat > "$CONF.tmp" <<EOF
$MARK (one-node test cluster); rewritten on every start.
ClusterName=sigmoe
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
EnforcePartLimits=ALL
KillWait=5
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.tmp" "$CONF"
  chmod 644 "$CONF"
}

record() { echo "$1 $2" >> "$PIDS"; }   # record NAME PID

recorded_pid() {  # recorded_pid NAME
  [ -r "$PIDS" ] || return 0
  awk -v n="$1" '$1 == n { p = $2 } END { if (p != "") print p }' "$PIDS"
}

stop_pid() {  # stop_pid NAME PID: SIGTERM, wait, SIGKILL if needed
  local name=$1 pid=$2
  alive "$name" "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_for 30 eval "! alive $name $pid"; then
    say "$name ($pid) ignored SIGTERM for 30 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_for 10 eval "! alive $name $pid" || say "$name ($pid) is still running"
  fi
  say "stopped $name ($pid)"
}

# Stops the daemons recorded in $PIDS that are still ours, in reverse start
# order, and removes the state file.
stop_recorded() {
  [ -r "$PIDS" ] || return 0
  local lines name pid i
  mapfile -t lines < "$PIDS"
  for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
    read -r name pid <<< "${lines[$i]}"
    stop_pid "$name" "$pid"
  done
  rm -f "$PIDS"
}

STARTED=()  # "NAME PID" of the daemons started by this invocation

# Fails (returns 1 and says which) when a daemon this invocation started has died.
started_alive() {
  local entry name pid
  for entry in "${STARTED[@]}"; do
    read -r name pid <<< "$entry"
    alive "$name" "$pid" || { say "$name ($pid) has exited"; return 1; }
  done
}
# or_dead CMD...: succeeds when CMD does, or (setting DEAD=1) when a daemon
# started here has died, so that wait_for stops early.
or_dead() { "$@" && return 0; started_alive || DEAD=1; [ -n "${DEAD:-}" ]; }
ctld_up() { timeout 20 scontrol ping 2>/dev/null | grep -q UP; }

start_daemon() {  # start_daemon NAME CMD...: run in the foreground under setsid, record PID
  local name=$1; shift
  setsid "$@" < /dev/null >> "$STATE_DIR/$name.out" 2>&1 &
  local pid=$!
  record "$name" "$pid"
  STARTED+=("$name $pid")
  # setsid and setpriv exec the daemon, so $! becomes it once they have run.
  local i
  for ((i = 0; i < 50; i++)); do
    alive "$name" "$pid" && { say "started $name ($pid)"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  say "$name ($pid) exited at once"
  return 1
}

# A failed start: logs, then stop what this invocation started and forget it
# (daemons recorded by an earlier start are left alone).
fail_start() {
  say "$*"
  show_logs
  local i name pid
  for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
    read -r name pid <<< "${STARTED[$i]}"
    stop_pid "$name" "$pid"
    if [ -r "$PIDS" ]; then
      grep -vxF "$name $pid" "$PIDS" > "$PIDS.new" || true
      mv "$PIDS.new" "$PIDS"
    fi
  done
  [ -s "$PIDS" ] || rm -f "$PIDS"
  exit 1
}

# --- commands -------------------------------------------------------------------
do_status() {
  if command -v sinfo >/dev/null 2>&1 && node_up; then
    echo "slurm: up ($(timeout 20 sinfo -h -o '%N %T %c cpus %m MB' | head -n 1))"
    exit 0
  fi
  echo "slurm: down"
  exit 1
}

do_start() {
  local t0=$SECONDS
  if command -v sinfo >/dev/null 2>&1 && node_up && munge_ok; then
    say "already up; nothing to do"
    exit 0
  fi
  need_root "$@"
  mkdir -p "$STATE_DIR"
  install_missing
  write_conf
  mkdir -p /var/spool/slurmctld /var/spool/slurmd "$LOG_DIR" "$RUN_DIR"

  # munged, as the munge user, with the key from the Debian package.
  if ! running munged; then
    [ -r /etc/munge/munge.key ] || runuser -u munge -- mungekey -c
    mkdir -p /run/munge; chown munge:munge /run/munge; chmod 755 /run/munge
    start_daemon munged setpriv --reuid=munge --regid=munge --init-groups \
      /usr/sbin/munged --foreground || fail_start "munged did not start"
  fi
  DEAD=""
  if ! wait_for 10 or_dead munge_ok || [ -n "$DEAD" ]; then
    fail_start "munge does not answer (munge -n | unmunge)"
  fi

  if ! running slurmctld; then
    start_daemon slurmctld /usr/sbin/slurmctld -D || fail_start "slurmctld did not start"
  fi
  DEAD=""
  if ! wait_for "$TIMEOUT" or_dead ctld_up || [ -n "$DEAD" ]; then
    fail_start "slurmctld does not answer scontrol ping"
  fi

  if ! running slurmd; then
    start_daemon slurmd /usr/sbin/slurmd -D || fail_start "slurmd did not start"
  fi
  DEAD=""
  if ! wait_for "$TIMEOUT" or_dead node_idle || [ -n "$DEAD" ]; then
    fail_start "the node did not turn idle$([ -n "$DEAD" ] || echo " within $TIMEOUT s") (sinfo: $(timeout 20 sinfo -h -o '%T %E' 2>&1 | head -n 1))"
  fi
  say "up in $((SECONDS - t0)) s: $(sinfo -h -o '%N %T %c cpus %m MB' | head -n 1)"
}

do_stop() {
  need_root "$@"
  if [ ! -r "$PIDS" ]; then
    say "no daemons recorded in $PIDS; nothing to stop"
    exit 0
  fi
  local pid
  pid=$(recorded_pid slurmctld)
  if alive slurmctld "$pid" && command -v squeue >/dev/null 2>&1; then
    # Jobs left on the cluster we started would leave slurmstepd and R
    # processes behind once slurmd is gone.
    local jobs
    jobs=$(squeue -h -o %i 2>/dev/null || true)
    if [ -n "$jobs" ]; then
      say "cancelling jobs still queued: $(echo $jobs)"
      scancel $jobs 2>/dev/null || true
      wait_for 30 eval '[ -z "$(squeue -h -t PD,R,CG,S -o %i 2>/dev/null)" ]' ||
        say "jobs still listed after 30 s: $(squeue -h -o %i | tr '\n' ' ')"
    fi
  fi
  stop_recorded
  if pgrep -x slurmstepd >/dev/null 2>&1; then
    say "warning: slurmstepd processes remain: $(pgrep -x slurmstepd | tr '\n' ' ')"
  fi
}

case $cmd in
  start)  do_start  "$cmd" ;;
  stop)   do_stop   "$cmd" ;;
  status) do_status ;;
esac
