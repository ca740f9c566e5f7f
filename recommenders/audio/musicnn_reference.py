"""The reference that `musicnn.convert` is checked against: the author's own TF1 inference graph, taken from the
wheel's `.meta` file and run through tf.compat.v1 with the checkpoint's values.

The shipped meta graph also holds the training graph, whose gradient nodes no longer import in current
TensorFlow; only the subgraph that computes the three outputs is kept, its variables replaced by constants read
from the checkpoint (every one of them must be found). Nothing here is our own rebuild of the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recommenders.audio.musicnn import wheel_dir

OUTPUTS = ("model/Sigmoid", "model/batch_normalization_10/batchnorm/add_1", "model/Flatten/flatten/Reshape")
INPUT = "model/Placeholder"


def reference_outputs(name: str, x: np.ndarray, source: Path | None = None) -> list[np.ndarray]:
    """[tags, penultimate, pooled] of upstream's graph for patches `x` (n, 187, 96), in inference mode."""
    # lazy: TensorFlow takes seconds to import; only the conversion check runs the TF1 graph
    import tensorflow as tf
    from tensorflow.core.framework import graph_pb2
    from tensorflow.core.protobuf import meta_graph_pb2

    folder = (source or wheel_dir()) / name
    meta = meta_graph_pb2.MetaGraphDef()
    meta.ParseFromString((folder / ".meta").read_bytes())
    sub = tf.compat.v1.graph_util.extract_sub_graph(meta.graph_def, list(OUTPUTS))
    reader = tf.compat.v1.train.NewCheckpointReader(str(folder) + "/")
    frozen = graph_pb2.GraphDef()
    for node in sub.node:
        new = frozen.node.add()
        new.CopyFrom(node)
        new.attr.pop("_output_shapes", None)  # stale shapes recorded by TF 1.x trip today's importer
        if node.op in ("VariableV2", "Variable"):
            value = reader.get_tensor(node.name)  # raises when the checkpoint lacks it
            new.op = "Const"
            new.ClearField("attr")
            new.attr["dtype"].type = tf.float32.as_datatype_enum
            new.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(frozen, name="")
        feeds: dict[str, Any] = {f"{INPUT}:0": np.asarray(x, np.float32)}
        for node in frozen.node:  # the is_training placeholder(s)
            if node.op == "Placeholder" and node.name != INPUT:
                feeds[f"{node.name}:0"] = False
        with tf.compat.v1.Session(graph=graph) as session:
            return list(session.run([f"{o}:0" for o in OUTPUTS], feeds))
