"""``archsearch list KIND``: the names a flag takes, each with its settings and their defaults.

Everything is read from the registries and the constructors' signatures, so a new strategy,
space, dataset or pruner, or a new setting of one, is listed without editing this file.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
from collections.abc import Callable
from typing import Any

from archsearch.errors import unknown_name

KINDS = ("strategies", "pruners", "evaluators", "spaces", "datasets", "proxies")

# set by the command line from other flags, never in a spec
_FROM_FLAGS = {"scorer": "--proxy flags", "data_dir": "--data-dir", "path": "--data-path"}


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "list", help="strategies, pruners, evaluators, spaces, datasets and their settings",
        description="List the names a flag takes, with each one's settings, their defaults and "
        "a one-line description. Settings go after the name: --strategy NAME:KEY=VALUE, "
        "--prune NAME:KEY=VALUE, --space NAME --space-arg KEY=VALUE.")
    p.add_argument("kind", metavar="KIND", help=f"one of: {', '.join(KINDS)}")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=run)


def _summary(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n")[0].split())


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str, list, dict)):
        return value
    return repr(value)


def _settings(factory: Callable[..., Any], skip: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The keyword settings of ``factory``'s signature, with their defaults and types."""
    out = []
    for param in inspect.signature(factory).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or param.name in skip:
            continue
        entry: dict[str, Any] = {"name": param.name}
        if param.default is param.empty:
            entry["required"] = True
        else:
            entry["default"] = _jsonable(param.default)
        if param.annotation is not param.empty:
            entry["type"] = str(param.annotation).replace("typing.", "")
        if param.name in _FROM_FLAGS:
            entry["flag"] = _FROM_FLAGS[param.name]
        out.append(entry)
    return out


def _strategies() -> list[dict[str, Any]]:
    from archsearch.cli._oneshot import _FROM_FLAGS as DARTS_FLAGS
    from archsearch.oneshot import DartsConfig
    from archsearch.strategies import STRATEGIES, ProxyScreened

    rows = []
    for name in STRATEGIES.names():
        factory = STRATEGIES.get(name)
        settings = _settings(factory, frozenset({"scorer"}))
        rows.append({"name": name, "description": _summary(factory), "settings": settings,
                     "usage": f"--strategy {name}" + ("[:KEY=VALUE]..." if settings else "")})
    # screen=K wraps any strategy in ProxyScreened (build_strategy); its own settings
    spec_names = {"candidates": "screen", "first": "screen_first"}
    screened = [s for s in _settings(ProxyScreened) if s["name"] in spec_names]
    screen = [{"name": "screen", "required": True, "type": "int"} if s["name"] == "candidates"
              else {**s, "name": spec_names[s["name"]]} for s in screened]
    screen.append({"name": "proxy", "default": "naswot", "type": "str"})
    rows.append({"name": "(any):screen=K", "description": _summary(ProxyScreened),
                 "settings": screen, "usage": "--strategy evolution:screen=3[:proxy=NAME]"})
    darts = [{"name": f.name, "type": str(f.type),
              **({"required": True} if f.default is dataclasses.MISSING else
                 {"default": _jsonable(f.default)})}
             for f in dataclasses.fields(DartsConfig) if f.name not in DARTS_FLAGS]
    rows.append({"name": "darts", "description": _summary(DartsConfig),
                 "settings": darts, "usage": "--strategy darts[:KEY=VALUE]... "
                 f"({', '.join(DARTS_FLAGS.values())} set the rest)"})
    return rows


def _pruners() -> list[dict[str, Any]]:
    from archsearch.pruners import _PRUNERS

    return [{"name": name, "description": _summary(cls),
             "settings": [s for s in _settings(cls) if s["name"] in allowed],
             "usage": f"--prune {name}[:KEY=VALUE]..."}
            for name, (cls, allowed) in sorted(_PRUNERS.items())]


def _evaluators() -> list[dict[str, Any]]:
    from archsearch.evaluators import PartialTraining, TabularLookup, ZeroCostProxies
    from archsearch.evaluators.proxies import PROXIES

    return [
        {"name": "train", "description": _summary(PartialTraining), "settings": [],
         "usage": "--evaluator train (--epochs, --batch-size, --lr, ... set the training)"},
        {"name": "proxy", "description": _summary(ZeroCostProxies),
         "settings": [{"name": "proxies", "default": [PROXIES[0]], "choices": list(PROXIES)}],
         "usage": "--evaluator proxy[:P1,P2,...] (the first is the objective)"},
        {"name": "table", "description": _summary(TabularLookup),
         "settings": [{"name": "path", "required": True}],
         "usage": "--evaluator table:PATH --objective COLUMN"},
    ]


def _spaces() -> list[dict[str, Any]]:
    from archsearch.spaces import SPACES

    return [{"name": name, "description": _summary(SPACES.get(name)),
             "settings": _settings(SPACES.get(name)),
             "usage": f"--space {name} [--space-arg KEY=VALUE]..."} for name in SPACES.names()]


def _datasets() -> list[dict[str, Any]]:
    from archsearch.data._base import DATASETS

    return [{"name": name, "description": _summary(DATASETS.get(name)),
             "settings": _settings(DATASETS.get(name)), "usage": f"--dataset {name}"}
            for name in DATASETS.names()]


def _proxies() -> list[dict[str, Any]]:
    from archsearch.evaluators import proxies

    rows = []
    for name in proxies.PROXIES:
        scorer = getattr(proxies, f"{name}_score", None)
        rows.append({"name": name, "settings": [],
                     "description": _summary(scorer) if scorer else f"the network's {name}",
                     "usage": f"--evaluator proxy:{name}"})
    return rows


_LISTERS: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "strategies": _strategies, "pruners": _pruners, "evaluators": _evaluators,
    "spaces": _spaces, "datasets": _datasets, "proxies": _proxies}


def listing(kind: str) -> list[dict[str, Any]]:
    """The entries of ``kind``: name, description, settings (name, default, type), usage.

    Raises:
        UnknownNameError: ``kind`` is not one of :data:`KINDS`, with the closest suggested.
    """
    if kind not in _LISTERS:
        raise unknown_name("list kind", kind, KINDS, f"'archsearch list KIND' with KIND one of "
                           f"{', '.join(KINDS)}")
    return _LISTERS[kind]()


def _setting_text(s: dict[str, Any]) -> str:
    if "flag" in s:
        return f"{s['name']} (by {s['flag']})"
    if s.get("required"):
        return f"{s['name']}=REQUIRED"
    if "choices" in s:
        return f"{s['name']}={','.join(map(str, s['default']))} (from {', '.join(s['choices'])})"
    return f"{s['name']}={json.dumps(s['default'])}"


def run(args: argparse.Namespace) -> int:
    rows = listing(args.kind)
    if args.json:
        print(json.dumps({"kind": args.kind, "entries": rows}, indent=2))
        return 0
    for row in rows:
        print(f"{row['name']}: {row['description']}")
        if row["settings"]:
            print("    " + "  ".join(_setting_text(s) for s in row["settings"]))
        print(f"    usage: {row['usage']}")
    return 0
