#!/usr/bin/env bash
# Your first job, with dain commands only (the README's walkthrough): a local chain, a
# researcher and three hospitals with CSV files, a proposal and its vote, enrollment,
# training across four node processes, watching, completing, claiming, fetching the model
# and checking its model card against the chain. Runs in a fresh temporary folder, stops
# every process it started, and exits 0 only if every step worked.
#
#   examples/first-job.sh            # uses `dain` on PATH (or DAIN="python -m dain")
#   KEEP=1 examples/first-job.sh     # keep the folder to look around afterwards
set -euo pipefail

DAIN=${DAIN:-dain}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dain-first-job.XXXXXX")
NET="$WORK/network"
export DAIN_PASSWORD=${DAIN_PASSWORD:-first-job-password}
NODES=(researcher st-mary city-general lakeside)

dain() { $DAIN "$@"; }
say() { printf '\n== %s\n' "$*"; }
# a field of a command's --json answer, read with the Python dain runs on
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

say "1. A local chain (anvil) that mines on transactions only: this script moves it on itself"
dain chain up --home "$NET" --port 0 --block-time 0
RPC=$(dain chain status --home "$NET" --json | field 'd["url"]')

say "2. A node for the researcher and for each hospital; the treasury admits them"
for name in "${NODES[@]}"; do
    address=$(dain node init --name "$name" --home "$WORK/$name" --port "$(free_port)" \
        --rpc "$RPC" --deployment "$NET/deployment.json" --private-peers --json | field 'd["address"]')
    dain chain admit "$address" --tokens 12000 --home "$NET"  # 4 x 12,000: above the 4% quorum
    dain gov delegate --home "$NET" --keystore "$WORK/$name/keystore.json"
done

say "3. Each hospital registers its CSV with a consent policy; the researcher keeps rows to evaluate"
dain data sample breast_cancer --out "$WORK/data" --parts 4 --seed 1
for i in 1 2 3; do
    hospital=${NODES[$i]}
    dain data register "$WORK/data/breast_cancer-$i.csv" --target target \
        --title "$hospital cases" --purpose diagnosis --price 1 --home "$WORK/$hospital"
done
cp "$WORK/data/breast_cancer-4.csv" "$WORK/researcher/holdout.csv"

say "4. Every node starts (logs in each home's logs/node.log)"
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

say "5. The researcher proposes the job"
cat >"$WORK/researcher/job.toml" <<'TOML'
title = "Malignancy from cell nuclei"
purpose = "diagnosis"
rounds = 3
round_duration = 60
pool = "30 DAIN"
min_participants = 3

[model]
kind = "logreg"

[training]
learning_rate = 0.1
batch_size = 16

[evaluation]
csv = "holdout.csv"
target = "target"
TOML
proposed=$(dain job propose "$WORK/researcher/job.toml" --home "$WORK/researcher" --json)
JOB=$(echo "$proposed" | field 'd["job_id"]')
PROPOSAL=$(echo "$proposed" | field 'd["proposal_id"]')
echo "job $JOB, proposal $PROPOSAL"

say "6. Members vote; the proposal is queued and executed after the timelock's delay"
dain chain mine 1 --home "$NET"  # a vote opens the block after its proposal
for name in "${NODES[@]}"; do
    dain gov vote "$PROPOSAL" for --home "$NET" --keystore "$WORK/$name/keystore.json"
done
dain chain mine 25 --home "$NET"
dain gov queue "$PROPOSAL" --home "$NET" --keystore "$WORK/researcher/keystore.json"
dain chain mine 1 --seconds 120 --home "$NET"
dain gov execute "$PROPOSAL" --home "$NET" --keystore "$WORK/researcher/keystore.json"

say "7. Each hospital enrolls its asset; the researcher starts the job"
for i in 1 2 3; do
    hospital=${NODES[$i]}
    asset=$(dain data list --home "$WORK/$hospital" --json | field 'd[0]["asset_id"]')
    dain job enroll "$JOB" --asset "$asset" --home "$WORK/$hospital"
done
dain job start "$JOB" --home "$WORK/researcher"

say "8. Training: the nodes do the rest; the researcher watches"
dain job watch "$JOB" --home "$WORK/researcher" --until-done --interval 2
dain job show "$JOB" --home "$WORK/researcher"

say "9. The job completes and the hospitals claim what they earned"
dain job complete "$JOB" --home "$WORK/researcher"
for i in 1 2 3; do
    dain rewards claim --home "$WORK/${NODES[$i]}"
done

say "10. The trained model, and its model card checked against the chain"
dain job model "$JOB" --out "$WORK/model.safetensors" --home "$WORK/researcher"
dain job card "$JOB" --out "$WORK/card" --home "$WORK/researcher"
dain job card "$JOB" --verify "$WORK/card/job-$JOB-card.json" --home "$WORK/researcher"
# a card whose numbers were touched up fails, naming the field
"${PYTHON:-python3}" -c 'import json,sys; c=json.load(open(sys.argv[1])); c["assets"][0]["examples"]+=1; json.dump(c, open(sys.argv[2], "w"))' \
    "$WORK/card/job-$JOB-card.json" "$WORK/tampered.json"
if dain job card "$JOB" --verify "$WORK/tampered.json" --home "$WORK/researcher" >"$WORK/tampered.out"; then
    echo "a tampered card verified"; exit 1
fi
grep -q "assets\[0\].examples" "$WORK/tampered.out" || { echo "the wrong field was named"; exit 1; }
echo "The tampered card was caught: $(grep -m1 'assets\[0\]' "$WORK/tampered.out")"

say "Done: every step worked."
