"""Asks TensorBoard's HParams plugin (the code behind the HParams tab) what it
makes of a log directory: the experiment (columns) and the session groups
(rows), sorted by a metric, as JSON on standard output.

Used by crates/downhill/tests/tensorboard_python.rs:
    python hparams_plugin.py LOGDIR SORT_TAG
"""
import json
import sys

from google.protobuf import json_format
from tensorboard import context
from tensorboard.backend.event_processing import data_provider
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import backend_context
from tensorboard.plugins.hparams import get_experiment
from tensorboard.plugins.hparams import list_session_groups


def main():
    logdir, sort_tag = sys.argv[1], sys.argv[2]
    mux = plugin_event_multiplexer.EventMultiplexer()
    mux.AddRunsFromDirectory(logdir)
    mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, logdir)
    tb = base_plugin.TBContext(logdir=logdir, multiplexer=mux, data_provider=provider)
    backend = backend_context.Context(tb)
    ctx = context.RequestContext()
    experiment = get_experiment.Handler(ctx, backend, "", api_pb2.GetExperimentRequest()).run()
    request = api_pb2.ListSessionGroupsRequest(
        allowed_statuses=[
            api_pb2.STATUS_UNKNOWN,
            api_pb2.STATUS_SUCCESS,
            api_pb2.STATUS_FAILURE,
            api_pb2.STATUS_RUNNING,
        ],
        col_params=[
            api_pb2.ColParams(
                metric=api_pb2.MetricName(group="", tag=sort_tag),
                order=api_pb2.ORDER_DESC,
            )
        ],
        start_index=0,
        slice_size=100,
    )
    groups = list_session_groups.Handler(ctx, backend, "", request).run()
    as_dict = lambda m: json_format.MessageToDict(m, preserving_proto_field_name=True)
    json.dump({"experiment": as_dict(experiment), "session_groups": as_dict(groups)}, sys.stdout)


if __name__ == "__main__":
    main()
