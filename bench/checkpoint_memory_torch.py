"""PyTorch's side of bench/checkpoint_memory.sh: the same model as
`downhill train --data digits --hidden H,H` (64 -> H -> H -> 10, ReLU, Adam
lr 1e-3, batch 32, 70% of the rows for training), one epoch, then
`torch.save` of the model and optimizer state.

Prints one line: H, RSS growth (peak RSS minus the RSS after importing torch
and loading the data, MiB), file size (bytes), best torch.save time of 3 (s).

    python bench/checkpoint_memory_torch.py H OUT_DIR
"""
import os
import resource
import sys
import time

import numpy as np
import torch

H = int(sys.argv[1])
out = sys.argv[2]
torch.manual_seed(0)
torch.set_num_threads(int(os.environ.get("THREADS", "2")))
root = os.path.join(os.path.dirname(__file__), "..")
raw = np.loadtxt(os.path.join(root, "data", "digits.csv"), delimiter=",", skiprows=1)
x = torch.tensor(raw[:, :64], dtype=torch.float32)
x = (x - x.mean(0)) / (x.std(0) + 1e-8)
y = torch.tensor(raw[:, 64], dtype=torch.long)
n_train = int(len(y) * 0.7)


def rss_now_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


base = rss_now_kib()
model = torch.nn.Sequential(
    torch.nn.Linear(64, H), torch.nn.ReLU(),
    torch.nn.Linear(H, H), torch.nn.ReLU(),
    torch.nn.Linear(H, 10),
)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()
perm = torch.randperm(n_train)
for i in range(0, n_train, 32):
    idx = perm[i:i + 32]
    opt.zero_grad()
    loss_fn(model(x[idx]), y[idx]).backward()
    opt.step()
path = os.path.join(out, f"torch-{H}.pt")
best = float("inf")
for _ in range(3):
    t0 = time.perf_counter()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, path)
    best = min(best, time.perf_counter() - t0)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
print(H, (peak - base) / 1024, os.path.getsize(path), best)
