"""Reading customer rows from CSV and JSONL files, lazily, for the ``customer-sdk`` command line.

Each record becomes a :class:`Row`: its line number in the file, its ``external_key`` as read,
and either the validated wire dict or every problem found (a conversion that failed, an unknown
column, anything the SDK's one converter, :func:`customer_sdk._convert.structure_wire`,
refuses). A row is validated once, here. A bad record is a value, never an exception: the
caller reports it and carries on, so no row is lost silently. The one
record that ends the read is a CSV record the csv module cannot parse at all (it cannot find the
next record after it): its error says that nothing after it was read.

Columns (CSV) and keys (JSONL) are ChargeOver's wire field names (``chargeover-api.md``). CSV
cells are text, converted here: an empty cell is unset, ints are digits, flags are
``true/false/1/0/yes/no``, ``tags`` is ``;``-separated. JSONL values may be native JSON (numbers,
booleans, a list of tags) or the same strings.

Files are read one record at a time and never held in memory. This module sends nothing and does
not decide what happens to a row; it only turns bytes into rows.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Final, Literal

import attrs
import orjson

from customer_sdk._convert import CheckedWire, structure_wire
from customer_sdk._fields import BOOL_FIELDS, FIELD_NAMES, INT_FIELDS
from customer_sdk.errors import FieldError, ValidationError

__all__ = [
    "FileFormat",
    "Row",
    "RowFileError",
    "convert_fields",
    "detect_format",
    "read_rows",
    "scan_file",
    "shard_of",
]

FileFormat = Literal["csv", "jsonl"]

_KNOWN: Final = frozenset(FIELD_NAMES)
_INTS: Final = frozenset(INT_FIELDS)
_BOOLS: Final = frozenset(BOOL_FIELDS)
_TRUE: Final = frozenset({"true", "1", "yes", "y"})
_FALSE: Final = frozenset({"false", "0", "no", "n"})
# A cell echoed into an error message is cut here: it may be long, and it is customer data.
_ECHO: Final = 40


class RowFileError(Exception):
    """The file as a whole cannot be read as rows (missing, empty or broken header).

    Raised before the first row; a problem with one record is a :class:`Row` with errors instead.
    """


@attrs.frozen(kw_only=True)
class Row:
    """One record of the input file.

    Attributes:
        line: The 1-based line of the file where the record starts, counting LF line ends
            as editors and ``grep -n`` do (a CSV record may span lines inside quotes).
        key: The record's ``external_key`` as read, or None when it has none.
        wire: The validated wire dict ready to send (a read-only
            :class:`~customer_sdk._convert.CheckedWire`, which ``create_many`` does not
            validate again), or None when the record is invalid.
        errors: Every problem with the record (empty when ``wire`` is set).
    """

    line: int
    key: str | None
    wire: dict[str, Any] | None
    errors: tuple[FieldError, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the record is valid and can be sent."""
        return self.wire is not None


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
    # No LF at all: CR-only line ends, counted as the reader counts them (see _Lines).
    eol = b"\n" if lines or not crs else b"\r"
    return digest.hexdigest(), (lines or crs) + (last not in (b"", eol))


def shard_of(row: Row, shards: int) -> int:
    """The shard (0-based) a row belongs to: a stable hash of its key, else of its line number.

    sha256 rather than ``hash()``: Python salts ``hash(str)`` per process, and every process
    of a sharded import must agree on every row.

    Args:
        row: The row.
        shards: How many shards there are.

    Returns:
        A number in ``range(shards)``.
    """
    basis = f"k:{row.key}" if row.key else f"line:{row.line}"
    digest = hashlib.sha256(basis.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % shards


def _echo(value: str) -> str:
    return repr(value if len(value) <= _ECHO else value[:_ECHO] + "…")


def _encodable(value: str) -> bool:
    """False when the text holds a surrogate (an undecodable byte kept by surrogateescape).

    One C-level encode instead of a Python loop over every character of every cell.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _convert(name: str, value: Any, out: list[FieldError]) -> Any:
    """Convert one cell (or JSON value) to the model's type; None means unset."""
    if isinstance(value, str) and not value.isascii() and not _encodable(value):
        # surrogateescape kept the undecodable bytes: say so instead of sending mojibake.
        out.append(FieldError(name, "is not valid UTF-8"))
        return None
    if name in _INTS:
        if isinstance(value, str):
            text = value.strip()
            if text == "":
                return None
            if text.isascii() and text.isdigit():
                return int(text)
            out.append(FieldError(name, f"expected a whole number, got {_echo(value)}"))
            return None
        return value  # native JSON: the model checks the type
    if name in _BOOLS:
        if isinstance(value, str):
            text = value.strip().lower()
            if text == "":
                return None
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            out.append(
                FieldError(name, f"expected true/false/1/0/yes/no, got {_echo(value)}"),
            )
            return None
        return value
    if name == "tags":
        if isinstance(value, str):
            tags = [t.strip() for t in value.split(";")]
            return [t for t in tags if t] or None
        return value
    if isinstance(value, str) and value == "":
        return None
    return value


def convert_fields(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    """Convert text cells (or JSON values) of one record to model values.

    Unknown names with a value are reported; unknown names left empty are ignored (a spare
    column in a spreadsheet is not an error until somebody fills it in).

    Args:
        values: Field name to cell text or JSON value.

    Returns:
        The converted values (unset ones left out) and the conversion problems found.
    """
    out: list[FieldError] = []
    fields: dict[str, Any] = {}
    for name, raw in values.items():
        if raw is None or (isinstance(raw, str) and raw == ""):
            continue
        if name not in _KNOWN:
            out.append(FieldError(name, "unknown column (not a ChargeOver customer field)"))
            continue
        value = _convert(name, raw, out)
        if value is not None:
            fields[name] = value
    return fields, out


def _make_row(line: int, values: Mapping[str, Any], extra: list[FieldError]) -> Row:
    raw_key = values.get("external_key")
    key = raw_key if isinstance(raw_key, str) and raw_key.strip() else None
    fields, errors = convert_fields(values)
    errors = extra + errors
    try:
        # The one validation of the row (the cells are typed values by now): the result is
        # a CheckedWire, which the bulk job's wire_of() passes on without checking it again.
        wire = CheckedWire(structure_wire(fields, owned=True))
    except ValidationError as exc:
        # Problems the conversion already named are not repeated by the converter.
        named = {e.path for e in errors}
        errors += [e for e in exc.errors if e.path not in named]
        wire = None
    if errors:
        return Row(line=line, key=key, wire=None, errors=tuple(errors))
    return Row(line=line, key=key, wire=wire)


class _Lines:
    """The file's lines for the csv module, counting LF to know where each record starts.

    ``csv.reader.line_num`` counts a lone CR inside a quoted cell as a line too; editors,
    ``grep -n`` and ``sed -n`` count only LF, and the reported row number must lead there.
    A file with no LF at all uses CR-only line ends (classic Mac exports): there each CR ends
    a line, as an editor shows it, or every row would be reported as line 1.
    """

    def __init__(self, f: IO[str]) -> None:
        self._f = f
        self.newlines = 0
        self._lf = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._f)
        if line.endswith("\n"):
            self.newlines += 1
            self._lf = True
        elif not self._lf and line.endswith("\r"):
            self.newlines += 1
        return line


def _read_csv(f: IO[str]) -> Iterator[Row]:
    lines = _Lines(f)
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise RowFileError("the CSV file is empty (no header row)") from None
    except csv.Error as exc:
        raise RowFileError(f"the CSV header cannot be parsed: {exc}") from None
    names = [h.strip() for h in header]
    if not any(names):
        raise RowFileError("the CSV header row is empty")
    dupes = sorted({n for n in names if names.count(n) > 1 and n})
    if dupes:
        raise RowFileError(f"the CSV header repeats column(s): {', '.join(dupes)}")
    while True:
        start = lines.newlines + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # The csv module cannot re-synchronise inside a broken record (e.g. a cell over
            # csv.field_size_limit()): stop rather than guess where the next record begins, and
            # say so, or every row after this one would vanish from the counts and the report.
            why = f"{exc}; reading stopped here: no later row of the file was imported"
            yield Row(line=start, key=None, wire=None, errors=(FieldError("$", why),))
            return
        if not cells or all(c == "" for c in cells):
            continue  # a blank line is not a record
        extra: list[FieldError] = []
        if len(cells) > len(names):
            extra.append(
                FieldError("$", f"the row has {len(cells)} cells, the header {len(names)}")
            )
        values = {n: c for n, c in zip(names, cells, strict=False) if n}
        unnamed = [c for n, c in zip(names, cells, strict=False) if not n and c]
        if unnamed:
            extra.append(FieldError("$", "a value sits under a column without a name"))
        yield _make_row(start, values, extra)


def _read_jsonl(f: IO[bytes]) -> Iterator[Row]:
    for line, raw in enumerate(f, start=1):
        text = raw.strip()
        if line == 1:
            text = text.removeprefix(b"\xef\xbb\xbf")
        if not text:
            continue
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            why = str(exc).partition(":")[0]
            yield Row(line=line, key=None, wire=None, errors=(FieldError("$", f"bad JSON: {why}"),))
            continue
        if not isinstance(obj, dict):
            errors = (FieldError("$", f"expected a JSON object, got {type(obj).__name__}"),)
            yield Row(line=line, key=None, wire=None, errors=errors)
            continue
        yield _make_row(line, obj, [])


def read_rows(path: Path, fmt: FileFormat | None = None) -> Iterator[Row]:
    """Stream the rows of a CSV or JSONL file, one record at a time.

    The file is opened when iteration starts and closed when it ends (or the iterator is
    closed). Undecodable bytes do not stop the read: that record is reported as not UTF-8.

    Args:
        path: The input file.
        fmt: ``"csv"`` or ``"jsonl"``; detected when None (see :func:`detect_format`).

    Yields:
        One :class:`Row` per record, in file order; invalid records carry their errors.

    Raises:
        RowFileError: The file cannot be opened, or its CSV header is missing or broken.
    """
    fmt = fmt or detect_format(path)
    try:
        if fmt == "jsonl":
            with path.open("rb") as fb:
                yield from _read_jsonl(fb)
        else:
            # newline="" lets the csv module see the CR/LF inside quoted cells (so they can be
            # refused by the model, not silently mangled); surrogateescape keeps a bad byte
            # from aborting the whole file.
            with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as ft:
                yield from _read_csv(ft)
    except OSError as exc:
        raise RowFileError(f"cannot read {path}: {exc.strerror or exc}") from None
