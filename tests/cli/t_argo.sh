#!/bin/bash
# The argo executor (docs/argo.md): `runnable execute` writes an Argo
# Workflows manifest, runs nothing and writes no run log.  Every manifest
# passes ../shared/tools/validate-argo --all; and a manifest really runs
# its pipeline: tests/cli/argo_walker.py walks it as Argo's controller
# would (steps, DAG depends, withParam, when, retries), running each pod's
# command here against one folder standing in for the shared volume, and
# the run log must equal the one `runnable execute` leaves.
. "$(dirname "$0")/lib.sh"

VALIDATE=$RN_SRCDIR/../shared/tools/validate-argo
if [ ! -d "$RN_SRCDIR/../shared" ]; then
    echo "SKIP: ../shared is absent: cannot validate Argo manifests ($VALIDATE)"
    exit 77
fi
[ -x "$VALIDATE" ] || fail "the Argo manifest validator exists" "$VALIDATE is missing"
"$PY" -c 'import jsonschema, yaml' 2>/dev/null ||
    fail "python3-jsonschema and python3-yaml are installed (scripts/deps.sh)"

C=$FIXTURES/composites
P=$FIXTURES/pipelines
RUNNER=$RN_PROG
if [ -n "$RN_PROG_LIBPATH" ]; then
    export LD_LIBRARY_PATH=$RN_PROG_LIBPATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi

# validate FILE WHAT: the manifest passes every check of validate-argo.
validate() {
    "$VALIDATE" --all "$1" >"$RN_OUT/validate.txt" 2>&1 ||
        fail "$2: validate-argo --all" "$(cat "$RN_OUT/validate.txt")"
    pass "$2: the manifest passes validate-argo --all"
}

# as_json MANIFEST: the manifest as MANIFEST.json, for assert_py.
as_json() {
    "$PY" -c 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), open(sys.argv[1] + ".json", "w"))' "$1" ||
        fail "$1 is one YAML document"
}

# An argo config whose pods keep the run log in chunked-fs under the
# working folder (the walker's stand-in for the shared volume).
argo_config() {
    cat >argo.yaml <<YAML
pipeline-executor:
  type: argo
  config:
    pvc_for_runnable: runnable
    defaults:
      image: localhost/runnable:test
    argoWorkflow:
      metadata:
        generateName: walk-
      spec: {}
$1
run-log-store:
  type: chunked-fs
YAML
}

# ------------------------------------------------------------ the walker

workdir walk
argo_config ""
printf 'run-log-store:\n  type: chunked-fs\n' >ck.yaml
printf 'seed: 7\nshared: root\nitems: [2, a, {k: 1}, true, \"7\"]\n' >p.yaml
printf 'seed: 7\nfail_at: none\n' >n-ok.yaml
printf 'seed: 7\nfail_at: cell-a1\n' >n-cell.yaml
printf 'seed: 7\nfail_at: mk\n' >n-mk.yaml
printf 'seed: 7\ncoin_side: heads\nwant: heads\n' >c-heads.yaml
printf 'seed: 7\ncoin_side: edge\nwant: default\n' >c-default.yaml
printf 'items: [3, 1, 2]\n' >r.yaml
printf 'count: 10\nstop_at: 2\nfail_at: -1\n' >loop.yaml
printf 'count: 10\nstop_at: 9\nfail_at: -1\n' >loop-max.yaml
printf 'count: 10\nstop_at: 9\nfail_at: 1\n' >loop-fail.yaml
printf 'items: [heads, tails, edge]\n' >cim.yaml
printf 'trail: x\nbtrail: y\n' >pil.yaml
printf 'items: [a, b]\nfail_z: "no"\n' >db.yaml

i=0
# same_as_execute WHAT PIPELINE [OPTIONS]: execute with the local executor,
# then render with argo and walk the manifest; same run log.
same_as_execute() {
    local what=$1 file=$2
    shift 2
    i=$((i + 1))
    rn execute "$file" "ref-$i" -c ck.yaml -q "$@"
    [ "$RC" -le 1 ] || fail "$what: the reference run" "exit $RC"
    local want=$RC
    rn execute "$file" -c argo.yaml -o "m-$i.yaml" "$@"
    expect_rc 0 "$what: the manifest is written"
    validate "m-$i.yaml" "$what"
    local wrc=0
    "$PY" "$RN_SRCDIR/tests/cli/argo_walker.py" "m-$i.yaml" "$RUNNER" . --name "walk-$i" \
        >"pods-$i.txt" 2>"walk-$i.err" || wrc=$?
    [ "$wrc" -le 1 ] || fail "$what: the manifest walked" "$(tail -20 "walk-$i.err")"
    [ "$wrc" = "$want" ] ||
        fail "$what: the workflow ends as the run" "execute exit $want, workflow exit $wrc" \
            "$(tail -3 "pods-$i.txt")" "$(tail -20 "walk-$i.err")"
    same_run_log "ref-$i" ck.yaml "walk-$i" ck.yaml "$what: walked manifest = execute"
    pass "$what: the walked manifest leaves execute's run log ($(json_get "ref-$i.json" 'doc["status"]'), $(($(wc -l <"pods-$i.txt") - 1)) pods)"
}

. "$RN_SRCDIR/tests/cli/walk_cases.sh"
walk_cases
same_as_execute "loop stopped by break_on" "$C/loop.yaml" -p loop.yaml
same_as_execute "loop up to max_iterations" "$C/loop.yaml" -p loop-max.yaml
same_as_execute "loop with a failing iteration, on_failure" "$C/loop.yaml" -p loop-fail.yaml
same_as_execute "map in a loop" "$C/loop_map.yaml"
same_as_execute "parallel in a loop" "$C/parallel_in_loop.yaml" -p pil.yaml
same_as_execute "conditional in a map" "$C/cond_in_map.yaml" -p cim.yaml
same_as_execute "depends_on graph" "$C/dag_diamond.yaml"
same_as_execute "depends_on graphs as branches" "$C/dag_branch.yaml" -p db.yaml
# Argo omits the steps that depend on a failed one: the graph's terminal
# step's pod records them SKIPPED, as execute does.
same_as_execute "a failing depends_on graph" "$C/dag_fail.yaml"
same_as_execute "skip_on_error" "$C/dag_skip.yaml"
printf 'items: [a, b]\nfail_z: "yes"\n' >db-fail.yaml
same_as_execute "a failing depends_on branch" "$C/dag_branch.yaml" -p db-fail.yaml

# A depends_on graph beyond Argo's 200 tasks per DAG is a steps template of
# levels, each step with a `when` on its own dependencies: a failure skips
# exactly what depends on it, as in execute.  230 steps: chains, joins,
# steps without dependencies; fail_at names the step that fails, skip_at
# the one with skip_on_error (parameters).
"$PY" - <<'PYEOF'
lines = ["dag:", "  steps:"]
for i in range(230):
    deps = [] if i % 50 == 1 or i == 0 else ["s%d" % (i - 1 if i % 7 else i // 2)]
    if i > 10 and i % 5 == 0:
        deps.append("s%d" % (i - 10))
    lines += ["    s%d:" % i, "      type: task", "      command_type: shell",
              "      command: '[ \"$fail_at\" != s%d ] && [ \"$skip_at\" != s%d ]'" % (i, i),
              "      depends_on: [%s]" % ", ".join(deps)]
    if i == 120:
        lines += ["      skip_on_error: true"]
open("big_dag.yaml", "w").write("\n".join(lines) + "\n")
PYEOF
printf 'fail_at: none\nskip_at: none\n' >bd-ok.yaml
printf 'fail_at: s60\nskip_at: none\n' >bd-fail.yaml
printf 'fail_at: none\nskip_at: s120\n' >bd-skip.yaml
same_as_execute "a 230-step depends_on graph" big_dag.yaml -p bd-ok.yaml
as_json "m-$i.yaml"
assert_py "m-$i.yaml.json" "(t := [t for t in doc['spec']['templates'] if t['name'] == 'runnable-dag'][0]) and 'steps' in t and max(len(g) for g in t['steps']) > 1 and sum(len(g) for g in t['steps']) == 232" \
    "a 230-step depends_on graph is a steps template of levels (steps of a level together)"
same_as_execute "a 230-step depends_on graph, a step fails" big_dag.yaml -p bd-fail.yaml
same_as_execute "a 230-step depends_on graph, a skip_on_error step fails" big_dag.yaml -p bd-skip.yaml

# stop_on_first_failure has no Argo form that still records the failure:
# the manifest is written as if it were false, with a warning per graph
# that sets it (and none for a pipeline without it).
rn execute "$C/dag_stop.yaml" -c argo.yaml -o m-stop.yaml
expect_rc 0 "stop_on_first_failure: the manifest is written"
expect_err_has "dag_stop.yaml: the pipeline's graph sets stop_on_first_failure, which the Argo manifest does not express" \
    "stop_on_first_failure: a warning names the graph that sets it"
validate m-stop.yaml "stop_on_first_failure"
cat >stop-branch.yaml <<'YAML'
dag:
  start_at: par
  steps:
    par:
      type: parallel
      branches:
        careful:
          stop_on_first_failure: true
          steps:
            one:
              type: task
              command_type: shell
              command: "true"
              depends_on: []
      next: success
YAML
rn execute stop-branch.yaml -c argo.yaml -o m-stop-branch.yaml
expect_rc 0 "stop_on_first_failure in a branch: the manifest is written"
expect_err_has "branch 'par.careful' sets stop_on_first_failure" \
    "stop_on_first_failure in a branch: the warning names the branch"
rn execute "$C/dag_diamond.yaml" -c argo.yaml -o m-diamond.yaml
expect_err_lacks "stop_on_first_failure" "no warning for a pipeline without stop_on_first_failure"

# Retries and timeouts: Argo's retryStrategy runs the pod again, each pod
# is one attempt; a timed-out attempt is stopped and recorded by the pod.
cat >retry.yaml <<'YAML'
dag:
  start_at: flaky
  steps:
    flaky:
      type: task
      command_type: shell
      command: |
        f=tries-$RUNNABLE_RUN_ID; n=$(cat "$f" 2>/dev/null || echo 0); n=$((n + 1))
        echo $n >"$f"; [ $n -ge 3 ] && export tries=$n
      returns: [{name: tries}]
      max_attempts: 3
      retry: {delay: 0, factor: 2, max_delay: 30}
      next: slow
    slow:
      type: task
      command_type: shell
      command: sleep 5
      timeout: 1
      on_failure: after
      next: success
    after:
      type: stub
      next: success
YAML
same_as_execute "a step retried until it succeeds, a timed-out step" retry.yaml
as_json m-$i.yaml
assert_py m-$i.yaml.json "[t['retryStrategy'] for t in doc['spec']['templates'] if t.get('retryStrategy')] == [{'limit': '2', 'retryPolicy': 'Always', 'backoff': {'duration': '0s', 'factor': '2', 'cap': '30s'}}]" \
    "max_attempts 3 and retry become retryStrategy limit 2 with backoff"
assert_py m-$i.yaml.json "[t['activeDeadlineSeconds'] for t in doc['spec']['templates'] if 'activeDeadlineSeconds' in t] == [61]" \
    "timeout 1 becomes activeDeadlineSeconds (with the pod's own stop first)"
grep -q '^step-2: ' "pods-$i.txt" && [ "$(grep -c 'flaky' "pods-$i.txt")" = 3 ] ||
    fail "the retried step ran three pods" "$(cat "pods-$i.txt")"
pass "the retried step ran in three pods"

# ------------------------------------------------------------ rendering

workdir render
argo_config ""
rn execute "$RN_SRCDIR/examples/hello.yaml" -c argo.yaml
expect_rc 0 "argo: execute renders and exits 0"
expect_out_has "nothing ran here" "argo: execute says nothing ran"
expect_file argo-pipeline.yaml "the manifest goes to argo-pipeline.yaml by default"
expect_nothing_written "argo: no run log, no catalog"
[ ! -e greeting.txt ] && [ "$(ls | sort | tr '\n' ' ')" = "argo-pipeline.yaml argo.yaml " ] ||
    fail "argo: nothing but the manifest is written" "$(ls)"
pass "argo: nothing but the manifest is written"
validate argo-pipeline.yaml "hello.yaml"
as_json argo-pipeline.yaml
assert_py argo-pipeline.yaml.json "doc['kind'] == 'Workflow' and doc['metadata'] == {'generateName': 'walk-'}" \
    "a Workflow named from argoWorkflow.metadata"
assert_py argo-pipeline.yaml.json "len(doc['spec']['templates']) == 3 and doc['spec']['volumes'] == [{'name': 'runnable', 'persistentVolumeClaim': {'claimName': 'runnable'}}]" \
    "steps share their container templates; pvc_for_runnable is a volume"
assert_py argo-pipeline.yaml.json "all(t['container']['volumeMounts'] == [{'name': 'runnable', 'mountPath': '/mnt'}] for t in doc['spec']['templates'] if 'container' in t)" \
    "every pod mounts the volume at /mnt"
assert_py argo-pipeline.yaml.json "all('{{workflow.name}}' in t['container']['command'] for t in doc['spec']['templates'] if 'container' in t)" \
    "the run id is the workflow's name"
rn execute "$RN_SRCDIR/examples/hello.yaml" -c argo.yaml --output elsewhere/wf.yaml
expect_rc 0 "execute --output"
expect_file elsewhere/wf.yaml "--output FILE chooses where the manifest goes"
argo_config "    output_file: from-config.yaml"
rn execute "$RN_SRCDIR/examples/hello.yaml" -c argo.yaml
expect_file from-config.yaml "output_file in the config chooses where the manifest goes"
rn execute "$RN_SRCDIR/examples/hello.yaml" -c argo.yaml -o cli.yaml
expect_file cli.yaml "-o wins over output_file"
cmp -s cli.yaml from-config.yaml || fail "the same pipeline renders the same manifest twice"
pass "the same pipeline renders the same manifest twice"

# ------------------------------------------------------------ settings

workdir settings
cat >pipe.yaml <<'YAML'
dag:
  start_at: first
  steps:
    first:
      type: task
      command_type: shell
      command: echo "$API_KEY" | wc -c
      secrets: [API_KEY]
      next: big
    big:
      type: task
      command_type: shell
      command: "true"
      overrides: {argo: big}
      next: fan
    fan:
      type: map
      iterate_on: items
      iterate_as: item
      overrides: {argo: one_at_a_time}
      branch:
        start_at: cell
        steps:
          cell:
            type: stub
            next: success
      next: success
YAML
printf 'items: [1, "1", 2.5e0, {"a": [true]}]\nname: "007"\ncode: "42"\nflag: true\nword: hello\n' >params.yaml
cat >argo.yaml <<'YAML'
pipeline-executor:
  type: argo
  config:
    pvcForRunnable: shared
    secretFromK8s: team-secrets
    log_level: WARNING
    custom_volumes:
      - mount_path: /data
        persistent_volume_claim: {claim_name: datasets, read_only: true}
    defaults:
      image: registry.example/runnable:1
      imagePullPolicy: IfNotPresent
      resources:
        limits: {cpu: 1, memory: 2Gi}
        requests: {cpu: 500m, memory: 1Gi}
      env:
        - {name: STAGE, value: prod}
        - {name: WORKERS, value: 4}
      node_selector: {pool: general}
      tolerations:
        - {key: dedicated, operator: Equal, value: runnable, effect: NoSchedule}
    overrides:
      big:
        image: registry.example/runnable-gpu:1
        resources:
          limits: {cpu: 8, memory: 32Gi, gpu: 1}
        env:
          - {name: WORKERS, value: "16"}
        node_selector: {pool: gpu}
        timeout: 2h
        retry_strategy:
          limit: 2
          retry_policy: OnError
          back_off: {duration: 30s, factor: 2, max_duration: 10m}
      one_at_a_time:
        parallelism: 1
    argoWorkflow:
      metadata:
        generate_name: nightly-
        namespace: ml
        labels: {team: data}
        annotations: {owner: someone}
      spec:
        service_account_name: runner
        pod_gc: {strategy: OnPodSuccess}
        parallelism: 4
        activeDeadlineSeconds: 7200
        image_pull_secrets: [{name: regcred}]
        retry_strategy: {limit: 1}
YAML
rn execute pipe.yaml -c argo.yaml -p params.yaml -o wf.yaml
expect_rc 0 "a pipeline with secrets, overrides and a map renders"
validate wf.yaml "settings"
as_json wf.yaml
T="{t['name']: t for t in doc['spec']['templates']}"
assert_py wf.yaml.json "doc['metadata'] == {'generateName': 'nightly-', 'namespace': 'ml', 'labels': {'team': 'data'}, 'annotations': {'owner': 'someone'}}" \
    "argoWorkflow.metadata, snake_case or camelCase, in camelCase"
assert_py wf.yaml.json "(s := doc['spec']) is not None and s['serviceAccountName'] == 'runner' and s['podGC'] == {'strategy': 'OnPodSuccess'} and s['parallelism'] == 4 and s['activeDeadlineSeconds'] == 7200 and s['imagePullSecrets'] == [{'name': 'regcred'}]" \
    "argoWorkflow.spec passes through"
assert_py wf.yaml.json "doc['spec']['templateDefaults'] == {'nodeSelector': {'pool': 'general'}, 'tolerations': [{'key': 'dedicated', 'operator': 'Equal', 'value': 'runnable', 'effect': 'NoSchedule'}]}" \
    "defaults' node selector and tolerations are templateDefaults"
assert_py wf.yaml.json "doc['spec']['volumes'][1] == {'name': 'custom-volume-0', 'persistentVolumeClaim': {'claimName': 'datasets', 'readOnly': True}}" \
    "custom_volumes become volumes"
assert_py wf.yaml.json "(t := $T['step']['container']) is not None and t['image'] == 'registry.example/runnable:1' and t['imagePullPolicy'] == 'IfNotPresent' and t['resources'] == {'limits': {'cpu': '1', 'memory': '2Gi'}, 'requests': {'cpu': '500m', 'memory': '1Gi'}} and t['volumeMounts'][1] == {'name': 'custom-volume-0', 'mountPath': '/data', 'readOnly': True}" \
    "defaults: image, pull policy, resources as strings, mounts"
assert_py wf.yaml.json "{'name': 'API_KEY', 'valueFrom': {'secretKeyRef': {'name': 'team-secrets', 'key': 'API_KEY'}}} in $T['step']['container']['env']" \
    "a task's secret comes from secret_from_k8s, never its value"
assert_py wf.yaml.json "(t := $T['step-big']) is not None and (c := t['container']) is not None and c['image'] == 'registry.example/runnable-gpu:1' and c['resources']['limits'] == {'cpu': '8', 'memory': '32Gi', 'nvidia.com/gpu': '1'} and c['resources']['requests'] == {'cpu': '500m', 'memory': '1Gi'} and {'name': 'WORKERS', 'value': '16'} in c['env'] and {'name': 'STAGE', 'value': 'prod'} in c['env'] and {'name': 'WORKERS', 'value': '4'} not in c['env']" \
    "an override changes image, resources, env (merged by name) and only those it names"
assert_py wf.yaml.json "(t := $T['step-big']) is not None and t['nodeSelector'] == {'pool': 'gpu'} and t['timeout'] == '2h' and t['retryStrategy'] == {'limit': '2', 'retryPolicy': 'OnError', 'backoff': {'duration': '30s', 'factor': '2', 'maxDuration': '10m'}}" \
    "an override's node selector, timeout and retry strategy go on its template"
assert_py wf.yaml.json "'retryStrategy' not in doc['spec'] and $T['step']['retryStrategy'] == {'limit': '1'} and [n for n, t in $T.items() if 'retryStrategy' in t] == ['step', 'step-big', 'step-2']" \
    "argoWorkflow.spec.retryStrategy retries the steps' pods only (not branches, fail steps or fan-ins)"
assert_py wf.yaml.json "$T['fan']['parallelism'] == 1 and $T['fan']['steps'][1][0]['withParam'] == '{{steps.fan-out.outputs.parameters.items}}'" \
    "a map fans out with withParam; its override's parallelism bounds it"
assert_py wf.yaml.json "(a := {p['name']: p['value'] for p in doc['spec']['arguments']['parameters']}) is not None and a == {'log_level': 'WARNING', 'items': '[1, \"1\", 2.5, {\"a\": [true]}]', 'name': '007', 'code': '\"42\"', 'flag': 'true', 'word': 'hello'}" \
    "initial parameters are workflow arguments (text, typed as JSON reads them back)"
assert_py wf.yaml.json "{'name': 'RUNNABLE_PRM_name', 'value': '{{workflow.parameters.name}}'} in $T['step']['container']['env']" \
    "pods get them as RUNNABLE_PRM_ variables"

# Map items keep their JSON types on the way through {{item}}.
printf 'run-log-store:\n  type: chunked-fs\n' >ck.yaml
cat >items.yaml <<'YAML'
dag:
  start_at: fan
  steps:
    fan:
      type: map
      iterate_on: items
      iterate_as: item
      branch:
        start_at: show
        steps:
          show:
            type: task
            command_type: shell
            command: printf '%s\n' "$item" >>seen.txt
            next: success
      next: success
YAML
printf 'items: [1, "2", "three", {"a": [true]}, [4]]\n' >items-p.yaml
cat >argo.yaml <<'YAML'
pipeline-executor:
  type: argo
  config:
    defaults: {image: localhost/runnable:test}
    argoWorkflow: {metadata: {generateName: items-}, spec: {}}
run-log-store:
  type: chunked-fs
YAML
rn execute items.yaml -c argo.yaml -p items-p.yaml -o items-wf.yaml
expect_rc 0 "a map over items of mixed JSON types renders"
"$PY" "$RN_SRCDIR/tests/cli/argo_walker.py" items-wf.yaml "$RUNNER" . --name items-run >pods.txt 2>walk.err ||
    fail "the map over mixed items runs" "$(cat walk.err)"
grep -F -q -- '"item": {"value": "2" }' pods.txt && grep -F -q -- '"item": {"value": 1 }' pods.txt &&
    grep -F -q -- '"item": {"value": {"a": [true]} }' pods.txt ||
    fail "items reach the pods with their JSON types" "$(grep show pods.txt)"
pass "items reach the pods with their JSON types (\"2\" stays text, 1 a number)"
rn runs show items-run --json -c ck.yaml
assert_py "$OUT" "len(doc['steps']['fan']['branches']) == 5 and doc['status'] == 'SUCCESS'" \
    "the map ran every item"
[ "$(sort seen.txt | tr '\n' ' ')" = "1 2 [4] three {'a': [True]} " ] ||
    fail "each task saw its item as the local executor shows it" "$(cat seen.txt)"
pass "each task saw its item as the local executor shows it"

# ------------------------------------------------------------ CronWorkflow

workdir cron
cat >argo.yaml <<'YAML'
pipeline-executor:
  type: argo
  config:
    defaults: {image: localhost/runnable:test}
    cron_schedule:
      schedules: ["0 2 * * *", "@every 6h"]
      timezone: Europe/London
    argoWorkflow:
      metadata: {generateName: nightly-run-, labels: {app: runnable}}
      spec: {}
YAML
rn execute "$RN_SRCDIR/examples/hello.yaml" -c argo.yaml
expect_rc 0 "cron_schedule: renders a CronWorkflow"
validate argo-pipeline.yaml "cron"
as_json argo-pipeline.yaml
assert_py argo-pipeline.yaml.json "doc['kind'] == 'CronWorkflow' and doc['metadata'] == {'name': 'nightly-run', 'labels': {'app': 'runnable'}}" \
    "a CronWorkflow is named after generateName without its '-'"
assert_py argo-pipeline.yaml.json "(s := doc['spec']) is not None and s['schedules'] == ['0 2 * * *', '@every 6h'] and s['timezone'] == 'Europe/London' and s['workflowSpec']['entrypoint'] == 'runnable-dag'" \
    "schedules (a list), timezone and the workflow spec"
assert_py argo-pipeline.yaml.json "all('{{workflow.name}}' in t['container']['command'] for t in doc['spec']['workflowSpec']['templates'] if 'container' in t) and 'run_id' not in json.dumps(doc['spec']['workflowSpec']['arguments'])" \
    "each scheduled run gets its own run id (its workflow name), nothing to supply"
printf 'run-log-store:\n  type: chunked-fs\n' >>argo.yaml
"$PY" "$RN_SRCDIR/tests/cli/argo_walker.py" argo-pipeline.yaml "$RUNNER" . --name nightly-run-1700000000 >p1.txt 2>w1.err &&
"$PY" "$RN_SRCDIR/tests/cli/argo_walker.py" argo-pipeline.yaml "$RUNNER" . --name nightly-run-1700086400 >p2.txt 2>w2.err ||
    fail "two scheduled runs of the CronWorkflow run" "$(cat w1.err w2.err)"
rn runs list -c argo.yaml
expect_out_has nightly-run-1700000000 "the first scheduled run has its run log"
expect_out_has nightly-run-1700086400 "the second scheduled run has its own"

# ------------------------------------------------------------ the corpus

if [ -d "$CORPUS" ]; then
    workdir corpus
    export RUNNABLE_VAR_docker_image=registry.example/project:1
    n=0
    for cfg in argo-config argo-cron-config; do
        while IFS= read -r f; do
            rel=${f#"$CORPUS"/}
            # Its override is defined below, with a config that has it.
            [ "$rel" != executors/argo-map-sequential.yaml ] || continue
            n=$((n + 1))
            rn execute "$f" -c "$CORPUS/configs/$cfg.yaml" -o "c-$n.yaml"
            [ "$RC" = 0 ] || fail "$rel renders with configs/$cfg.yaml" "exit $RC"
            "$VALIDATE" --all "c-$n.yaml" >v.txt 2>&1 ||
                fail "$rel with configs/$cfg.yaml: validate-argo --all" "$(cat v.txt)"
        done < <(grep -l -E '^dag:' -r "$CORPUS" --include='*.yaml' | sort)
    done
    pass "$n corpus pipelines × configs/argo-config.yaml, argo-cron-config.yaml: rendered and valid"
    as_json c-1.yaml
    assert_py c-1.yaml.json "doc['metadata'] == {'generateName': 'argo-', 'namespace': 'enterprise-mlops'} and doc['spec']['serviceAccountName'] == 'default-editor'" \
        "configs/argo-config.yaml: its metadata and service account"
    assert_py c-1.yaml.json "all(t['container']['image'] == 'registry.example/project:1' and t['container']['resources']['limits'] == {'cpu': '2', 'memory': '4Gi'} for t in doc['spec']['templates'] if 'container' in t)" \
        "configs/argo-config.yaml: \$docker_image from RUNNABLE_VAR_docker_image, its resources"
    as_json "c-$n.yaml"
    assert_py "c-$n.yaml.json" "doc['kind'] == 'CronWorkflow' and doc['metadata']['name'] == 'argo-cron' and doc['spec']['schedules'] == ['0 0 * * *'] and doc['spec']['timezone'] == 'UTC'" \
        "configs/argo-cron-config.yaml: a CronWorkflow"
    sed 's/^    configmap_cache_name: kf-configmap$/&\n    overrides:\n      sequential: {parallelism: 1}/' \
        "$CORPUS/configs/argo-config.yaml" >seq.yaml
    rn execute "$CORPUS/executors/argo-map-sequential.yaml" -c seq.yaml -o seq-wf.yaml
    expect_rc 0 "executors/argo-map-sequential.yaml renders with its 'sequential' override"
    validate seq-wf.yaml "executors/argo-map-sequential.yaml"
    as_json seq-wf.yaml
    assert_py seq-wf.yaml.json "[t['parallelism'] for t in doc['spec']['templates'] if 'parallelism' in t] == [1]" \
        "its map runs one item at a time (parallelism: 1)"
    rn execute "$CORPUS/executors/argo-map-sequential.yaml" -c "$CORPUS/configs/argo-config.yaml"
    expect_rc 2 "an override the config lacks is an input error"
    expect_err_has "asks for the argo override 'sequential'" "the error names the missing override"
    expect_no_file argo-pipeline.yaml "nothing is written for bad input"
    unset RUNNABLE_VAR_docker_image
else
    echo "# (corpus not found at $CORPUS: its argo configs are not covered)"
fi

# ------------------------------------------------------------ every project pipeline

workdir ours
argo_config "    secret_from_k8s: project-secrets"
n=0
while IFS= read -r f; do
    rn validate "$f"
    [ "$RC" = 0 ] || continue     # the fixtures of bad input
    n=$((n + 1))
    rn execute "$f" -c argo.yaml -o "o-$n.yaml"
    [ "$RC" = 0 ] || fail "${f#"$RN_SRCDIR"/} renders" "exit $RC"
    "$VALIDATE" --all "o-$n.yaml" >v.txt 2>&1 ||
        fail "${f#"$RN_SRCDIR"/}: validate-argo --all" "$(cat v.txt)"
done < <(grep -l -E '^dag:' -r "$RN_SRCDIR/examples" "$RN_SRCDIR/tests/fixtures" --include='*.yaml' | sort)
[ "$n" -ge 30 ] || fail "the project's pipelines found" "only $n"
pass "all $n pipelines of examples/ and tests/fixtures/ render and pass validate-argo --all"

# ------------------------------------------------------------ the 200-template bound

workdir big
"$PY" - <<'PYEOF'
steps = ["dag:", "  start_at: s0", "  steps:"]
for i in range(1000):
    steps += ["    s%d:" % i, "      type: task", "      command_type: shell",
              "      command: echo %d" % i, "      next: %s" % ("s%d" % (i + 1) if i < 999 else "success")]
    if i % 100 == 7:
        steps += ["      max_attempts: 2"]
    if i % 250 == 3:
        steps += ["      on_failure: s%d" % (i + 2)]
open("thousand.yaml", "w").write("\n".join(steps) + "\n")
PYEOF
argo_config ""
rn execute thousand.yaml -c argo.yaml -o big.yaml
expect_rc 0 "a 1,000-step pipeline renders"
validate big.yaml "1,000 steps"
as_json big.yaml
assert_py big.yaml.json "len(doc['spec']['templates']) <= 5 and sum(len(t.get('steps', [])) for t in doc['spec']['templates']) == 1002" \
    "1,000 steps share a handful of templates (Argo allows 200)"

# ------------------------------------------------------------ bad input

workdir bad
cp "$RN_SRCDIR/examples/hello.yaml" p.yaml
# bad_config WHAT EXPECTED-POSITION EXPECTED-TEXT: config on stdin.
bad_config() {
    cat >bad.yaml
    rn execute p.yaml -c bad.yaml
    expect_rc 2 "$1: exit 2"
    expect_err_has "runnable: error: bad.yaml:$2: " "$1: the error points at bad.yaml:$2"
    expect_err_has "$3" "$1: says what is wrong"
    [ -z "$(ls | grep -v -x -e p.yaml -e bad.yaml)" ] || fail "$1: nothing written" "$(ls)"
    pass "$1: nothing written"
}
bad_config "an unknown nested key" 7:9 "unknown setting 'defaults.resources.limitz'" <<'YAML'
pipeline-executor:
  type: argo
  config:
    defaults:
      image: x
      resources:
        limitz: {cpu: 1}
YAML
bad_config "an unknown top-level key" 4:5 "has no setting 'imagez'" <<'YAML'
pipeline-executor:
  type: argo
  config:
    imagez: x
YAML
bad_config "no image" 4:5 "'defaults.image' is required" <<'YAML'
pipeline-executor:
  type: argo
  config:
    defaults: {}
YAML
bad_config "a bad pull policy" 6:7 "use one of Always, IfNotPresent, Never" <<'YAML'
pipeline-executor:
  type: argo
  config:
    defaults:
      image: x
      image_pull_policy: Sometimes
YAML
bad_config "a name Kubernetes refuses" 7:9 "lower case letters" <<'YAML'
pipeline-executor:
  type: argo
  config:
    defaults: {image: x}
    argoWorkflow:
      metadata:
        generateName: My_Pipeline-
YAML
bad_config "a cron schedule that is not a list" 6:7 "must be a list" <<'YAML'
pipeline-executor:
  type: argo
  config:
    defaults: {image: x}
    cron_schedule:
      schedules: "0 2 * * *"
YAML
cat >sec.yaml <<'YAML'
dag:
  start_at: s
  steps:
    s:
      type: task
      command_type: shell
      command: "true"
      secrets: [TOKEN]
      next: success
YAML
printf 'pipeline-executor:\n  type: argo\n  config:\n    defaults: {image: x}\n' >ok.yaml
rn execute sec.yaml -c ok.yaml
expect_rc 2 "a task with secrets and no secret_from_k8s: exit 2"
expect_err_has "name the Kubernetes Secret that holds them with secret_from_k8s" \
    "the error says to set secret_from_k8s"
printf 'Big Name: 1\n' >badp.yaml
rn execute p.yaml -c ok.yaml -p badp.yaml
expect_rc 2 "a parameter pods cannot receive: exit 2"
expect_err_has "initial parameter 'Big Name' cannot reach the pods" "the error names the parameter"
expect_no_file argo-pipeline.yaml "nothing is written for bad input"
printf 'run-log-store:\n  type: chunked-fs\n' >ck.yaml
rn execute "$P/fail.yaml" failed-run -c ck.yaml
cat ok.yaml ck.yaml >argo-ck.yaml
rn retry failed-run -c argo-ck.yaml
expect_rc 2 "retry with an argo config: exit 2"
expect_err_has "the argo executor runs nothing here, so it cannot retry run 'failed-run'" \
    "the error says where to retry"
expect_no_file argo-pipeline.yaml "retry with an argo config writes no manifest"
rn runs show failed-run --json -c ck.yaml
assert_py "$OUT" "doc['status'] == 'FAIL'" "the run is left as it was"

done_testing
