"""The public surface (customer_sdk/__init__.py): ``__all__`` against what the modules define.

Like httpx's own check, the list is compared with the code rather than with itself: every public
name the package namespace holds is in ``__all__``; every class a user meets through the public
API (a parameter, a return value, an attribute of a public class, followed transitively) is
exported by ``customer_sdk`` or ``customer_sdk.errors``; every exported name is defined by the
package and documented. A meta-test proves the check fails when a name goes missing.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import pkgutil
import re
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs

import customer_sdk
from customer_sdk import errors

# Classes reachable from the public API that users never build or name, with the reason. Each
# entry is a deliberate decision; anything else reachable and not exported fails the test.
INTERNAL = {
    # ``Customers(engine)`` and ``BulkJob(engine, ...)`` are made by the client, never by users.
    "Engine": "the client's request engine, handed to Customers and BulkJob by the client",
    "ListQuery": "a listing's checked arguments, built by Customers.list for CustomerList",
}

# Members whose signatures are part of the surface besides the public (non-underscore) ones.
_DUNDERS = ("__init__", "__call__", "__aenter__", "__aiter__", "__anext__", "__iter__")


def _sdk_classes() -> dict[str, type]:
    """Every class defined in a module of customer_sdk, by name (core modules win on clashes)."""
    found: dict[str, type] = {}
    modules = [m.name for m in pkgutil.walk_packages(customer_sdk.__path__, "customer_sdk.")]
    # The sandbox, CLI and contrib packages define their own classes; core names come last so
    # that they win when a name is defined twice.
    modules.sort(key=lambda name: not name.startswith(("customer_sdk.sandbox", "customer_sdk.cli")))
    for name in modules:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if isinstance(value, type) and value.__module__ == name:
                found[attr] = value
    return found


def _annotations(obj: Any) -> Iterator[tuple[str, types.ModuleType]]:
    """Every annotation string of a public member of ``obj``, with the module to resolve it in."""
    if isinstance(obj, type):
        for klass in obj.__mro__:
            if not klass.__module__.startswith("customer_sdk"):
                continue
            module = sys.modules[klass.__module__]
            for field, hint in vars(klass).get("__annotations__", {}).items():
                if not field.startswith("_"):
                    yield str(hint), module
            if attrs.has(klass):
                for a in attrs.fields(klass):
                    if not a.name.startswith("_") and a.type is not None:
                        yield str(a.type), module
            for name, member in vars(klass).items():
                if name.startswith("_") and name not in _DUNDERS:
                    continue
                member = member.fget if isinstance(member, property) else member
                member = getattr(member, "__func__", member)  # classmethod / staticmethod
                if inspect.isfunction(member):
                    for hint in member.__annotations__.values():
                        yield str(hint), module
    elif inspect.isfunction(obj):
        module = sys.modules[obj.__module__]
        for hint in obj.__annotations__.values():
            yield str(hint), module


def _reachable(exported: dict[str, Any], classes: dict[str, type]) -> dict[str, str]:
    """SDK classes reachable from the exported objects' signatures: name -> where it was met."""
    seen: dict[str, str] = {}
    todo = [(name, obj) for name, obj in exported.items()]
    while todo:
        via, obj = todo.pop()
        for hint, module in _annotations(obj):
            for ident in re.findall(r"[A-Za-z_][\w.]*", hint):
                name = ident.rsplit(".", 1)[-1]
                target = getattr(module, name, None) or classes.get(name)
                if (
                    isinstance(target, type)
                    and target.__module__.startswith("customer_sdk")
                    and name not in seen
                ):
                    seen[name] = via
                    if name not in INTERNAL:  # its own signatures are not the surface
                        todo.append((name, target))
    return seen


def surface_problems(all_names: Sequence[str]) -> list[str]:
    """What is wrong with ``all_names`` as customer_sdk's ``__all__`` (empty when right)."""
    problems: list[str] = []
    if list(all_names) != sorted(all_names):
        problems.append("__all__ is not sorted")
    exported: dict[str, Any] = {}
    for name in all_names:
        if not hasattr(customer_sdk, name):
            problems.append(f"{name} is in __all__ but cannot be imported")
            continue
        obj = getattr(customer_sdk, name)
        exported[name] = obj
        if isinstance(obj, str | types.ModuleType):
            continue  # __version__, errors
        if not getattr(obj, "__module__", "").startswith("customer_sdk"):
            problems.append(f"{name} is exported but not defined by customer_sdk")
        if not (inspect.getdoc(obj) if not isinstance(obj, enum.EnumMeta) else obj.__doc__):
            problems.append(f"{name} has no docstring")
    # httpx's check: the package namespace holds no public name that __all__ leaves out.
    for name, value in vars(customer_sdk).items():
        if name.startswith("_") or name in all_names:
            continue
        if isinstance(value, types.ModuleType) and name != "errors":
            continue  # submodules appear as attributes once imported (cli, sandbox, ...)
        problems.append(f"{name} is public in customer_sdk but not in __all__")
    error_names = set(errors.__all__)
    exported_classes = {name for name, obj in exported.items() if isinstance(obj, type)}
    for name, via in sorted(_reachable(exported, _sdk_classes()).items()):
        if name in exported_classes or name in error_names or name in INTERNAL:
            continue
        problems.append(f"{name} is reachable from {via} but exported nowhere")
    return problems


def test_all_is_sorted_complete_and_documented() -> None:
    """__all__ is sorted, names every public class the API hands out, and each is documented."""
    assert surface_problems(customer_sdk.__all__) == []


def test_the_surface_check_fails_when_a_name_is_missing_or_bogus() -> None:
    """The check above can fail: a dropped, an unknown or an unsorted name is each reported."""
    names = list(customer_sdk.__all__)
    without = [n for n in names if n != "RowResult"]
    assert "RowResult is public in customer_sdk but not in __all__" in surface_problems(without)
    assert any(p.startswith("RowResult is reachable from") for p in surface_problems(without))
    assert "Nope is in __all__ but cannot be imported" in surface_problems([*names, "Nope"])
    assert "__all__ is not sorted" in surface_problems(names[::-1])


def test_no_third_party_type_leaks_into_the_surface() -> None:
    """No exported object is, or is shown as, a tenacity, aiohttp or cattrs object."""
    shown: Callable[[str], str] = lambda n: repr(getattr(customer_sdk, n))  # noqa: E731
    for name in customer_sdk.__all__:
        assert not re.search(r"tenacity|cattrs", shown(name)), name
