"""PyTorch side of the side-by-side benchmark (`bench/compare.sh`, `bench/scaling.sh`).

A copy of ../shared/bench/torch_workloads.py (kept there as it is) with two additions:
`resnet_block` (a ResNet basic block: two 3x3 convolutions of 64 channels with BatchNorm and
ReLU and the residual sum, on a batch of 32 images of 32x32, then global average pooling and a
64 -> 10 head), and sweep points `mlp:784-512-256-10:128` (that MLP at that batch size, about a
second each). The same workloads, warm-up and timing as `examples/workloads.rs`.

    python3 bench/torch_workloads.py [THREADS] [WORKLOAD...]     (with names, only those run)

Prints one JSON line per workload: steps/s and samples/s of fwd+bwd+optimizer step.
"""
import json, sys, time, torch
torch.manual_seed(0)
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads())
only = sys.argv[2:]

def want(name):
    return not only or name in only

def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)

def timed(step, warmup, seconds):
    for _ in range(warmup): step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step(); n += 1
    return n / (time.perf_counter() - t0)

def train_bench(name, sizes, batch, opt="adam", seconds=3.0):
    model = mlp(sizes)
    x = torch.randn(batch, sizes[0]); y = torch.randint(0, sizes[-1], (batch,))
    o = torch.optim.Adam(model.parameters(), lr=1e-3) if opt == "adam" else torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    lossf = torch.nn.CrossEntropyLoss()
    def step():
        o.zero_grad(set_to_none=True)
        loss = lossf(model(x), y); loss.backward(); o.step()
    rate = timed(step, 3 if seconds < 2.0 else 20, seconds)
    flops = 6 * batch * sum(sizes[i] * sizes[i + 1] for i in range(len(sizes) - 1))
    print(json.dumps({"workload": name, "sizes": sizes, "batch": batch, "opt": opt,
                      "steps_per_s": rate, "samples_per_s": rate * batch, "gflops": flops * rate / 1e9}), flush=True)

def scalar_bench(seconds=2.0):
    x = torch.tensor(1.0, requires_grad=True); o = torch.optim.SGD([x], lr=0.1)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        o.zero_grad(); (2 * x ** 2).backward(); o.step(); n += 1
    print(json.dumps({"workload": "scalar_2x2", "steps_per_s": n / (time.perf_counter() - t0)}), flush=True)

def gemm_bench(n=2048, seconds=3.0):
    a = torch.randn(n, n); b = torch.randn(n, n)
    for _ in range(3): a @ b
    k, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b; k += 1
    print(json.dumps({"workload": f"sgemm_{n}", "gflops": 2 * n ** 3 * k / (time.perf_counter() - t0) / 1e9}), flush=True)

def lenet_bench(batch=64, seconds=3.0):
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    x = torch.randn(batch, 1, 28, 28); y = torch.randint(0, 10, (batch,))
    o = torch.optim.Adam(model.parameters(), lr=1e-3); lossf = nn.CrossEntropyLoss()
    def step():
        o.zero_grad(set_to_none=True); lossf(model(x), y).backward(); o.step()
    rate = timed(step, 10, seconds)
    print(json.dumps({"workload": "lenet_cnn", "batch": batch, "opt": "adam", "steps_per_s": rate, "samples_per_s": rate * batch}), flush=True)

class ResidualBlock(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False); self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False); self.bn2 = nn.BatchNorm2d(c)
        self.head = nn.Linear(c, 10)

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        h = torch.relu(self.bn2(self.conv2(h)) + x)
        return self.head(h.mean(dim=(2, 3)))

def resnet_block_bench(batch=32, c=64, side=32, seconds=5.0):
    model = ResidualBlock(c)
    x = torch.randn(batch, c, side, side); y = torch.randint(0, 10, (batch,))
    o = torch.optim.Adam(model.parameters(), lr=1e-3); lossf = torch.nn.CrossEntropyLoss()
    def step():
        o.zero_grad(set_to_none=True); lossf(model(x), y).backward(); o.step()
    rate = timed(step, 3, seconds)
    flops = 2 * 3 * 2 * batch * side * side * c * c * 9
    print(json.dumps({"workload": "resnet_block", "batch": batch, "opt": "adam", "steps_per_s": rate,
                      "samples_per_s": rate * batch, "gflops": flops * rate / 1e9}), flush=True)

for name in only:
    if name.startswith("mlp:"):
        sizes, batch = name[4:].split(":")
        train_bench("mlp", [int(s) for s in sizes.split("-")], int(batch), seconds=1.0)
if not only or not all(o.startswith("mlp:") for o in only):
    if want("sgemm_2048"): gemm_bench()
    if want("scalar_2x2"): scalar_bench()
    if want("tiny_mlp_digits"): train_bench("tiny_mlp_digits", [64, 32, 10], 32)
    if want("mnist_mlp"): train_bench("mnist_mlp", [784, 512, 256, 10], 128)
    if want("wide_mlp"): train_bench("wide_mlp", [1024, 4096, 4096, 10], 512, seconds=6.0)
    if want("lenet_cnn"): lenet_bench()
    if want("resnet_block"): resnet_block_bench()
