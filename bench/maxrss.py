"""Run a command; write its peak RSS in kB to a file; exit with its status.

    /usr/bin/python3 bench/maxrss.py OUTFILE CMD [ARG...]

Used by bench/lib.sh when GNU time is not installed.  ru_maxrss of
RUSAGE_CHILDREN is the largest peak among the waited-for descendants, so for
an engine that spawns small shells it is the engine's own peak.
"""
import resource
import subprocess
import sys

rc = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc if rc >= 0 else 128 - rc)
