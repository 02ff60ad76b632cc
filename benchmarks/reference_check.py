"""The integer reference vs LiteRT BUILTIN_REF on every tensor of an exported .tflite, on the first N test mixtures
(cut to a multiple of 160 samples, the tiny Sepformer's length rule):

    python benchmarks/reference_check.py MODEL.tflite DATA_DIR N
"""
import sys
from pathlib import Path
import numpy as np
import soundfile as sf
sys.path.insert(0, "tests/models")
from litert_ref import reference_equals_litert_ref  # asserts equality of every tensor both hold, and the output
tfl, data, n_mix = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
for wav in sorted((data / "mix").glob("*.wav"))[:n_mix]:
    pcm, _ = sf.read(wav, dtype="int16")
    pcm = pcm[: len(pcm) // 160 * 160].reshape(1, -1)
    compared, ops = reference_equals_litert_ref(tfl.read_bytes(), pcm)
    print(f"{wav.name}: {pcm.shape[1]} samples, {len(compared)} tensors equal, operators {sorted(ops)}")
