#!/usr/bin/env bash
# Data-parallel scaling of `downhill` over MPI against PyTorch DDP (Gloo), one thread per process.
#
#   bench/ddp.sh [ROUNDS] [SECONDS]      (default 3 rounds of 5 s per measurement)
#
# Each round runs, alternately: downhill 1 process, downhill 2 processes (mpirun), PyTorch 1 process,
# PyTorch DDP 2 processes (torchrun, Gloo) on mnist_mlp (784-512-256-10, global batch 128, Adam).
# Then the 2-rank ceiling (one process at a rank's share of the batch; two independent
# processes side by side), an allreduce sweep on 2 processes (loopback) and wide_mlp's
# single-process step time, and
# bench/ddp_model.py fits the alpha-beta model and projects 8/64/256 processes at 10/25/100 Gbit/s.
# Needs: openmpi-bin libopenmpi-dev libclang-dev pkg-config; torch in /work/venv (or $PYTHON).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECONDS_PER=${2:-5}
PY=${PYTHON:-/work/venv/bin/python}
TORCHRUN=${TORCHRUN:-$(dirname "$PY")/torchrun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1
cargo build --release -q -p downhill --features mpi --example ddp_bench
BIN=target/release/examples/ddp_bench
OUT=${OUT:-bench/ddp-results.jsonl}
: > "$OUT"
MPIRUN="mpirun --oversubscribe --bind-to none -x RAYON_NUM_THREADS=1"
for r in $(seq "$ROUNDS"); do
  echo "round $r/$ROUNDS" >&2
  $BIN mnist_mlp "$SECONDS_PER" | sed "s/^{/{\"round\": $r, \"framework\": \"downhill\", /" | tee -a "$OUT"
  $MPIRUN -np 2 $BIN mnist_mlp "$SECONDS_PER" | sed "s/^{/{\"round\": $r, \"framework\": \"downhill-mpi\", /" | tee -a "$OUT"
  "$PY" bench/ddp_torch.py mnist_mlp "$SECONDS_PER" | sed "s/^{/{\"round\": $r, /" | tee -a "$OUT"
  "$TORCHRUN" --nproc-per-node 2 bench/ddp_torch.py mnist_mlp "$SECONDS_PER" 2>/dev/null \
    | sed "s/^{/{\"round\": $r, /" | tee -a "$OUT"
done
# The ceiling of 2 ranks: one process stepping a rank's share of the batch (64), alone and
# beside a second independent process (no communication: what the two cores give).
DDP_BENCH_BATCH=64 $BIN mnist_mlp "$SECONDS_PER" | sed 's/^{/{"framework": "downhill-rank-share", /' | tee -a "$OUT"
($BIN mnist_mlp "$SECONDS_PER" > "$OUT.a" & $BIN mnist_mlp "$SECONDS_PER" > "$OUT.b"; wait)
sed 's/^{/{"framework": "downhill-2-independent", /' "$OUT.a" "$OUT.b" | tee -a "$OUT"
rm -f "$OUT.a" "$OUT.b"
$MPIRUN -np 2 $BIN mnist_mlp 1 sweep | grep allreduce_bytes | tee -a "$OUT"
$BIN wide_mlp 5 | sed 's/^{/{"framework": "downhill", /' | tee -a "$OUT"
"$PY" bench/ddp_model.py "$OUT"
