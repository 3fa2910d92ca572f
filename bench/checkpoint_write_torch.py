"""PyTorch's side of bench/checkpoint_write.sh: a 64 -> H -> H -> 10 MLP
(ReLU) with Adam after one step on a random batch of 32 (moments
allocated), `torch.save` of the model and optimizer state to the same file
three times, as examples/checkpoint_write.rs does for downhill.

Prints one line: H, file size (bytes), best time of the three (s).

    python bench/checkpoint_write_torch.py H OUT_DIR
"""
import os
import sys
import time

import torch

H = int(sys.argv[1])
out = sys.argv[2]
torch.manual_seed(0)
torch.set_num_threads(int(os.environ.get("THREADS", "2")))
model = torch.nn.Sequential(
    torch.nn.Linear(64, H), torch.nn.ReLU(),
    torch.nn.Linear(H, H), torch.nn.ReLU(),
    torch.nn.Linear(H, 10),
)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.randn(32, 64)
y = torch.arange(32) % 10
torch.nn.functional.cross_entropy(model(x), y).backward()
opt.step()
path = os.path.join(out, f"torch-{H}.pt")
best = float("inf")
for _ in range(3):
    t0 = time.perf_counter()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, path)
    best = min(best, time.perf_counter() - t0)
print(H, os.path.getsize(path), best)
