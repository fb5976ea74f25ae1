#!/bin/sh
# Set everything up on a fresh Debian 12 machine and run an example
# pipeline with the embedded default configuration.
set -eu
cd "$(dirname "$0")"
sh scripts/deps.sh
[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure --quiet
make -j"$(nproc)" --quiet
mkdir -p _quickstart
cd _quickstart
RUNNABLE_PLUGIN_PATH="$(cd .. && pwd)/executors:$(cd .. && pwd)/run_log_stores:$(cd .. && pwd)/catalogs:$(cd .. && pwd)/secrets:$(cd .. && pwd)/plugins" \
    ../core/cli/runnable execute ../examples/hello.yaml
echo "run log:  _quickstart/.run_log_store/"
echo "catalog:  _quickstart/.catalog/"
