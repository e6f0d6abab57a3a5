r"""Whole-file questions asked before the rows are read: which format, and how big.

:func:`detect_format` picks CSV or JSONL; :func:`scan_file` hashes the file (the job id a
journal is checked against) and counts its lines (the progress line's total) in one streaming
pass. Line ends are counted as the reader counts them (LF; CR only in a file without any LF),
and, for CSV, not inside a quoted value. Neither reads a record.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from customer_sdk._rows._row import FileFormat, RowFileError

__all__ = ["detect_format", "scan_file"]


def detect_format(path: Path) -> FileFormat:
    """Decide CSV or JSONL by the file's extension, else by its first non-blank byte.

    Args:
        path: The input file.

    Returns:
        ``"jsonl"`` for ``.jsonl``/``.ndjson``/``.json`` or content starting with ``{``, else
        ``"csv"``.

    Raises:
        RowFileError: The file cannot be opened.
    """
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if suffix in {".csv", ".tsv", ".txt"}:
        return "csv"
    try:
        with path.open("rb") as f:
            head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise RowFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    return "jsonl" if head.startswith(b"{") else "csv"


def scan_file(path: Path, *, quoted: bool = False) -> tuple[str, int]:
    r"""Hash the file and count its lines in one streaming pass (for job ids and the ETA).

    Args:
        path: The input file.
        quoted: Count CSV records: a line end inside double quotes (a value spanning lines)
            does not count.

    Returns:
        The file's sha256 (hex) and its number of lines (a last line without ``\n`` counts;
        a file without any ``\n`` counts its ``\r`` line ends).

    Raises:
        RowFileError: The file cannot be read.
    """
    digest = hashlib.sha256()
    lines = crs = 0
    last = b""
    inside = False  # within a quoted CSV value, across chunk boundaries
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
                last = chunk[-1:]
                if quoted and (inside or b'"' in chunk):
                    # The parts between quotes alternate outside/inside a value ("" inside a
                    # value is an empty part: the parity holds).
                    for part in chunk.split(b'"')[inside::2]:
                        lines += part.count(b"\n")
                        crs += part.count(b"\r")
                    inside ^= chunk.count(b'"') % 2 == 1
                else:
                    lines += chunk.count(b"\n")
                    crs += chunk.count(b"\r")
    except OSError as exc:
        raise RowFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    # No LF at all: CR-only line ends, counted as the reader counts them (see _lines.Lines).
    eol = b"\n" if lines or not crs else b"\r"
    return digest.hexdigest(), (lines or crs) + (last not in (b"", eol))
