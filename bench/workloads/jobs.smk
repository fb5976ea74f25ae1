# N independent jobs, one shell `true` each, for snakemake:
#   snakemake -s jobs.smk --cores J --config n=N
# Snakemake runs a shell command as `bash -c "set -euo pipefail; true"`: one
# shell per job, as the other tools (`sh -c true` would start a second one).
# It needs an output per job: touch() creates it after the command.
N = int(config["n"])

rule all:
    input: expand("out/{i}", i=range(N))

rule job:
    output: touch("out/{i}")
    shell: "true"
