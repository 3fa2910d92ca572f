#!/usr/bin/env bash
# downhill vs PyTorch on the workloads of ../shared/bench/torch_workloads.py,
# same machine, same thread count, the two sides run in alternation.
#
#   bench/compare.sh [THREADS] [ROUNDS]      (defaults: 2 threads, 2 rounds)
#
# Prints one row per workload with each side's best figure over the rounds and
# the ratio downhill / PyTorch, and whether the issue's target is met. Without
# torch (pip install torch numpy) it prints downhill's figures alone.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${1:-2}"
ROUNDS="${2:-2}"
TORCH_SCRIPT="${TORCH_WORKLOADS:-../shared/bench/torch_workloads.py}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

cargo build --release -p downhill --example workloads >/dev/null 2>&1 || cargo build --release -p downhill --example workloads
have_torch=1
if ! python3 -c "import torch" >/dev/null 2>&1; then
  have_torch=0
  echo "note: PyTorch is not installed (pip install torch numpy); showing downhill's figures only" >&2
elif [ ! -f "$TORCH_SCRIPT" ]; then
  have_torch=0
  echo "note: $TORCH_SCRIPT not found (set TORCH_WORKLOADS); showing downhill's figures only" >&2
fi

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS: downhill ($THREADS threads)" >&2
  ./target/release/examples/workloads "$THREADS" >>"$OUT/downhill.jsonl"
  if [ "$have_torch" = 1 ]; then
    echo "round $round/$ROUNDS: PyTorch ($THREADS threads)" >&2
    python3 "$TORCH_SCRIPT" "$THREADS" >>"$OUT/torch.jsonl"
  fi
done

python3 - "$OUT" "$THREADS" "$have_torch" <<'PY'
import json, sys, os
out, threads, have_torch = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
def load(name):
    best = {}
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return best
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        key = "gflops" if r["workload"].startswith("sgemm") else "steps_per_s"
        best[r["workload"]] = max(best.get(r["workload"], 0.0), r[key])
    return best
d, t = load("downhill.jsonl"), load("torch.jsonl")
targets = {"scalar_2x2": 180.0, "tiny_mlp_digits": 5.0, "mnist_mlp": 1.1, "wide_mlp": 1.0, "lenet_cnn": 1.0, "sgemm_2048": 0.95}
print(f"threads: {threads}; best of each side over the rounds")
print(f"| {'workload':<16} | {'unit':<8} | {'PyTorch':>12} | {'downhill':>12} | {'ratio':>8} | {'target':>7} | met |")
print(f"|{'-'*18}|{'-'*10}|{'-'*14}|{'-'*14}|{'-'*10}|{'-'*9}|-----|")
for w in d:
    unit = "GFLOP/s" if w.startswith("sgemm") else "steps/s"
    tv = t.get(w)
    ratio = d[w] / tv if tv else None
    target = targets.get(w)
    met = "" if ratio is None or target is None else ("yes" if ratio >= target else "NO")
    print(f"| {w:<16} | {unit:<8} | {tv if tv else float('nan'):>12.1f} | {d[w]:>12.1f} | "
          f"{(f'{ratio:.2f}x' if ratio else '-'):>8} | {(f'{target}x' if target else '-'):>7} | {met:<3} |")
PY
