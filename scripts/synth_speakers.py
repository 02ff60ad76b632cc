"""Generate a small offline speech corpus with espeak-ng and flite: OUT/<speaker_id>/<utt>.wav (8 kHz mono).

Usage: python scripts/synth_speakers.py OUT --speakers 16 --utterances 20 --seed 0
"""

from __future__ import annotations

import argparse
import sys
import time

from fqss_edge.data.synth import synthesize_corpus
from fqss_edge.errors import FqssError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="output folder")
    ap.add_argument("--speakers", type=int, default=16, help="number of speakers")
    ap.add_argument("--utterances", type=int, default=20, help="utterances per speaker")
    ap.add_argument("--seed", type=int, default=0, help="random seed (texts, voices, pitch, speed)")
    ap.add_argument("--sample-rate", type=int, default=8000, help="output sample rate in Hz")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        ids = synthesize_corpus(args.out, args.speakers, args.utterances, args.seed, args.sample_rate)
    except FqssError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{len(ids)} speakers x {args.utterances} utterances in {args.out} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
