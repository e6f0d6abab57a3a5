"""The benchmark runner's bookkeeping: how ``--write`` merges fresh sections into the README."""

from __future__ import annotations

from benchmarks.__main__ import SUITE, _merge


def test_a_partial_run_replaces_only_its_own_sections_in_suite_order() -> None:
    """--only P2 P1i --write swaps those two sections and keeps P1's, ordered as in SUITE."""
    old = "\n### P1 old one\n\nold P1 table\n\n### P2 old two\n\nold P2 table\n"
    fresh = {"P2": "### P2 new two\n\nnew P2 table", "P1i": "### P1i counts\n\nnew P1i table"}
    merged = _merge(old, fresh)
    assert merged == (
        "### P1 old one\n\nold P1 table\n\n"
        "### P2 new two\n\nnew P2 table\n\n"
        "### P1i counts\n\nnew P1i table"
    )
    assert list(SUITE)[:3] == ["P1", "P2", "P1i"]


def test_every_suite_title_starts_with_its_own_key() -> None:
    """Each section title begins with its key, which is how a later --write finds it again."""
    for key, (title, _run, _full, _quick) in SUITE.items():
        assert title.split(" ", 1)[0] == key
