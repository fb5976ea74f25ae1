#!/bin/bash
# A private one-node Slurm cluster for the slurm executor's tests and
# benchmark (docs/slurm.md, SLURM-NOTES.md): its own slurm.conf, state and
# ports under a folder of ours, slurmctld and slurmd started by hand (no
# systemd here), stopped by their pids.  auth/none, so no munged to run.
#
#   . tests/slurm/cluster.sh
#   slurm_cluster_start DIR || fail    # exports SLURM_CONF; stops at exit
#
# A cluster that cannot start is an error, never a reason to skip: the
# executor's tests exist to run against a real Slurm.

slurm_cluster_stop() {
    local p pid
    [ -n "$SLURM_CLUSTER_DIR" ] || return 0
    # Jobs first, so no slurmstepd outlives the daemons.
    scancel --quiet --user="$(id -un)" 2>/dev/null || true
    for p in slurmd slurmctld; do
        pid=$(cat "$SLURM_CLUSTER_DIR/run/$p.pid" 2>/dev/null) || continue
        kill "$pid" 2>/dev/null || true
    done
    for p in slurmd slurmctld; do
        pid=$(cat "$SLURM_CLUSTER_DIR/run/$p.pid" 2>/dev/null) || continue
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    SLURM_CLUSTER_DIR=
    return 0
}

slurm_cluster_start() {
    local d=$1 t host port
    for t in slurmctld slurmd sbatch squeue scontrol scancel sinfo; do
        command -v "$t" >/dev/null || {
            echo "slurm cluster: $t is not installed (scripts/deps.sh installs slurmctld slurmd slurm-client)" >&2
            return 1
        }
    done
    mkdir -p "$d"/etc "$d"/state "$d"/spool/slurmd "$d"/run "$d"/log || return 1
    d=$(cd "$d" && pwd)
    host=$(hostname -s)
    # Ports of our own, so two clusters (or a system one) never meet.
    port=$((20000 + ($$ % 5000) * 2))
    cat >"$d/etc/slurm.conf" <<CONF
ClusterName=rntest
SlurmctldHost=$host
SlurmUser=$(id -un)
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/none
CredType=cred/none
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/slurmd
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmdPidFile=$d/run/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$d/log/jobcomp.txt
NodeName=$host CPUs=8 RealMemory=4096 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
Epilog=/bin/true
DependencyParameters=kill_invalid_depend
SlurmdParameters=config_overrides
MailProg=/bin/true
MinJobAge=300
KillWait=2
LogTimeFormat=iso8601_ms
SlurmctldDebug=info
SlurmdDebug=info
CONF
    export SLURM_CONF=$d/etc/slurm.conf
    SLURM_CLUSTER_DIR=$d
    trap slurm_cluster_stop EXIT
    # -c: a fresh cluster each time (no state from an earlier run).
    slurmctld -c -i >"$d/log/slurmctld.out" 2>&1 || {
        echo "slurm cluster: slurmctld did not start: $(tail -3 "$d/log/slurmctld.log" 2>/dev/null)" >&2
        return 1
    }
    slurmd >"$d/log/slurmd.out" 2>&1 || {
        echo "slurm cluster: slurmd did not start: $(tail -3 "$d/log/slurmd.log" 2>/dev/null)" >&2
        return 1
    }
    for _ in $(seq 300); do
        sinfo -h -o %T 2>/dev/null | grep -qx idle && return 0
        sleep 0.1
    done
    echo "slurm cluster: the node never became idle: $(tail -3 "$d/log/slurmctld.log" 2>/dev/null)" >&2
    return 1
}
