#!/usr/bin/env bash
# Memory and checkpoints at scale, downhill beside PyTorch in one run
# (issue 14): for H in 1024 2048 4096, a 64 → H → H → 10 MLP with Adam on
# digits for one epoch.
#
#  downhill: `downhill train --data digits --hidden H,H --epochs 1
#            --checkpoint-every 100` with `--on-divergence stop`, then with
#            the defaults plus best-weight restore (rollback guard,
#            `--early-stopping 5`): peak RSS (GNU time), the size of
#            epoch-000001.safetensors; the time the training loop waits for
#            a write of the same state by examples/checkpoint_write.rs (best
#            of 3; its sync and rename then finish on a thread of their own).
#  PyTorch:  bench/checkpoint_memory_torch.py: RSS growth over the run, the
#            size of torch.save(model + optimizer state), its time (best of 3).
#
# Parameter bytes P = 4·(64H + H + H² + H + 10H + 10); the targets at
# H = 4096 are peak RSS ≤ PyTorch's growth and ≤ 6P + 100 MB (stop),
# ≤ 9P + 100 MB (defaults), file ≤ torch.save's, write time ≤ torch.save's.
#
#   bench/checkpoint_memory.sh [H ...]      (default: 1024 2048 4096)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("${@:-1024 2048 4096}")
read -r -a SIZES <<<"${SIZES[*]}"
PY="${PYTHON:-/work/venv/bin/python}"
# Two builds: `--example` with `-p downhill-cli` would build only the example.
cargo build --release -p downhill-cli --bin downhill >/dev/null 2>&1
cargo build --release -p downhill --example checkpoint_write >/dev/null 2>&1
[ -x ./target/release/downhill ] && [ -x ./target/release/examples/checkpoint_write ] || {
  echo "checkpoint_memory.sh: the build failed (run the cargo build lines above)" >&2
  exit 2
}
BIN=./target/release/downhill
EX=./target/release/examples/checkpoint_write
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
peak_kib() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}'; }
mb() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1e6}'; }
printf '| H | parameters | P (MB) | downhill peak RSS, stop (MB) | 6P+100 | downhill peak RSS, defaults + best restore (MB) | 9P+100 | PyTorch RSS growth (MB) | downhill checkpoint (MB) | torch.save (MB) | downhill write (s) | torch.save (s) |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|---|\n'
for H in "${SIZES[@]}"; do
  params=$((64 * H + H + H * H + H + 10 * H + 10))
  P=$((4 * params))
  stop=$(peak_kib "$BIN" train --data digits --hidden "$H,$H" --epochs 1 --on-divergence stop \
    --checkpoint-every 100 --quiet --out "$TMP/stop-$H")
  size=$(stat -c %s "$TMP/stop-$H/checkpoints/epoch-000001.safetensors")
  defaults=$(peak_kib "$BIN" train --data digits --hidden "$H,$H" --epochs 1 --early-stopping 5 \
    --checkpoint-every 100 --quiet --out "$TMP/defaults-$H")
  read -r _ _ write_s _ < <("$EX" "$H" "$TMP")
  read -r _ torch_mib torch_size torch_s < <("$PY" bench/checkpoint_memory_torch.py "$H" "$TMP")
  rm -rf "$TMP"/stop-* "$TMP"/defaults-* "$TMP"/*.pt "$TMP"/*.safetensors
  printf '| %d | %.1f M | %s | %s | %s | %s | %s | %.0f | %s | %s | %.3f | %.3f |\n' \
    "$H" "$(awk -v p="$params" 'BEGIN {print p / 1e6}')" "$(mb "$P")" \
    "$(mb $((stop * 1024)))" "$(mb $((6 * P + 100000000)))" \
    "$(mb $((defaults * 1024)))" "$(mb $((9 * P + 100000000)))" \
    "$(awk -v m="$torch_mib" 'BEGIN {print m * 1048576 / 1e6}')" \
    "$(mb "$size")" "$(mb "$torch_size")" "$write_s" "$torch_s"
done
