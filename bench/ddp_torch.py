"""PyTorch DDP (Gloo) side of bench/ddp.sh: mnist_mlp (784-512-256-10, Adam lr 1e-3)
on a synthetic set, global batch 128 split over the processes, one thread each.

Run: torchrun --nproc-per-node 2 bench/ddp_torch.py [WORKLOAD] [SECONDS]
     python bench/ddp_torch.py            (one process, no DDP)
Prints one JSON line from rank 0, like examples/ddp_bench.rs.
"""
import json
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn

torch.set_num_threads(1)
workload = sys.argv[1] if len(sys.argv) > 1 else "mnist_mlp"
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
sizes, batch = ([1024, 4096, 4096, 10], 512) if workload == "wide_mlp" else ([784, 512, 256, 10], 128)

world = int(os.environ.get("WORLD_SIZE", "1"))
rank = int(os.environ.get("RANK", "0"))
if world > 1:
    dist.init_process_group("gloo")
torch.manual_seed(0)
layers = []
for i in range(len(sizes) - 1):
    layers.append(nn.Linear(sizes[i], sizes[i + 1]))
    if i + 2 < len(sizes):
        layers.append(nn.ReLU())
model = nn.Sequential(*layers)
if world > 1:
    model = nn.parallel.DistributedDataParallel(model)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()

def make_data(steps):
    n = batch * steps
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, sizes[0], generator=g), torch.randint(0, sizes[-1], (n,), generator=g)

def epoch(x, y, steps, seed):
    # DistributedSampler-like: one permutation from the shared seed, each rank its slice of every batch.
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    for s in range(steps):
        b = perm[s * batch:(s + 1) * batch]
        lo, hi = len(b) * rank // world, len(b) * (rank + 1) // world
        idx = b[lo:hi]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()

def rate(steps):
    x, y = make_data(steps)
    epoch(x, y, min(steps, 20), 1)  # warm-up
    if world > 1:
        dist.barrier()
    t0 = time.perf_counter()
    epoch(x, y, steps, 2)
    if world > 1:
        dist.barrier()
    return steps / (time.perf_counter() - t0)

probe = rate(10)
steps = max(10, min(2000, int(probe * seconds)))
if world > 1:
    # Rank 0's count for everyone: the ranks' probes differ, and a rank that
    # runs fewer steps leaves the others waiting in an allreduce forever.
    count = torch.tensor([steps])
    dist.broadcast(count, 0)
    steps = int(count.item())
r = rate(steps)
if rank == 0:
    print(json.dumps({"workload": workload, "framework": "pytorch-ddp-gloo" if world > 1 else "pytorch",
                      "processes": world, "threads": 1, "batch": batch, "steps_per_s": round(r, 2)}))
if world > 1:
    dist.destroy_process_group()
