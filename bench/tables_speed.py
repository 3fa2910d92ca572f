"""Reading, typing and encoding a 1,000,000-row table: downhill vs pandas, same run, alternating.

    cargo build --release -p downhill-cli && cargo build --release -p downhill --example table_load
    (DOWNHILL_BIN_DIR=target/debug to use binaries of another profile)
    /work/venv/bin/python bench/tables_speed.py [ROWS] [ROUNDS]     (defaults 1000000, 3)

Generates (once, in /tmp) a CSV with 20 numeric and 5 text columns (2% of the numeric and 1% of
the text cells missing) and a text target, and its Parquet copy (pyarrow, snappy). Then, in each
round and alternately: `downhill inspect FILE --target y`; the load+encode step of `downhill train`
(`examples/table_load`: read, infer kinds, split, fit the schema, build the f32 datasets);
pandas.read_csv (or read_parquet) + pandas.get_dummies(dummy_na=True) + to float32 numpy. Wall
time (best and median of the rounds) and peak resident memory (/usr/bin/time) of each process; the ratio
pandas / downhill. The encoded f32 matrix size is printed for the memory goal (peak <= 2x it).
"""
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

import numpy as np
import pandas as pd

from tables_data import mixed_table

root = pathlib.Path(__file__).resolve().parents[1]
rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
csv = pathlib.Path(f"/tmp/downhill-bench-{rows}.csv")
pq = csv.with_suffix(".parquet")

if not csv.exists():
    g = np.random.default_rng(0)
    df = mixed_table(rows, g)
    df.to_csv(csv, index=False)
    df.to_parquet(pq, index=False)

PANDAS = """
import sys, time, numpy as np, pandas as pd
t = time.perf_counter()
df = pd.read_parquet(sys.argv[1]) if sys.argv[1].endswith('.parquet') else pd.read_csv(sys.argv[1])
y = df.pop('y')
x = pd.get_dummies(df, dummy_na=True).to_numpy(dtype=np.float32)
print(time.perf_counter() - t, x.shape[1])
"""


def timed(cmd):
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    kb = int(p.stderr.strip().splitlines()[-1])
    return wall, kb / 1024, p.stdout


bins = pathlib.Path(os.environ.get("DOWNHILL_BIN_DIR", root / "target/release"))
dh = str(bins / "downhill")
load = str(bins / "examples/table_load")
py = sys.executable
best = {}
walls = {}
width = None
for r in range(rounds):
    for fmt, path in [("csv", csv), ("parquet", pq)]:
        for name, cmd in [
            ("downhill inspect", [dh, "inspect", str(path), "--target", "y"]),
            ("downhill load+encode", [load, str(path), "y"]),
            ("pandas read+get_dummies", [py, "-c", PANDAS, str(path)]),
        ]:
            wall, mb, out = timed(cmd)
            if name == "downhill load+encode":
                width = json.loads(out)["inputs"]
            key = (fmt, name)
            b = best.get(key)
            best[key] = (min(wall, b[0]) if b else wall, max(mb, b[1]) if b else mb)
            walls.setdefault(key, []).append(wall)
    print(f"round {r + 1}/{rounds} done", file=sys.stderr)

f32_mb = rows * width * 4 / 2**20
print(f"{rows} rows, 25 feature columns -> {width} encoded inputs; encoded f32 matrix {f32_mb:.0f} MB; "
      f"CSV {csv.stat().st_size / 2**20:.0f} MB, Parquet {pq.stat().st_size / 2**20:.0f} MB; best of {rounds} rounds")
print("| file | step | best s | median s | peak RSS MB | pandas / this (best; median) |")
print("|---|---|---|---|---|---|")
for fmt in ["csv", "parquet"]:
    pd_t = best[(fmt, "pandas read+get_dummies")][0]
    pd_m = statistics.median(walls[(fmt, "pandas read+get_dummies")])
    for name in ["downhill inspect", "downhill load+encode", "pandas read+get_dummies"]:
        t, mb = best[(fmt, name)]
        m = statistics.median(walls[(fmt, name)])
        print(f"| {fmt} | {name} | {t:.2f} | {m:.2f} | {mb:.0f} | {pd_t / t:.2f}; {pd_m / m:.2f} |")
