"""Griffe extension: the docstrings' Sphinx roles become links on the documentation site.

The docstrings are written for ``help()`` and IDEs as well, in the Sphinx dialect that they
read (``:class:`~customer_sdk.RowResult```). mkdocstrings does not know these roles, so this
extension rewrites each into the cross-reference mkdocstrings itself emits: a link when the
target is on the site, plain code when it is not (a private module, a constant), never a
warning. A bare name (``:class:`RetryEvent```) is looked for under ``customer_sdk``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|meth|func|attr|data|mod|exc|obj):`(~?)([^`<]+?)\s*(?:<([^`>]+)>)?`")


def _autoref(match: re.Match[str]) -> str:
    """One role as an optional autoref: its identifier, and the title the role shows."""
    tilde, text, target = match.groups()
    identifier = (target or text).strip()
    if target:
        title = text.strip()
    elif tilde:
        title = identifier.rsplit(".", 1)[-1]
    else:
        title = identifier
    if "." not in identifier:
        identifier = f"customer_sdk.{identifier}"
    return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'


class SphinxRoles(griffe.Extension):
    """Rewrite the Sphinx roles of every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring, if it has one.

        Args:
            obj: The object just loaded.
            **kwargs: The rest of griffe's event arguments (unused).
        """
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_autoref, obj.docstring.value)
