"""Model tests: ``litert_ref`` (the integer reference against LiteRT BUILTIN_REF) is importable by name."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # tests use --import-mode=importlib
