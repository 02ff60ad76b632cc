"""The one exception type for user-facing errors."""

from __future__ import annotations


class FqssError(Exception):
    """A user-facing error: one line naming the file (or setting) and the problem.

    Example: ``FqssError(f"{path}: sample rate 16000 Hz, expected 8000 Hz")``. The CLI prints it without a traceback.
    """


class FqssWarning(UserWarning):
    """A user-facing warning: one line naming the file and what to check. The CLI prints ``warning: ...``."""
