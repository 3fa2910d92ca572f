"""Training speed on an encoded table vs an equally wide numeric table, same run.

    cargo build --release -p downhill-cli
    /work/venv/bin/python bench/tables_train_speed.py [ROWS] [ROUNDS]     (defaults 200000, 3)

Generates (once, in /tmp) two CSVs with ROWS rows and a yes/no target:
  - mixed: 20 numeric columns (2% missing) and 5 text columns of 3-20 categories (1% missing),
    which the schema encodes into 93 inputs (20 numbers, 20 missing indicators, 53 one-hot);
  - numeric: 93 numeric columns, no missing cell: 93 inputs, nothing to encode.
Then trains the same MLP on each, alternately, ROUNDS times (`--epochs 2 --hidden 64,64
--batch-size 64`), and reads steps/s from the run's history.csv (steps / seconds at the last
epoch; the clock starts when training starts, after loading and encoding). Prints the best
steps/s of each and their ratio.
"""
import csv
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd

from tables_data import mixed_table

root = pathlib.Path(__file__).resolve().parents[1]
rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
bins = pathlib.Path(os.environ.get("DOWNHILL_BIN_DIR", root / "target/release"))
dh = str(bins / "downhill")

mixed = pathlib.Path(f"/tmp/downhill-train-mixed-{rows}.csv")
numeric = pathlib.Path(f"/tmp/downhill-train-numeric-{rows}.csv")
if not mixed.exists() or not numeric.exists():
    g = np.random.default_rng(0)
    df = mixed_table(rows, g)
    df.to_csv(mixed, index=False)
    n = pd.DataFrame({f"x{i}": g.normal(size=rows).round(6) for i in range(93)})
    n["y"] = np.where(n["x0"] + g.normal(size=rows) > 0, "yes", "no")
    n.to_csv(numeric, index=False)


def steps_per_second(path):
    with tempfile.TemporaryDirectory() as tmp:
        out = str(pathlib.Path(tmp, "run"))
        cmd = [dh, "train", "--data", str(path), "--target", "y", "--epochs", "2",
               "--hidden", "64,64", "--batch-size", "64", "--out", out, "--quiet"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{p.stderr}")
        with open(pathlib.Path(out, "history.csv")) as f:
            last = list(csv.DictReader(f))[-1]
        return int(last["step"]) / float(last["seconds"])


best = {}
for r in range(rounds):
    for name, path in [("encoded (20 numeric + 5 text columns)", mixed), ("numeric (93 columns)", numeric)]:
        sps = steps_per_second(path)
        print(f"round {r + 1}: {name}: {sps:,.0f} steps/s", flush=True)
        best[name] = max(sps, best.get(name, 0.0))

print()
print("| table | best steps/s |")
print("|---|---|")
for name, sps in best.items():
    print(f"| {name} | {sps:,.0f} |")
(a, b) = best.values()
print(f"\nencoded / numeric: {a / b:.3f}")
