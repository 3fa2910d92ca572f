"""Cuts an event file at every byte and reads each cut with TensorBoard's own
record reader; prints, per cut length, how many records it returned (JSON).

Used by crates/downhill/tests/tensorboard_python.rs:
    python truncated.py EVENT_FILE SCRATCH_DIR
"""
import json
import os
import sys

from tensorboard.backend.event_processing import event_file_loader


def main():
    path, scratch = sys.argv[1], sys.argv[2]
    data = open(path, "rb").read()
    cut_path = os.path.join(scratch, "events.out.tfevents.cut")
    counts = []
    for n in range(len(data) + 1):
        with open(cut_path, "wb") as f:
            f.write(data[:n])
        loader = event_file_loader.RawEventFileLoader(cut_path)
        counts.append(sum(1 for _ in loader.Load()))
    json.dump(counts, sys.stdout)


if __name__ == "__main__":
    main()
