#!/usr/bin/env bash
# Checkpoint write time, downhill beside PyTorch, alternating in one run
# (issue 14: "writing a checkpoint at H = 4096 at least as fast as
# torch.save"). Each round runs examples/checkpoint_write.rs (the training
# state of a 64 → H → H → 10 MLP with Adam written as the trainer writes it,
# Checkpoint::save_deferred — temporary file written, then fsync, rename and
# directory fsync on a thread of their own — three times, best kept: the
# time the training loop waits, and the time until the file is on disk)
# then bench/checkpoint_write_torch.py (torch.save of model + optimizer
# state, no fsync, three times, best kept), both to the same directory;
# prints each round and the median of the per-round ratios of the waits.
#
#   bench/checkpoint_write.sh [H] [ROUNDS]      (default: 4096 5)
set -euo pipefail
cd "$(dirname "$0")/.."
H="${1:-4096}"
ROUNDS="${2:-5}"
PY="${PYTHON:-/work/venv/bin/python}"
cargo build --release -p downhill --example checkpoint_write >/dev/null 2>&1 || {
  echo "checkpoint_write.sh: the build failed (cargo build --release -p downhill --example checkpoint_write)" >&2
  exit 2
}
EX=./target/release/examples/checkpoint_write
TMP=$(mktemp -d "${TMPDIR:-/tmp}/checkpoint-write.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
printf '| round | downhill: loop waits (s) | downhill: on disk (s) | torch.save (s) | wait / torch.save |\n|---|---|---|---|---|\n'
ratios=()
for r in $(seq 1 "$ROUNDS"); do
  read -r _ dsize d durable < <("$EX" "$H" "$TMP")
  read -r _ tsize t < <("$PY" bench/checkpoint_write_torch.py "$H" "$TMP")
  ratio=$(awk -v a="$d" -v b="$t" 'BEGIN {printf "%.3f", a / b}')
  ratios+=("$ratio")
  printf '| %d | %.3f | %.3f | %.3f | %s |\n' "$r" "$d" "$durable" "$t" "$ratio"
  rm -f "$TMP"/*
done
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
echo
echo "H = $H: files $dsize B (downhill) and $tsize B (torch.save); median ratio downhill / torch.save = $median over $ROUNDS rounds"
