"""Write REAL event files with tensorboard's own writer, for tests that need a layout of their own.

The framing and protos are the ones TensorFlow and PyTorch's SummaryWriter produce; fixtures
written by PyTorch itself live in tests/fixtures/ with the script that generated them.
"""

from __future__ import annotations

from pathlib import Path


def write_run(
    logdir: Path,
    scalars: dict[str, list[tuple[int, float]]],
    *,
    tensor_encoded: bool = False,
    filename_suffix: str = "",
) -> Path:
    """Write ``{tag: [(step, value), ...]}`` to one event file in ``logdir``; return the file."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.types_pb2 import DT_FLOAT
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    logdir.mkdir(parents=True, exist_ok=True)
    writer = EventFileWriter(str(logdir), filename_suffix=filename_suffix)
    events = sorted((step, tag, value) for tag, points in scalars.items() for step, value in points)
    for step, tag, value in events:
        if tensor_encoded:
            meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
            summary_value = Summary.Value(tag=tag, tensor=TensorProto(dtype=DT_FLOAT, float_val=[value]), metadata=meta)
        else:
            summary_value = Summary.Value(tag=tag, simple_value=value)
        writer.add_event(Event(wall_time=1_700_000_000.0 + step, step=step, summary=Summary(value=[summary_value])))
    writer.close()
    written = [p for p in logdir.iterdir() if "tfevents" in p.name]
    return max(written, key=lambda p: p.stat().st_mtime_ns)


def decaying(n: int, start: float = 2.0, rate: float = 0.01, step_every: int = 1) -> list[tuple[int, float]]:
    import math

    return [(i * step_every, start * math.exp(-rate * i) + 0.1) for i in range(n)]
