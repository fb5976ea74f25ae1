#!/bin/sh
# Install what building and testing runnable needs (Debian 12).  Safe to
# re-run; does nothing when everything is present.
set -eu
PKGS="autoconf automake libtool libltdl-dev libyaml-dev libjansson-dev libgit2-dev \
libcmocka-dev pkg-config make gcc git valgrind python3 graphviz python3-nbclient python3-ipykernel python3-pydantic man-db groff-base"
# local-container tests: a real container runtime and a Debian minbase image
PKGS="$PKGS podman runc catatonit debootstrap"
# argo tests: ../shared/tools/validate-argo and the manifest walker
PKGS="$PKGS python3-jsonschema python3-yaml"
# timeline tests: the HTML page loaded and screenshotted in headless Chromium
PKGS="$PKGS chromium fonts-dejavu-core"
# slurm tests and bench: a real one-node cluster (tests/slurm/cluster.sh)
PKGS="$PKGS slurmctld slurmd slurm-client munge"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
