"""`fqss-edge separate`'s output and the streaming API on an exported .tflite, on the first test mixture: the
separated files' SI-SDRi (PIT), and StreamingSeparator fed in 97-sample pushes against one push:

    fqss-edge separate DATA_DIR/mix/FIRST.wav --model MODEL.tflite -o SEP_DIR
    python benchmarks/separate_stream_check.py MODEL.tflite DATA_DIR SEP_DIR
"""
import sys
from pathlib import Path
import numpy as np
import soundfile as sf
import torch
from fqss_edge.metrics import pit_si_sdr, reorder, si_sdri
from fqss_edge.runtimes import open_backend
from fqss_edge.runtimes.streaming import StreamingSeparator
tfl, data, sep = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
wav = sorted((data / "mix").glob("*.wav"))[0]
mix, sr = sf.read(wav, dtype="float32")
refs = np.stack([sf.read(data / s / wav.name, dtype="float32")[0] for s in ("s1", "s2")])
ests = np.stack([sf.read(sep / f"{wav.stem}_s{i}.wav", dtype="float32")[0] for i in (1, 2)])
t = lambda a: torch.from_numpy(np.ascontiguousarray(a))[None]
def improvement(est):
    e, r = t(est.astype(np.float32)), t(refs)
    return float(si_sdri(reorder(e, pit_si_sdr(e, r)[1]), r, t(mix)).mean())
print(f"separate: {wav.name} {len(mix)} samples, SI-SDRi {improvement(ests):.2f} dB")
be = open_backend(tfl, kernels="builtin")
whole_sep = StreamingSeparator(be, chunk_seconds=1.0, overlap_seconds=0.1)
whole = np.concatenate([whole_sep.push(mix), whole_sep.flush()], axis=1)
online = StreamingSeparator(be, chunk_seconds=1.0, overlap_seconds=0.1)
parts = [online.push(mix[i:i + 97]) for i in range(0, len(mix), 97)] + [online.flush()]
pushed = np.concatenate(parts, axis=1)
print(f"streaming: output {whole.shape}, 97-sample pushes equal to one push: {np.array_equal(pushed, whole)}, "
      f"SI-SDRi {improvement(whole):.2f} dB")
