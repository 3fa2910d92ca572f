#!/usr/bin/env bash
# Peak resident memory of the mnist_mlp workload (784-512-256-10, batch 128,
# Adam), downhill vs PyTorch, each in its own process (GNU time's maximum RSS).
#
#   bench/memory.sh [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${1:-2}"
TORCH_SCRIPT="${TORCH_WORKLOADS:-../shared/bench/torch_workloads.py}"
cargo build --release -p downhill --example workloads >/dev/null 2>&1
rss() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }
d=$(rss ./target/release/examples/workloads "$THREADS" mnist_mlp)
echo "downhill mnist_mlp peak RSS: $((d / 1024)) MiB"
if python3 -c "import torch" >/dev/null 2>&1 && [ -f "$TORCH_SCRIPT" ]; then
  t=$(rss python3 -c "
import sys
sys.argv = ['x', '$THREADS']
src = open('$TORCH_SCRIPT').read().split('\ngemm_bench()')[0]
exec(src)
train_bench('mnist_mlp', [784, 512, 256, 10], 128)
")
  echo "PyTorch  mnist_mlp peak RSS: $((t / 1024)) MiB (ratio $(python3 -c "print(f'{$d/$t:.2f}')"))"
else
  echo "note: PyTorch not installed; downhill's figure only" >&2
fi
