#!/usr/bin/env bash
# Resident memory over a million training steps (issue 18's "memory stays
# flat"): `examples/memory_flat` runs the scalar_2x2 step and the
# tiny_mlp_digits step STEPS times each (default 1,000,000; one thread) and
# prints the resident size after 10^3, 10^4, ... steps; this script prints
# them as a table and the change from the 10^4-step reading to the last.
#
#   bench/memory_flat.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="${1:-1000000}"
cargo build --release -p downhill --example memory_flat >/dev/null 2>&1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
RAYON_NUM_THREADS=1 ./target/release/examples/memory_flat "$STEPS" >"$out"
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| workload | steps | RSS (MiB) | seconds |")
print("|---|---|---|---|")
for r in rows:
    rss = "n/a" if r["rss_kib"] is None else "%.1f" % (r["rss_kib"] / 1024)
    print("| %s | %s | %s | %s |" % (r["workload"], format(r["steps"], ","), rss, r["seconds"]))
for w in dict.fromkeys(r["workload"] for r in rows):
    rs = [r for r in rows if r["workload"] == w and r["rss_kib"] is not None]
    base = next((r for r in rs if r["steps"] >= 10_000), None)
    if base and rs[-1] is not base:
        grow = rs[-1]["rss_kib"] - base["rss_kib"]
        print("%s: %+d KiB from %s to %s steps"
              % (w, grow, format(base["steps"], ","), format(rs[-1]["steps"], ",")))
PY
