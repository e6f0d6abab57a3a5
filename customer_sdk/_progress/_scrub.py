"""Masking secrets in what the command line shows or writes: the one scrubber, re-exported.

The scrubber lives in :mod:`customer_sdk._secrets`, below every layer that handles a server's
text, so the SDK masks echoed credentials where a response first enters it; this name is kept
for the progress display and the report, which mask again before writing (defence in depth).
"""

from __future__ import annotations

from customer_sdk._secrets import scrub

__all__ = ["scrub"]
