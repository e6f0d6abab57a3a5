"""The CSV/JSONL row reader: conversions, every invalid kind named with row and field, streaming."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from customer_sdk._rows import (
    Row,
    RowFileError,
    UnknownColumn,
    convert_fields,
    detect_format,
    read_header,
    read_rows,
    scan_file,
    shard_of,
    sniff_delimiter,
    unknown_columns,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "customers.csv"


def _csv(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def _errors(row: Row) -> dict[str, str]:
    return {e.path: e.message for e in row.errors}


def test_cells_convert_to_model_types(tmp_path: Path) -> None:
    """Digits become ints, true/false/1/0/yes/no flags, ';' splits tags, empty cells are unset."""
    path = _csv(
        tmp_path,
        "external_key,company,language_id,no_taxes,no_dunning,no_latefees,tags,bill_city,custom_3\n"
        "k1,Acme,12,yes,0,TRUE,vip; eu ;;trial,,x\n",
    )
    [row] = list(read_rows(path))
    assert row.ok
    assert row.line == 2
    assert row.key == "k1"
    assert row.wire == {
        "external_key": "k1",
        "company": "Acme",
        "language_id": 12,
        "no_taxes": True,
        "no_dunning": False,
        "no_latefees": True,
        "tags": ["vip", "eu", "trial"],
        "custom_3": "x",
    }


@pytest.mark.parametrize(
    ("cells", "field", "reason"),
    [
        ({"company": ""}, "company", "is required"),
        ({"language_id": "abc"}, "language_id", "expected a whole number, got 'abc'"),
        ({"currency_id": "-3"}, "currency_id", "expected a whole number"),
        ({"currency_id": "1.5"}, "currency_id", "expected a whole number"),
        ({"terms_id": "-1"}, "terms_id", "expected a whole number"),
        ({"no_taxes": "maybe"}, "no_taxes", "expected true/false/1/0/yes/no, got 'maybe'"),
        ({"invoice_delivery": "fax"}, "invoice_delivery", "must be 'email' or 'print'"),
        ({"superuser_email": "nobody"}, "superuser_email", "is not an e-mail address"),
        ({"notes": "hello"}, "notes", "unknown column"),
        ({"superuser_name": "a\rb"}, "superuser_name", "must not contain CR, LF or NUL"),
        ({"company": "a\nb"}, "company", "must not contain CR, LF or NUL"),
    ],
)
def test_each_invalid_kind_is_a_row_naming_line_and_field(
    tmp_path: Path, cells: dict[str, str], field: str, reason: str
) -> None:
    """An invalid cell makes its row (not the file) invalid, naming the line, field and reason."""
    columns = ["external_key", "company", field] if field != "company" else ["external_key", field]
    good = {"external_key": "ok-1", "company": "Good Co"}
    bad = {"external_key": "bad-1", "company": "Bad Co", **cells}
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, columns, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writeheader()
    writer.writerow({c: good.get(c, "") for c in columns})
    writer.writerow({c: bad.get(c, "") for c in columns})
    writer.writerow({c: good.get(c, "").replace("1", "2") for c in columns})
    rows = list(read_rows(_csv(tmp_path, buf.getvalue())))
    assert [r.ok for r in rows] == [True, False, True]
    assert rows[1].line == 3
    assert rows[1].key == "bad-1"
    assert reason in _errors(rows[1])[field]
    # The row after a multi-line quoted cell still gets its true starting line (LF-counted,
    # as an editor or grep -n shows it; a lone CR does not end a line there).
    assert rows[2].line == 4 + cells.get(field, "").count("\n")


def test_every_problem_of_a_row_is_named_once(tmp_path: Path) -> None:
    """Two bad cells in one row are both reported, and a conversion error is not repeated."""
    path = _csv(tmp_path, "external_key,company,no_dunning,language_id\nk,Co,2,1.5\n")
    [row] = list(read_rows(path))
    assert sorted(e.path for e in row.errors) == ["language_id", "no_dunning"]


def test_an_empty_unknown_column_is_ignored(tmp_path: Path) -> None:
    """A spare column is harmless until a row fills it in."""
    path = _csv(tmp_path, "external_key,company,notes\nk1,Co,\nk2,Co,hi\n")
    rows = list(read_rows(path))
    assert rows[0].ok
    assert not rows[1].ok


def test_too_many_cells_and_blank_lines(tmp_path: Path) -> None:
    """More cells than the header is rejected; blank lines are skipped but keep line numbers."""
    path = _csv(tmp_path, "external_key,company\n\nk1,Co,extra\n\nk2,Co\n")
    rows = list(read_rows(path))
    assert [(r.line, r.ok) for r in rows] == [(3, False), (5, True)]
    assert "the row has 3 cells, the header 2" in _errors(rows[0])["$"]


def test_bom_and_crlf_are_handled(tmp_path: Path) -> None:
    """A UTF-8 BOM (Excel) and CRLF line endings do not leak into names or values."""
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffexternal_key,company\r\nk1,Café Ltd\r\n".encode())
    [row] = list(read_rows(path))
    assert row.wire == {"external_key": "k1", "company": "Café Ltd"}


def test_undecodable_bytes_reject_only_their_row(tmp_path: Path) -> None:
    """A byte that is not UTF-8 rejects its row with a clear reason; later rows still load."""
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"external_key,company\nk1,Caf\xe9\nk2,Fine\n")
    rows = list(read_rows(path))
    assert [r.ok for r in rows] == [False, True]
    assert _errors(rows[0]) == {"company": "is not valid UTF-8"}


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), (",,\nx,y\n", "header row is empty"), ("a,b,a\n1,2,3\n", "repeats")],
)
def test_a_broken_header_is_a_file_error(tmp_path: Path, text: str, message: str) -> None:
    """No header, an empty header or a repeated column fails the file before any row."""
    with pytest.raises(RowFileError, match=message):
        list(read_rows(_csv(tmp_path, text)))


def test_a_missing_file_is_a_file_error(tmp_path: Path) -> None:
    """A file that does not exist raises RowFileError (the CLI's exit status 2)."""
    with pytest.raises(RowFileError, match="cannot read"):
        list(read_rows(tmp_path / "nope.csv"))


def test_jsonl_native_and_text_values(tmp_path: Path) -> None:
    """JSONL takes native JSON types or the CSV text forms; bad lines are rows with errors."""
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"external_key": "j1", "company": "A", "language_id": 3, "no_taxes": true,'
        ' "tags": ["x", "y"]}\n'
        '{"external_key": "j2", "company": "B", "language_id": "4", "no_taxes": "no",'
        ' "tags": "p;q"}\n'
        "\n"
        "{not json}\n"
        "[1, 2]\n"
        '{"external_key": "j3", "company": 5, "language_id": true, "bogus": 1}\n',
        encoding="utf-8",
    )
    rows = list(read_rows(path))
    assert rows[0].wire == {
        "external_key": "j1",
        "company": "A",
        "language_id": 3,
        "no_taxes": True,
        "tags": ["x", "y"],
    }
    assert rows[1].wire == {
        "external_key": "j2",
        "company": "B",
        "language_id": 4,
        "no_taxes": False,
        "tags": ["p", "q"],
    }
    assert [r.line for r in rows] == [1, 2, 4, 5, 6]
    assert "bad JSON" in _errors(rows[2])["$"]
    assert "expected a JSON object, got list" in _errors(rows[3])["$"]
    assert set(_errors(rows[4])) == {"company", "language_id", "bogus"}
    assert rows[4].key == "j3"


def test_format_is_detected_by_extension_then_content(tmp_path: Path) -> None:
    """.jsonl/.csv decide by name; an unknown extension is sniffed from the first byte."""
    assert detect_format(Path("x.jsonl")) == "jsonl"
    assert detect_format(Path("x.CSV")) == "csv"
    sniff = tmp_path / "data.in"
    sniff.write_text('\n  {"company": "A"}\n', encoding="utf-8")
    assert detect_format(sniff) == "jsonl"
    sniff.write_text("company\nA\n", encoding="utf-8")
    assert detect_format(sniff) == "csv"


def test_rows_are_streamed_not_slurped(tmp_path: Path) -> None:
    """The reader yields the first row before it has read the rest of the file."""
    path = _csv(tmp_path, "external_key,company\n" + "".join(f"k{i},Co\n" for i in range(50_000)))
    rows = read_rows(path)
    first = next(rows)
    assert first.key == "k0"
    # Append after the first row was read: a slurping reader could not see the new row.
    with path.open("a", encoding="utf-8") as f:
        f.write("late,Co\n")
    assert list(rows)[-1].key == "late"


def test_scan_file_hashes_and_counts_lines(tmp_path: Path) -> None:
    """The pre-scan counts lines, including a last line without a newline."""
    path = _csv(tmp_path, "a\nb\nc")
    digest, lines = scan_file(path)
    assert lines == 3
    assert len(digest) == 64
    assert scan_file(_csv(tmp_path, "a\nb\n", "two.csv"))[1] == 2
    assert scan_file(_csv(tmp_path, "a\rb\rc", "mac.csv"))[1] == 3
    assert scan_file(_csv(tmp_path, "a\r\nb\r\n", "crlf.csv"))[1] == 2
    assert scan_file(_csv(tmp_path, "", "empty.csv"))[1] == 0


def test_scan_file_counts_csv_records_not_lines_inside_quotes(tmp_path: Path) -> None:
    """A quoted CSV value spanning lines (or with "" escapes) is one record, not several."""
    text = 'company,bill_addr1\nA,"1 Main St\nSuite 2"\n"B ""the"" Co","x"\nC,"a\r\nb"\n'
    path = _csv(tmp_path, text, "quoted.csv")
    assert scan_file(path)[1] == 6  # plain line count
    assert scan_file(path, quoted=True)[1] == 4  # header + 3 records
    assert scan_file(path, quoted=True)[0] == scan_file(path)[0]


def test_scan_file_keeps_quote_state_across_chunks(tmp_path: Path) -> None:
    """A quoted value that straddles the 1 MiB read boundary is still one record."""
    head = "company,bill_addr1\n" + "A,x\n" * ((1 << 20) // 4 - 10)
    pad = (1 << 20) - len(head) - 3 - 5  # the value opens 5 bytes before the boundary
    text = head + 'B,"' + "y" * pad + '\np\nq\nr\n"\nC,z\n'
    rows = len(list(csv.reader(io.StringIO(text))))
    assert rows == text.count("\n") - 4  # the value's four line ends are not records
    assert scan_file(_csv(tmp_path, text, "big.csv"), quoted=True)[1] == rows


def test_shards_partition_rows_stably() -> None:
    """Each row falls in exactly one shard, by key (or line when keyless), the same every time."""
    rows = [Row(line=i + 2, key=f"k{i}", wire={}) for i in range(400)]
    rows += [Row(line=i, key=None, wire={}) for i in range(500, 600)]
    shards = [shard_of(r, 4) for r in rows]
    assert shards == [shard_of(r, 4) for r in rows]
    counts = [shards.count(s) for s in range(4)]
    assert all(80 <= c <= 170 for c in counts), counts
    # The key alone decides: the same key on another line stays in its shard.
    assert shard_of(Row(line=999, key="k7", wire={}), 4) == shard_of(rows[7], 4)


def test_convert_fields_for_single_creates() -> None:
    """The create command's name=value pairs go through the same conversions."""
    fields, problems = convert_fields({"company": "A", "no_taxes": "yes", "brand_id": "x"})
    assert fields == {"company": "A", "no_taxes": True}
    assert [str(p) for p in problems] == ["brand_id: expected a whole number, got 'x'"]


def test_the_example_file_has_exactly_its_invalid_rows() -> None:
    """examples/customers.csv: ~3,000 unique keys and 12 invalid rows, each naming a field."""
    rows = list(read_rows(EXAMPLE))
    keys = [r.key for r in rows]
    assert len(rows) == 3000
    assert len(set(keys)) == 3000
    assert None not in keys
    bad = [r for r in rows if not r.ok]
    assert len(bad) == 12
    assert all(r.errors and all(e.path for e in r.errors) for r in bad)
    assert any(any(ord(c) > 127 for c in r.wire["company"]) for r in rows if r.wire)


def test_the_example_file_matches_its_generator(tmp_path: Path) -> None:
    """Running examples/make_customers.py again produces the committed file byte for byte."""
    import subprocess
    import sys

    out = tmp_path / "again.csv"
    subprocess.run(
        [sys.executable, str(EXAMPLE.with_name("make_customers.py")), "-o", str(out)], check=True
    )
    assert out.read_bytes() == EXAMPLE.read_bytes()


def test_a_200_kb_cell_rejects_its_row_naming_the_column_and_the_read_goes_on(
    tmp_path: Path,
) -> None:
    """A cell over 64 KiB in mid-file rejects only its row, naming the column and its size."""
    big = "x" * 200_000
    path = _csv(
        tmp_path,
        f'external_key,company,bill_addr1\nk1,Co,a\nk2,Co,{big}\nk3,Co,"{big}"\nk4,Co,b\n',
    )
    default = csv.field_size_limit()
    rows = list(read_rows(path))
    assert [(r.line, r.key, r.ok) for r in rows] == [
        (2, "k1", True),
        (3, "k2", False),
        (4, "k3", False),
        (5, "k4", True),
    ]
    for row in rows[1:3]:
        assert _errors(row) == {"bill_addr1": "cell is 200,000 bytes, over the 65,536-byte limit"}
    assert csv.field_size_limit() == default  # the process-wide limit is put back


def test_the_cell_limit_counts_utf8_bytes(tmp_path: Path) -> None:
    """The 64 KiB limit is in UTF-8 bytes: 30,000 euro signs (90,000 bytes) are over it."""
    path = _csv(tmp_path, f"external_key,company,notes_x\nk1,Co,{'€' * 30_000}\nk2,Co,\n")
    rows = list(read_rows(path))
    assert _errors(rows[0]) == {"notes_x": "cell is 90,000 bytes, over the 65,536-byte limit"}
    assert rows[1].ok


def test_a_cell_too_big_to_parse_is_skipped_to_its_record_end(tmp_path: Path) -> None:
    """A quoted cell of 2 MB spanning lines is skipped whole; later rows keep their lines."""
    big = ("y" * 999 + "\n") * 2_000
    path = _csv(tmp_path, f'external_key,company\nk1,Co\nk2,"{big}"\nk3,Co\nk4,"two\nlines"\n')
    rows = list(read_rows(path))
    assert [(r.line, r.key, r.ok) for r in rows] == [
        (2, "k1", True),
        (3, None, False),
        (2_004, "k3", True),
        (2_005, "k4", False),  # a LF in a quoted cell is the model's to refuse, as before
    ]
    assert "with a cell over 1,048,576 characters" in _errors(rows[1])["$"]


def test_a_line_over_the_limit_is_read_in_bounded_pieces_and_skipped(tmp_path: Path) -> None:
    """A 20 MB line is skipped with bounded memory, and the rows after it are read."""
    import tracemalloc

    path = tmp_path / "in.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("external_key,company\nk1,Co\nk2,")
        for _ in range(20):
            f.write("z," * 500_000)
        f.write("\nk3,Co\n")
    tracemalloc.start()
    try:
        rows = list(read_rows(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [(r.line, r.ok) for r in rows] == [(2, True), (3, False), (4, True)]
    assert "the record is 20,000,004 characters" in _errors(rows[1])["$"]
    assert peak < 16_000_000  # a few LINE_LIMIT pieces (8.5 MB measured), not the 20 MB line


def test_another_unparseable_record_still_stops_the_read_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A csv error other than an oversized cell ends the read, saying later rows were not read."""
    from customer_sdk._rows import _readers

    real = _readers._next_cells

    def broken(reader: Any, lines: Any) -> list[str] | None:
        cells = real(reader, lines)
        if cells and cells[0] == "k2":
            raise csv.Error("something else")
        return cells

    monkeypatch.setattr(_readers, "_next_cells", broken)
    path = _csv(tmp_path, "external_key,company\nk1,Co\nk2,Co\nk3,Co\n")
    rows = list(read_rows(path))
    assert [(r.line, r.ok) for r in rows] == [(2, True), (3, False)]
    assert "no later row of the file was imported" in _errors(rows[1])["$"]


def test_jsonl_oversized_lines_and_values_reject_only_their_rows(tmp_path: Path) -> None:
    """A 5 MB JSONL line is skipped and a 200 KB value rejected by key; later rows are read."""
    path = tmp_path / "in.jsonl"
    with path.open("wb") as f:
        f.write(b'{"external_key": "k1", "company": "Co"}\n')
        f.write(b'{"external_key": "k2", "company": "' + b"w" * 5_000_000 + b'"}\n')
        f.write(b'{"external_key": "k3", "company": "Co", "bill_addr1": "' + b"v" * 200_000)
        f.write(b'"}\n{"external_key": "k4", "company": "Co"}\n')
    rows = list(read_rows(path))
    assert [(r.line, r.key, r.ok) for r in rows] == [
        (1, "k1", True),
        (2, None, False),
        (3, "k3", False),
        (4, "k4", True),
    ]
    assert _errors(rows[1]) == {
        "$": "the line is 5,000,038 bytes, over the 4,194,304-byte limit; skipped"
    }
    assert _errors(rows[2]) == {"bill_addr1": "cell is 200,000 bytes, over the 65,536-byte limit"}


def test_cr_only_line_ends_number_rows_by_cr(tmp_path: Path) -> None:
    """A file with CR-only line ends (old Mac exports) numbers its rows as an editor shows them."""
    path = tmp_path / "mac.csv"
    path.write_bytes(b'external_key,company\rk1,Co\r\rk2,"Two\rLines"\rk3,Co\r')
    rows = list(read_rows(path))
    assert [(r.line, r.key) for r in rows] == [(2, "k1"), (4, "k2"), (6, "k3")]


def test_a_row_is_validated_once_and_the_job_trusts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row's wire is a read-only CheckedWire; the bulk job takes it without checking again."""
    from customer_sdk import _models
    from customer_sdk._bulk._prepare import prepare
    from customer_sdk._convert import CheckedWire

    [row] = list(read_rows(_csv(tmp_path, "external_key,company\nk1,Co\n")))
    assert type(row.wire) is CheckedWire

    def checked_again(*_: object, **__: object) -> dict[str, object]:
        raise AssertionError("the row was validated a second time")

    monkeypatch.setattr(_models, "structure_wire", checked_again)
    prepared, rejected = prepare(0, row.wire)
    assert rejected is None
    assert prepared is not None
    assert prepared.wire is row.wire
    with pytest.raises(AssertionError, match="second time"):
        prepare(1, dict(row.wire))  # a plain dict is checked


# --- messy spreadsheets: delimiters, BOM, whitespace, 1.0, unknown columns -----------------


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_the_delimiter_is_sniffed_among_comma_semicolon_and_tab(tmp_path: Path, sep: str) -> None:
    """A file delimited by , ; or tab reads the same, even with the others inside its cells."""
    lines = [
        ["external_key", "company", "tags", "bill_addr1"],
        ["k1", "Acme, Inc.", "vip;eu", "Rua Market, 74"],
        ["k2", "Two; Co", "trial", "1\tMain St"],
    ]
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=sep, lineterminator="\n").writerows(lines)
    path = _csv(tmp_path, buf.getvalue())
    rows = list(read_rows(path))
    assert [r.wire["company"] for r in rows if r.wire] == ["Acme, Inc.", "Two; Co"]
    assert rows[0].wire is not None
    assert rows[0].wire["tags"] == ["vip", "eu"]
    assert read_header(path) == lines[0]


def test_the_sniffer_falls_back_to_the_header_then_to_comma() -> None:
    """A sample the sniffer cannot judge goes by the header line's delimiter, else ','."""
    assert sniff_delimiter("company\nAcme\n") == ","
    assert sniff_delimiter("external_key;company") == ";"
    assert sniff_delimiter("") == ","


def test_a_utf8_bom_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    """A BOM (Excel's "CSV UTF-8") is skipped, also in a sniffed semicolon file."""
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffexternal_key;company\nk1;Acme\n".encode())
    [row] = list(read_rows(path))
    assert row.ok
    assert row.key == "k1"
    assert read_header(path) == ["external_key", "company"]


def test_cells_are_trimmed_of_surrounding_whitespace(tmp_path: Path) -> None:
    """Spaces around a cell are dropped; a cell of spaces only is empty (a missing company)."""
    path = _csv(tmp_path, "external_key,company,language_id\n k1 , Acme Ltd ,  7 \nk2,   ,1\n")
    rows = list(read_rows(path))
    assert rows[0].wire == {"external_key": "k1", "company": "Acme Ltd", "language_id": 7}
    assert rows[0].key == "k1"
    assert _errors(rows[1]) == {"company": "is required"}


def test_an_integral_float_in_an_id_column_is_that_whole_number(tmp_path: Path) -> None:
    """1.0 and 12.00 in id columns are 1 and 12; 1.5 is still refused; text columns keep 1.0."""
    path = _csv(
        tmp_path,
        "external_key,company,language_id,currency_id,custom_1\n"
        "k1,Co,1.0,12.00,1.0\n"
        "k2,Co,1.5,1,x\n",
    )
    ok, bad = list(read_rows(path))
    assert ok.wire is not None
    assert (ok.wire["language_id"], ok.wire["currency_id"], ok.wire["custom_1"]) == (1, 12, "1.0")
    assert _errors(bad) == {"language_id": "expected a whole number, got '1.5'"}


def test_unknown_columns_are_named_with_the_closest_field() -> None:
    """Each unknown header name is listed once, with a suggestion only when one is close."""
    names = ["external_key", "compnay", "Language_ID", "notes", "", "email"]
    assert unknown_columns(names) == [
        UnknownColumn("compnay", "company"),
        UnknownColumn("Language_ID", "language_id"),
        UnknownColumn("notes", None),
        UnknownColumn("email", None),
    ]
    assert str(unknown_columns(["compnay"])[0]) == "'compnay' (did you mean 'company'?)"


def test_ignored_unknown_columns_and_keys_are_dropped_and_collected(tmp_path: Path) -> None:
    """With a collector, unknown CSV columns and JSONL keys are dropped and their names kept."""
    csv_path = _csv(tmp_path, "external_key,company,notes,\nk1,Co,call back,\n")
    ignored: set[str] = set()
    [row] = list(read_rows(csv_path, ignored=ignored))
    assert row.wire == {"external_key": "k1", "company": "Co"}
    assert ignored == {"notes"}
    jsonl = _csv(tmp_path, '{"external_key": "k1", "company": "Co", "memo": 1}\n', "in.jsonl")
    assert not next(read_rows(jsonl)).ok  # no collector: the row that fills it is rejected
    ignored.clear()
    [row] = list(read_rows(jsonl, ignored=ignored))
    assert row.ok
    assert ignored == {"memo"}
