"""Reads a TensorBoard log directory with the real `tensorboard` package and
prints what it found as JSON on standard output (one object per run).

Used by crates/downhill/tests/tensorboard_python.rs:
    python read_events.py LOGDIR
"""
import json
import sys

from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.backend.event_processing import event_multiplexer
from tensorboard.plugins.hparams import metadata as hp_metadata
from tensorboard.plugins.hparams import plugin_data_pb2
from google.protobuf import json_format


def run_summary(acc):
    tags = acc.Tags()
    scalars = {
        tag: [[e.step, e.wall_time, e.value] for e in acc.Scalars(tag)]
        for tag in tags["scalars"]
    }
    histograms = {}
    for tag in tags["histograms"]:
        histograms[tag] = [
            {
                "step": e.step,
                "min": e.histogram_value.min,
                "max": e.histogram_value.max,
                "num": e.histogram_value.num,
                "sum": e.histogram_value.sum,
                "bucket_total": sum(e.histogram_value.bucket),
            }
            for e in acc.Histograms(tag)
        ]
    hparams = {}
    try:
        content = acc.PluginTagToContent(hp_metadata.PLUGIN_NAME)
    except KeyError:
        content = {}
    for tag, raw in content.items():
        data = plugin_data_pb2.HParamsPluginData.FromString(raw)
        hparams[tag] = json_format.MessageToDict(data, preserving_proto_field_name=True)
    return {"scalars": scalars, "histograms": histograms, "hparams": hparams}


def main():
    logdir = sys.argv[1]
    size = {ea.SCALARS: 0, ea.HISTOGRAMS: 0, ea.TENSORS: 0}
    mux = event_multiplexer.EventMultiplexer(size_guidance=size)
    mux.AddRunsFromDirectory(logdir)
    mux.Reload()
    out = {run: run_summary(mux.GetAccumulator(run)) for run in sorted(mux.Runs())}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
