"""PyTorch's side of benches/adam.rs: Adam on 10 x 1M f32 parameters, 2 threads."""
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
torch.manual_seed(0)
params = [torch.randn(1_000_000, requires_grad=True) for _ in range(10)]
for p in params:
    p.grad = torch.randn(1_000_000) * 1e-3
for label, kw in [("foreach", dict(foreach=True)), ("fused", dict(fused=True)), ("single-tensor", dict(foreach=False))]:
    try:
        opt = torch.optim.Adam(params, lr=1e-3, **kw)
    except Exception as e:
        print(f"{label}: unavailable ({e})"); continue
    for _ in range(5): opt.step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 3.0:
        opt.step(); n += 1
    dt = (time.perf_counter() - t0) / n
    print(f"torch {torch.__version__} Adam {label}: {dt*1e3:.2f} ms/step, {28*10_000_000/dt/1e9:.1f} GB/s")
