#!/usr/bin/env bash
# How cost grows with work, downhill and PyTorch side by side in one run:
#   - the batch size from 1 to 2048 on the mnist_mlp shape (784-512-256-10),
#   - the hidden width from 64 to 8192 at batch 128 (784-W-W-10),
# each point an Adam training step (forward, cross-entropy, backward, update)
# timed for about a second after a short warm-up (examples/workloads and
# bench/torch_workloads.py given `mlp:SIZES:BATCH` points). The two sides run
# in alternation, ROUNDS times; each point keeps its best rate.
#
#   bench/scaling.sh [THREADS] [ROUNDS]      (defaults: 2 threads, 2 rounds)
#
# Prints a table per sweep (with the ratio and any point slower than PyTorch)
# and draws bench/scaling-batch.png (µs per sample against batch size) and
# bench/scaling-width.png (GFLOP/s against width) with the project's own
# plotting (examples/scaling_plot). PYTHON picks the interpreter with torch.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${1:-2}"
ROUNDS="${2:-2}"
PYTHON="${PYTHON:-python3}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

cargo build --release -p downhill --example workloads --example scaling_plot >/dev/null 2>&1 ||
  cargo build --release -p downhill --example workloads --example scaling_plot

points=()
for b in 1 2 4 8 16 32 64 128 256 512 1024 2048; do points+=("mlp:784-512-256-10:$b"); done
for w in 64 128 256 512 1024 2048 4096 8192; do points+=("mlp:784-$w-$w-10:128"); done

have_torch=1
if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
  have_torch=0
  echo "note: PyTorch is not installed for $PYTHON (pip install torch numpy); showing downhill's figures only" >&2
fi
touch "$OUT/torch.jsonl"
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS: downhill ($THREADS threads, ${#points[@]} points)" >&2
  ./target/release/examples/workloads "$THREADS" "${points[@]}" >>"$OUT/downhill.jsonl"
  if [ "$have_torch" = 1 ]; then
    echo "round $round/$ROUNDS: PyTorch ($THREADS threads)" >&2
    "$PYTHON" bench/torch_workloads.py "$THREADS" "${points[@]}" >>"$OUT/torch.jsonl"
  fi
done
if [ -n "${SCALING_KEEP:-}" ]; then
  cp "$OUT/downhill.jsonl" "$OUT/torch.jsonl" "$SCALING_KEEP"/
fi
echo "threads: $THREADS; best of $ROUNDS rounds; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
./target/release/examples/scaling_plot "$OUT/downhill.jsonl" "$OUT/torch.jsonl" bench
