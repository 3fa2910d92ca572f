#!/usr/bin/env bash
# downhill vs PyTorch on the workloads of bench/torch_workloads.py (a copy of
# ../shared/bench/torch_workloads.py with resnet_block added), same machine,
# same thread count, the two sides run in alternation.
#
#   bench/compare.sh [THREADS] [ROUNDS]      (defaults: 2 threads, 2 rounds)
#
# Prints one row per workload with each side's best figure over the rounds and
# the ratio downhill / PyTorch, the MLPs' GFLOP/s as a share of downhill's own
# sgemm in the same run, and whether the performance issue's goal is met. Without
# torch (pip install torch numpy) it prints downhill's figures alone.
# COMPARE_KEEP=DIR keeps the raw JSON lines of both sides there.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${1:-2}"
ROUNDS="${2:-2}"
TORCH_SCRIPT="${TORCH_WORKLOADS:-bench/torch_workloads.py}"
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

if [ -n "${COMPARE_KEEP:-}" ]; then
  cp "$OUT"/*.jsonl "$COMPARE_KEEP"/
fi
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
        w = r["workload"]
        key = "gflops" if w.startswith("sgemm") else "steps_per_s"
        if r[key] > best.get(w, {}).get(key, 0.0):
            best[w] = r
    return best
d, t = load("downhill.jsonl"), load("torch.jsonl")
def value(r, w):
    return r["gflops"] if w.startswith("sgemm") else r["steps_per_s"]
# Issue 18's goals: a ratio to PyTorch, an absolute rate, or a share of
# downhill's own sgemm GFLOP/s in the same run.
goals = {"scalar_2x2": ("rate", 5e6), "tiny_mlp_digits": ("ratio", 40.0), "mnist_mlp": ("sgemm", 0.80),
         "wide_mlp": ("sgemm", 0.90), "lenet_cnn": ("ratio", 2.0), "resnet_block": ("ratio", 1.5)}
sgemm = d.get("sgemm_2048", {}).get("gflops")
print(f"threads: {threads}; best of each side over the rounds; sgemm %: the workload's GFLOP/s over downhill's sgemm_2048")
print(f"| {'workload':<16} | {'unit':<8} | {'PyTorch':>12} | {'downhill':>12} | {'ratio':>8} | {'sgemm %':>7} | {'goal':>12} | met |")
print(f"|{'-'*18}|{'-'*10}|{'-'*14}|{'-'*14}|{'-'*10}|{'-'*9}|{'-'*14}|-----|")
for w in d:
    unit = "GFLOP/s" if w.startswith("sgemm") else "steps/s"
    dv = value(d[w], w)
    tv = value(t[w], w) if w in t else None
    ratio = dv / tv if tv else None
    share = d[w]["gflops"] / sgemm if sgemm and "gflops" in d[w] and not w.startswith("sgemm") else None
    kind, goal = goals.get(w, (None, None))
    got = {"ratio": ratio, "rate": dv, "sgemm": share}.get(kind)
    met = "" if got is None else ("yes" if got >= goal else "NO")
    goal_text = "-" if kind is None else {"ratio": lambda: f"{goal}x", "rate": lambda: f"{goal:,.0f}/s",
                                          "sgemm": lambda: f"{goal:.0%} sgemm"}[kind]()
    print(f"| {w:<16} | {unit:<8} | {tv if tv else float('nan'):>12.1f} | {dv:>12.1f} | "
          f"{(f'{ratio:.2f}x' if ratio else '-'):>8} | {(f'{share:.0%}' if share else '-'):>7} | {goal_text:>12} | {met:<3} |")
PY
