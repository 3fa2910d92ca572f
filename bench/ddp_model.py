"""Ratios of bench/ddp.sh's measurements, and an alpha-beta model of data-parallel steps/s.

  python bench/ddp_model.py bench/ddp-results.jsonl

Model (assumptions):
- allreduce of B bytes over N processes: T(N, B) = 2(N-1)*alpha + 2(N-1)/N * B / beta
  (downhill's fixed-order allreduce is an all-to-all plus an all-gather: like a ring, each process
  sends and receives 2(N-1)/N of the buffer; 2(N-1) message latencies). alpha and 1/beta are fitted
  to the loopback sweep (N = 2: T = 2 alpha + B / beta) by least squares.
- on a network, beta is the link rate (10/25/100 Gbit/s, full duplex, no contention) and alpha is
  max(fitted loopback alpha, 20 us) (a TCP/Ethernet message latency; InfiniBand is lower).
- one step: t(N) = t_fb / N + t_opt + T(N, gradient bytes), with t_fb (forward+backward+loss of the
  global batch, split perfectly over N) and t_opt (Adam's update, repeated on every process)
  estimated from one process at the global batch and at a rank's share of it (64 of 128:
  t_fb = 2(t_128 - t_64), t_opt = t_128 - t_fb), or else from the 1- and 2-process runs; no
  overlap of communication with backward.
  With the global batch fixed (128 for mnist_mlp), N > 128 leaves processes idle: the projection
  for 256 keeps t_fb / 128 as the floor.
"""
import json
import statistics
import sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]

def rates(fw, procs, workload="mnist_mlp"):
    return [r["steps_per_s"] for r in rows if r.get("framework") == fw and r.get("processes") == procs
            and r.get("workload") == workload and "round" in r]

d1, d2 = rates("downhill", 1), rates("downhill-mpi", 2)
t1, t2 = rates("pytorch", 1), rates("pytorch-ddp-gloo", 2)
print("\nmnist_mlp steps/s per round:")
for name, v in [("downhill 1x1", d1), ("downhill 2x1 (MPI)", d2), ("pytorch 1x1", t1), ("pytorch DDP 2x1 (gloo)", t2)]:
    print(f"  {name:24s} " + "  ".join(f"{x:8.1f}" for x in v) + (f"   median {statistics.median(v):.1f}" if v else ""))
if d1 and d2:
    print(f"  downhill 2 ranks / 1 rank, per round: " + "  ".join(f"{b / a:.2f}x" for a, b in zip(d1, d2)))
if d2 and t2:
    print(f"  downhill 2 ranks / PyTorch DDP 2 ranks, per round: " + "  ".join(f"{a / b:.2f}x" for a, b in zip(d2, t2)))

sweep = [(r["allreduce_bytes"], r["seconds"]) for r in rows if "allreduce_bytes" in r]
if not sweep:
    sys.exit(0)
# Least squares T = a + B * c  (a = 2 alpha, c = 1 / beta at N = 2).
n = len(sweep)
mb = sum(b for b, _ in sweep) / n
mt = sum(t for _, t in sweep) / n
c = sum((b - mb) * (t - mt) for b, t in sweep) / sum((b - mb) ** 2 for b, _ in sweep)
a = mt - c * mb
alpha, beta = max(a / 2, 1e-7), 1 / c
print(f"\nallreduce on loopback, 2 processes: alpha = {alpha * 1e6:.1f} us, beta = {beta / 1e9:.2f} GB/s")
for b, t in sweep:
    print(f"  {b:>10d} bytes: {t * 1e6:10.1f} us measured, {(2 * alpha + b / beta) * 1e6:10.1f} us model")

grad = {r["workload"]: r for r in rows if "grad_bytes" in r}
m = grad.get("mnist_mlp")
share = [r["steps_per_s"] for r in rows if r.get("framework") == "downhill-rank-share"]
pair = [r["steps_per_s"] for r in rows if r.get("framework") == "downhill-2-independent"]
if m and d1 and d2:
    ts1, ts2 = 1 / statistics.median(d1), 1 / statistics.median(d2)
    ar2 = 2 * alpha + m["grad_bytes"] / beta
    if share:
        t64 = 1 / share[0]
        t_fb = 2 * (ts1 - t64)
        print(f"\nthe 2-rank ceiling: one process at a rank's share (batch 64) {share[0]:.1f} steps/s, so 2 ranks"
              f" reach at most {ts1 / t64:.2f}x without communication and {ts1 / (t64 + ar2):.2f}x with the"
              f" measured allreduce (the update is repeated on every rank)")
        if len(pair) == 2:
            print(f"two independent processes side by side: {pair[0]:.1f} + {pair[1]:.1f} steps/s"
                  f" ({sum(pair) / statistics.median(d1):.2f}x one process: the two cores are independent)")
    else:
        t_fb = max(2 * (ts1 - (ts2 - ar2)), 0.5 * ts1)
    t_opt = max(ts1 - t_fb, 0.0)
    print(f"\nmnist_mlp: step {ts1 * 1e3:.2f} ms on 1 process = forward/backward {t_fb * 1e3:.2f} ms + update {t_opt * 1e3:.2f} ms"
          f" (estimated); gradient {m['grad_bytes'] / 1e6:.2f} MB, allreduce {ar2 * 1e3:.2f} ms on loopback")
    workloads = {"mnist_mlp": (m["grad_bytes"], t_fb, t_opt, 128)}
    w = next((r for r in rows if r.get("workload") == "wide_mlp" and "steps_per_s" in r), None)
    if w:
        tw = 1 / w["steps_per_s"]
        share = t_opt / ts1  # the update's share as measured on mnist_mlp (same Adam loop)
        workloads["wide_mlp"] = (w["grad_bytes"], tw * (1 - share), tw * share, 512)
    print("\nprojected steps/s (alpha-beta model, assumptions above):")
    print(f"  {'workload':10s} {'N':>4s} " + " ".join(f"{g:>5d} Gbit/s" for g in (10, 25, 100)))
    for name, (B, fb, opt, gb) in workloads.items():
        for N in (1, 8, 64, 256):
            cells = []
            for gbit in (10, 25, 100):
                bw = gbit * 1e9 / 8
                al = max(alpha, 20e-6)
                t = fb / min(N, gb) + opt + (0 if N == 1 else 2 * (N - 1) * al + 2 * (N - 1) / N * B / bw)
                cells.append(f"{1 / t:12.1f}")
            print(f"  {name:10s} {N:>4d} " + " ".join(cells))
