"""`customer-sdk --help`: every option explained, every exit status listed where users look.

The statuses are cli/_common.py's EXIT_* constants; each command's epilog lists the ones it can
return, and the README and the docs' CLI page list them all.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from customer_sdk import cli
from customer_sdk.cli import main
from customer_sdk.cli._parser import build_parser
from customer_sdk.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
ALL_STATUSES = {cli.EXIT_OK, cli.EXIT_FAILED, cli.EXIT_USAGE, cli.EXIT_AUTH, cli.EXIT_INTERRUPTED}
# What each command can return: sandbox has no rows to fail and sends no authenticated request.
STATUSES = {
    "": ALL_STATUSES,
    "import": ALL_STATUSES,
    "create": ALL_STATUSES,
    "export": ALL_STATUSES,
    "sandbox": {cli.EXIT_OK, cli.EXIT_USAGE, cli.EXIT_INTERRUPTED},
}


def parsers() -> dict[str, argparse.ArgumentParser]:
    """The top-level parser (under "") and each command's parser, by command name."""
    top = build_parser()
    found = {"": top}
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            found |= dict(action.choices)
    return found


def listed_statuses(text: str) -> set[int]:
    """The statuses of an "Exit status:" block: lines that start with an indented number."""
    block = text.split("Exit status:", 1)[1]
    return {int(n) for n in re.findall(r"^\s+(\d+)\s", block, flags=re.MULTILINE)}


def test_every_action_of_every_parser_has_a_help_text() -> None:
    """No option, argument or command of any parser, the top-level one included, is left bare."""
    bare = [
        f"{name or 'customer-sdk'} {action.dest}"
        for name, parser in parsers().items()
        for action in parser._actions
        if not (action.help or "").strip()
    ]
    assert sorted(parsers()) == ["", "create", "export", "import", "sandbox"]
    assert bare == []


@pytest.mark.parametrize("command", sorted(STATUSES))
def test_each_epilog_lists_the_statuses_its_command_returns(command: str) -> None:
    """Each --help ends with an "Exit status:" list of exactly the statuses it can return."""
    epilog = parsers()[command].epilog
    assert epilog is not None
    assert listed_statuses(epilog) == STATUSES[command]


@pytest.mark.parametrize("command", sorted(STATUSES))
def test_help_prints_the_statuses_and_exits_0(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`customer-sdk [COMMAND] --help` prints the exit statuses, one per line, and returns 0."""
    assert main([command, "--help"] if command else ["--help"]) == 0
    out = capsys.readouterr().out
    assert listed_statuses(out) == STATUSES[command]
    assert "  130  interrupted" in out


def test_the_readme_lists_every_status() -> None:
    """The README's command-line section lists every exit status in its table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("**Exit status.**", 1)[1].split("\n\n", 2)[:2]
    rows = re.findall(r"^\| (\d+) \|", "\n\n".join(section), flags=re.MULTILINE)
    assert {int(n) for n in rows} == ALL_STATUSES


def test_the_docs_cli_page_lists_every_status() -> None:
    """docs/reference/cli.md's exit-status table has one row per status."""
    page = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \|", page, flags=re.MULTILINE)
    assert sorted(int(n) for n in rows) == sorted(ALL_STATUSES)


async def test_create_interrupted_by_ctrl_c_exits_130() -> None:
    """`create` stopped by SIGINT while its request hangs exits 130 with one line, no traceback."""
    async with Sandbox(faults="create:script=stall", stall_seconds=60) as sb:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEOVER_")}
        env |= {
            "CHARGEOVER_BASE_URL": sb.base_url,
            "CHARGEOVER_USERNAME": sb.username,
            "CHARGEOVER_PASSWORD": sb.password,
        }
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "customer_sdk", "create", "--company", "Acme"),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(30):
            await sb.wait_for_audit(lambda entry: entry.kind == "create")
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == cli.EXIT_INTERRUPTED, err
    assert err.decode() == "interrupted\n"
    assert out == b""
