#!/bin/bash
# The local-container executor (docs/containers.md) with a real container
# runtime: podman runs every task step in a container made from a Debian
# minbase root filesystem (debootstrap) plus this build of runnable and its
# plugins (tests/cli/container_image.sh).  The run log must be what the
# local executor makes.  This machine's podman needs runc and explicit
# ulimits: they are given through the executor's cli_args and run_args.
. "$(dirname "$0")/lib.sh"

C=$FIXTURES/composites
P=$FIXTURES/pipelines
if ! command -v podman >/dev/null; then
    echo "#################################################################"
    echo "# SKIPPED: podman is not installed, so no container can run here."
    echo "#################################################################"
    exit 77
fi
IMAGE=localhost/runnable-test-$$:latest
OTHER=localhost/runnable-test-$$:other
cleanup_images() { podman rmi -f "$IMAGE" "$OTHER" >/dev/null 2>&1 || true; }
trap 'cleanup_images; _rn_cleanup' EXIT

workdir image
if ! bash "$RN_SRCDIR/tests/cli/container_image.sh" "$RN_BUILDDIR" "$IMAGE" 2>image.err; then
    fail "build the test image (debootstrap minbase + this build)" "$(cat image.err)"
fi
pass "a test image: Debian minbase + this build's runnable and plugins"
RUNTIME_ARGS='cli_args: [--runtime, runc]
    run_args: [--ulimit, "nofile=1024:4096", --ulimit, "nproc=4096:4096", --network, none]'
if ! probe=$(podman --runtime runc run --rm --ulimit nofile=1024:4096 --ulimit nproc=4096:4096 \
    --network none "$IMAGE" runnable --version 2>&1); then
    echo "#################################################################"
    echo "# SKIPPED: podman cannot run a container on this machine:"
    printf '#   %s\n' "$probe"
    echo "#################################################################"
    exit 77
fi
pass "podman runs the image ($probe)"
podman tag "$IMAGE" "$OTHER"

config() { # config FILE STORE PARALLEL
    cat >"$1" <<YAML
pipeline-executor:
  type: local-container
  config:
    docker_image: $IMAGE
    enable_parallel: $3
    max_parallel: 4
    $RUNTIME_ARGS
    environment: {FLAVOUR: plain}
    overrides:
      other:
        docker_image: $OTHER
        environment: {FLAVOUR: other}
run-log-store:
  type: $2
YAML
}

# Where a task runs: podman leaves /run/.containerenv in its containers.
workdir where
cat >p.yaml <<'YAML'
dag:
  start_at: inside
  steps:
    inside:
      type: task
      command_type: shell
      command: '[ -e /run/.containerenv ] && export where=container flavour=$FLAVOUR'
      returns: [{name: where}, {name: flavour}]
      next: special
    special:
      type: task
      command_type: shell
      command: export special=$FLAVOUR
      returns: [{name: special}]
      overrides: {local-container: other}
      next: success
YAML
config c.yaml file-system false
rn execute p.yaml w -c c.yaml
expect_rc 0 "a pipeline under local-container"
assert_eq_py .run_log_store/w.json 'values(doc["parameters"])' \
    '{"where": "container", "flavour": "plain", "special": "other"}' \
    "tasks ran in containers, with the configured environment; the override's image and environment for its step"

# The same run log as the local executor.
workdir compare
printf 'seed: 7\nshared: root\nitems: [2, a, {k: 1}, true]\n' >p.yaml
i=0
same_as_local() { # WHAT STORE PARALLEL PIPELINE [OPTIONS]
    local what=$1 store=$2 par=$3 file=$4
    shift 4
    i=$((i + 1))
    printf 'run-log-store:\n  type: %s\npipeline-executor:\n  type: local\n  config: {enable_parallel: %s}\n' \
        "$store" "$par" >"local-$i.yaml"
    config "ctr-$i.yaml" "$store" "$par"
    rn execute "$file" "local-$i" -c "local-$i.yaml" "$@"
    local want=$RC
    rn execute "$file" "ctr-$i" -c "ctr-$i.yaml" "$@"
    [ "$RC" = "$want" ] || fail "$what: exit status as with local" "local $want, container $RC: $(tail -3 "$ERR")"
    same_run_log "local-$i" "local-$i.yaml" "ctr-$i" "ctr-$i.yaml" \
        "$what: local-container's run log is local's"
    pass "$what ($store, enable_parallel $par): the run log and exit status ($want) of local"
}
same_as_local "linear" file-system false "$RN_SRCDIR/examples/hello.yaml"
same_as_local "a failure, on_failure followed" chunked-fs false "$P/on_failure.yaml"
same_as_local "map, branches side by side" chunked-fs true "$C/map.yaml" -p p.yaml
same_as_local "parallel" chunked-fs true "$C/parallel.yaml" -p p.yaml

# A step whose container cannot start fails with the runtime's reason.
workdir missing
sed "s|docker_image: $IMAGE|docker_image: localhost/no-such-image-$$:latest|" \
    "$RN_TMP/where/c.yaml" >c.yaml
rn execute "$RN_SRCDIR/examples/hello.yaml" m -c c.yaml
expect_rc 1 "a run whose image does not exist"
assert_py .run_log_store/m.json 'doc["steps"]["greet"]["status"] == "FAIL" and "no-such-image" in doc["steps"]["greet"]["attempts"][-1]["message"]' \
    "the failed step carries the runtime's message naming the image"

workdir bad
printf 'pipeline-executor:\n  type: local-container\n' >c.yaml
rn validate "$RN_SRCDIR/examples/hello.yaml" -c c.yaml
expect_rc 2 "local-container without docker_image"
expect_err_has "docker_image" "the message names the missing setting"
printf 'pipeline-executor:\n  type: local-container\n  config: {docker_image: x, container_cli: no-such-runtime}\n' >c.yaml
rn validate "$RN_SRCDIR/examples/hello.yaml" -c c.yaml
expect_rc 2 "a container_cli that is not installed"
expect_err_has "no-such-runtime" "the message names it"
done_testing
