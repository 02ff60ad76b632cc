"""``fqss-edge separate``: separate audio files of any length, sample rate and channel count with any exported
model (.tflite, .onnx, checkpoints), in constant memory, with atomic outputs.

    from fqss_edge.runtimes import open_backend
    from fqss_edge.separate import SeparateOptions, separate_file

    outputs = separate_file("talk.wav", open_backend("model.tflite"), "out/", SeparateOptions(chunk_seconds=4))
    # {"s1": Path("out/talk_s1.wav"), "s2": Path("out/talk_s2.wav")}

The chunking is ``fqss_edge.runtimes.streaming.StreamingSeparator`` (the same code an app streams with).
"""

from fqss_edge.separate.naming import output_paths
from fqss_edge.separate.pipeline import (SeparateOptions, separate_file, separate_files,
                                         total_frames)
from fqss_edge.separate.reader import AudioInfo, probe

__all__ = ["AudioInfo", "SeparateOptions", "output_paths", "probe", "separate_file", "separate_files",
           "total_frames"]
