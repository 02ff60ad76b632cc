"""Build the real-speech training set: fetch the Debian packages of REAL_SPEAKERS, unpack, mix LibriMix-style.

Usage: python scripts/real_speech_set.py WORK [--debs DIR] [--train N --valid N --test N --test-synth N]

Fetches the packages with `apt-get download` into --debs (default WORK/debs) unless they are there already (the
only step that needs the network: Debian's package mirror); everything after it is offline and deterministic.
Writes WORK/data/{train,valid,test,test_synth}/{mix,s1,s2}/, WORK/data/train_dynamic/ (the training speakers for
dynamic mixing, over WORK/corpus) and WORK/data/speaker_split.json (the split, the utterances per real speaker, each
package's licence).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from fqss_edge.data.external import require_tool, run_tool
from fqss_edge.data.real_speech import PACKAGES, build_real_speech_set
from fqss_edge.errors import FqssError


def fetch(debs: Path) -> None:
    missing = [p for p in PACKAGES if not list(debs.glob(f"{p}_*.deb"))]
    if missing:
        debs.mkdir(parents=True, exist_ok=True)
        apt = require_tool("apt-get", "apt")
        print(f"apt-get download {' '.join(missing)}")
        run_tool([apt, "download", *missing], timeout=1800, cwd=debs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("work", type=Path, help="work folder")
    ap.add_argument("--debs", type=Path, help="folder of the .deb files (default WORK/debs)")
    ap.add_argument("--train", type=int, default=8000, help="training mixtures")
    ap.add_argument("--valid", type=int, default=200, help="validation mixtures (real+real, held-out speakers)")
    ap.add_argument("--test", type=int, default=200, help="test mixtures (real held-out speakers)")
    ap.add_argument("--test-synth", type=int, default=100, help="test mixtures (held-out synthesized speakers)")
    ap.add_argument("--synth-speakers", type=int, default=16, help="synthesized voices added (>= 8)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    debs = args.debs or args.work / "debs"
    try:
        fetch(debs)
        data = build_real_speech_set(args.work, debs, {"train": args.train, "valid": args.valid, "test": args.test,
                                                       "test_synth": args.test_synth},
                                     seed=args.seed, synth_speakers=args.synth_speakers)
    except FqssError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{data} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
