"""Reading customer rows from CSV and JSONL files, lazily, for the ``customer-sdk`` command line.

Each record becomes a :class:`Row`: its line number in the file, its ``external_key`` as read,
and either the validated wire dict or every problem found (a conversion that failed, an unknown
column, anything the SDK's one converter, :func:`customer_sdk._convert.structure_wire`,
refuses). A row is validated once, here. A bad record is a value, never an exception: the
caller reports it and carries on, so no row is lost silently. A cell over :data:`CELL_LIMIT`
(64 KiB) rejects its row naming its column, and a record or JSONL line too big to parse at all
is skipped in bounded reads (:mod:`._readers`): neither stops the read. The one record that
ends the read is a CSV record the csv module cannot parse for another reason (it cannot find
the next record after it): its error says that nothing after it was read.

Files are read one record at a time and never held in memory. The package sends nothing and
does not decide what happens to a row; it only turns bytes into rows. Its modules, each
depending only on those after it::

    _readers  read_rows, read_header: CSV and JSONL records, with the line each starts on
    _jsonl    read_jsonl: a JSONL file's records, one JSON object per line
    _lines    Lines, LINE_LIMIT: bounded line reads, lines counted as editors count them
    _header   sniff_delimiter, unknown_columns: the CSV delimiter and the header's unknown names
    _cells    convert_fields: text cells (or JSON values) to model values, then the Row
    _files    detect_format, scan_file: whole-file questions (which format, hash, line count)
    _row      Row, RowFileError, FileFormat, shard_of: the values handed out
"""

from customer_sdk._rows._cells import CELL_LIMIT, convert_fields
from customer_sdk._rows._files import detect_format, scan_file
from customer_sdk._rows._header import UnknownColumn, sniff_delimiter, unknown_columns
from customer_sdk._rows._readers import read_header, read_rows
from customer_sdk._rows._row import FileFormat, Row, RowFileError, shard_of

__all__ = [
    "CELL_LIMIT",
    "FileFormat",
    "Row",
    "RowFileError",
    "UnknownColumn",
    "convert_fields",
    "detect_format",
    "read_header",
    "read_rows",
    "scan_file",
    "shard_of",
    "sniff_delimiter",
    "unknown_columns",
]
