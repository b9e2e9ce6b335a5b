#!/usr/bin/env bash
# The imaging use case on real node processes: three hospitals hold digit images (the
# offline stand-in for medical images) in class folders, a researcher proposes the
# template's CNN job file, members approve it, the nodes train it across four processes on
# a local chain, and the researcher checks the model's accuracy on its own held-out images.
# Runs in a fresh temporary folder, stops every process it started, exits 0 only if every
# step worked.
#
#   examples/imaging-job.sh          # uses `dain` on PATH (or DAIN="python -m dain")
set -euo pipefail

DAIN=${DAIN:-dain}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dain-imaging-job.XXXXXX")
NET="$WORK/network"
export DAIN_PASSWORD=${DAIN_PASSWORD:-imaging-job-password}
NODES=(researcher st-mary city-general lakeside)
ROUNDS=${ROUNDS:-4}

dain() { $DAIN "$@"; }
say() { printf '\n== %s\n' "$*"; }
field() { "${PYTHON:-python3}" -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }
free_port() { "${PYTHON:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

cleanup() {
    status=$?
    for name in "${NODES[@]}"; do
        [ -f "$WORK/$name/node.pid" ] && dain node stop --home "$WORK/$name" >/dev/null 2>&1 || true
    done
    [ -d "$NET" ] && dain chain down --home "$NET" >/dev/null 2>&1 || true
    if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
    exit $status
}
trap cleanup EXIT

say "1. A local chain and a node for the researcher and each hospital"
dain chain up --home "$NET" --port 0 --block-time 0
RPC=$(dain chain status --home "$NET" --json | field 'd["url"]')
for name in "${NODES[@]}"; do
    address=$(dain node init --name "$name" --home "$WORK/$name" --port "$(free_port)" \
        --rpc "$RPC" --deployment "$NET/deployment.json" --private-peers --json | field 'd["address"]')
    dain chain admit "$address" --tokens 12000 --home "$NET"
    dain gov delegate --home "$NET" --keystore "$WORK/$name/keystore.json"
done

say "2. The imaging use case: each hospital's images, the researcher's held-out images and job file"
dain data sample imaging --out "$WORK/researcher/job" --parts 3
sed -i "s/^rounds = .*/rounds = $ROUNDS/" "$WORK/researcher/job/job.toml"
for i in 1 2 3; do
    hospital=${NODES[$i]}
    dain data register "$WORK/researcher/job/owner_$i" --title "$hospital scans" \
        --purpose diagnosis --price 1 --home "$WORK/$hospital"
done

say "3. Every node starts"
for name in "${NODES[@]}"; do
    dain node start --home "$WORK/$name" >"$WORK/$name.out" 2>&1 &
done
for name in "${NODES[@]}"; do
    for _ in $(seq 1 120); do
        dain node status --home "$WORK/$name" >/dev/null 2>&1 && break
        sleep 0.5
    done
    dain node status --home "$WORK/$name" >/dev/null
done

say "4. The researcher proposes the CNN job; members approve it"
proposed=$(dain job propose "$WORK/researcher/job/job.toml" --home "$WORK/researcher" --json)
JOB=$(echo "$proposed" | field 'd["job_id"]')
PROPOSAL=$(echo "$proposed" | field 'd["proposal_id"]')
dain chain mine 1 --home "$NET"
for name in "${NODES[@]}"; do
    dain gov vote "$PROPOSAL" for --home "$NET" --keystore "$WORK/$name/keystore.json"
done
dain chain mine 25 --home "$NET"
dain gov queue "$PROPOSAL" --home "$NET" --keystore "$WORK/researcher/keystore.json"
dain chain mine 1 --seconds 120 --home "$NET"
dain gov execute "$PROPOSAL" --home "$NET" --keystore "$WORK/researcher/keystore.json"

say "5. Each hospital enrolls its images; the researcher starts the job and watches"
for i in 1 2 3; do
    hospital=${NODES[$i]}
    asset=$(dain data list --home "$WORK/$hospital" --json | field 'd[0]["asset_id"]')
    dain job enroll "$JOB" --asset "$asset" --home "$WORK/$hospital"
done
dain job start "$JOB" --home "$WORK/researcher"
dain job watch "$JOB" --home "$WORK/researcher" --until-done --interval 2
dain job show "$JOB" --home "$WORK/researcher"

say "6. The CNN's accuracy on the researcher's own held-out images"
accuracy=$(dain job watch "$JOB" --home "$WORK/researcher" --until-done --json | tail -1 \
    | field 'd["metrics"][max(d["metrics"], key=int)]["requester"]["accuracy"]')
echo "final accuracy $accuracy"
"${PYTHON:-python3}" -c "import sys; sys.exit(0 if float('$accuracy') > 0.9 else 1)" \
    || { echo "the CNN did not learn: accuracy $accuracy"; exit 1; }
dain job model "$JOB" --out "$WORK/model.safetensors" --home "$WORK/researcher"

say "Done: every step worked."
