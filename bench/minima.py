"""Escaping local minima: success rates of `downhill minimize --restarts` and
`--basin-hopping` against `scipy.optimize.basinhopping` (L-BFGS-B local
minimizer) under the same budget of function+gradient evaluations.

    /work/venv/bin/python bench/minima.py [path/to/downhill] [--seeds 20] [--budget 2000]

A seed succeeds when the best f found within the budget is within 1e-4 of
the global minimum. Each seed draws the start (scipy, downhill basin
hopping) uniformly from the function's box; downhill's multistart draws its
starts from the same box with that seed. Not a timed benchmark.
"""
import argparse
import math
import subprocess

import numpy as np
from scipy.optimize import basinhopping

PI = math.pi

FUNCTIONS = {
    "Himmelblau": dict(
        expr="(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
        box=((-5, 5), (-5, 5)),
        fmin=0.0,
        f=lambda x, y: (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2,
        g=lambda x, y: (4 * x * (x * x + y - 11) + 2 * (x + y * y - 7),
                        2 * (x * x + y - 11) + 4 * y * (x + y * y - 7)),
    ),
    "six-hump camel": dict(
        expr="(4 - 2.1*x^2 + x^4/3)*x^2 + x*y + (-4 + 4*y^2)*y^2",
        box=((-3, 3), (-2, 2)),
        fmin=-1.031628453489877,
        f=lambda x, y: (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2,
        g=lambda x, y: (8 * x - 8.4 * x**3 + 2 * x**5 + y, x - 8 * y + 16 * y**3),
    ),
    "Rastrigin 2-D": dict(
        expr="20 + x^2 - 10*cos(2*pi*x) + y^2 - 10*cos(2*pi*y)",
        box=((-5.12, 5.12), (-5.12, 5.12)),
        fmin=0.0,
        f=lambda x, y: 20 + x * x - 10 * math.cos(2 * PI * x) + y * y - 10 * math.cos(2 * PI * y),
        g=lambda x, y: (2 * x + 20 * PI * math.sin(2 * PI * x), 2 * y + 20 * PI * math.sin(2 * PI * y)),
    ),
    "Ackley 2-D": dict(
        expr="-20*exp(-0.2*sqrt(0.5*(x^2 + y^2))) - exp(0.5*(cos(2*pi*x) + cos(2*pi*y))) + e + 20",
        box=((-5, 5), (-5, 5)),
        fmin=0.0,
    ),
}


def ackley(v):
    x, y = v
    r = math.sqrt(0.5 * (x * x + y * y))
    a = math.exp(-0.2 * r)
    c = math.exp(0.5 * (math.cos(2 * PI * x) + math.cos(2 * PI * y)))
    f = -20 * a - c + math.e + 20
    if r == 0:
        gr = (0.0, 0.0)
    else:
        gr = (20 * a * 0.2 * 0.5 * x / r, 20 * a * 0.2 * 0.5 * y / r)
    gc = (c * 0.5 * 2 * PI * math.sin(2 * PI * x), c * 0.5 * 2 * PI * math.sin(2 * PI * y))
    return f, np.array([gr[0] + gc[0], gr[1] + gc[1]])


class Budget(Exception):
    pass


def scipy_run(spec, x0, seed, budget):
    """Best f of basinhopping within `budget` evaluations of f and gradient."""
    state = {"n": 0, "best": math.inf}

    def fg(v):
        if state["n"] >= budget:
            raise Budget
        state["n"] += 1
        if "f" in spec:
            f, g = spec["f"](*v), np.array(spec["g"](*v))
        else:
            f, g = ackley(v)
        state["best"] = min(state["best"], f)
        return f, g

    try:
        basinhopping(fg, x0, niter=100000, minimizer_kwargs={"method": "L-BFGS-B", "jac": True},
                     rng=np.random.default_rng(seed))
    except Budget:
        pass
    return state["best"], state["n"]


def downhill_run(exe, spec, x0, seed, budget, mode):
    box = spec["box"]
    # One L-BFGS step of up to 100 iterations is one local minimization, as
    # one scipy L-BFGS-B call is: it stops on its own tolerances, and no
    # evaluation is spent on further steps from a converged point.
    common = [exe, "minimize", spec["expr"], "--optimizer", "LBFGS", "--lr", "1",
              "--opt", "line_search_fn=strong_wolfe", "--opt", "max_iter=100",
              "--steps", "1", "--tol", "1e-10",
              "--max-evals", str(budget), "--seed", str(seed), "--quiet"]
    if mode == "restarts":
        args = common + ["--restarts", "100000",
                         "--bounds", f"x={box[0][0]}:{box[0][1]},y={box[1][0]}:{box[1][1]}"]
    else:
        args = common + ["--basin-hopping", "100000", "--init", f"x={float(x0[0])!r},y={float(x0[1])!r}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    last = out.strip().splitlines()[-1]
    # best: f = V at x = .., y = .. (N evaluations of f and its gradient)
    f = float(last.split("f = ")[1].split(" at ")[0])
    n = int(last.rsplit("(", 1)[1].split(" ")[0])
    return f, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exe", nargs="?", default="target/release/downhill")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budget", type=int, default=2000)
    a = ap.parse_args()
    rows = []
    for name, spec in FUNCTIONS.items():
        wins = {"scipy basinhopping (L-BFGS-B)": 0, "downhill --restarts": 0, "downhill --basin-hopping": 0}
        evals = {k: 0 for k in wins}
        for seed in range(a.seeds):
            rng = np.random.default_rng(1000 + seed)
            x0 = np.array([rng.uniform(*spec["box"][0]), rng.uniform(*spec["box"][1])])
            results = {
                "scipy basinhopping (L-BFGS-B)": scipy_run(spec, x0.copy(), seed, a.budget),
                "downhill --restarts": downhill_run(a.exe, spec, x0, seed, a.budget, "restarts"),
                "downhill --basin-hopping": downhill_run(a.exe, spec, x0, seed, a.budget, "hopping"),
            }
            for k, (f, n) in results.items():
                wins[k] += f - spec["fmin"] < 1e-4
                evals[k] += n
        rows.append((name, wins, evals))
        print(name, {k: f"{v}/{a.seeds}" for k, v in wins.items()}, flush=True)
    methods = list(rows[0][1])
    print(f"\nbudget {a.budget} evaluations of f+gradient per seed, {a.seeds} seeds; success = best f within 1e-4 of the global minimum\n")
    print("| function | " + " | ".join(methods) + " |")
    print("|---|" + "---|" * len(methods))
    for name, wins, evals in rows:
        cells = [f"{wins[m]}/{a.seeds} ({evals[m] / a.seeds:.0f} evals)" for m in methods]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
