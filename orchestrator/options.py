"""Execution options: each framework's own choices (``--option FRAMEWORK.KEY=VALUE[,VALUE]``),
expanded into option sets, and ``--tune``, which tries every choice one at a time from the
defaults so that a user can let the machine decide.

The choices are declared by each runner (``Runner.options``); the runner modules import no
framework at module level, so reading them here keeps the parent free of frameworks.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from runners.registry import FRAMEWORKS, load_runner_class

OptionSets = dict[str, list[dict[str, str]]]  # framework -> the option sets its cells run


class OptionError(ValueError):
    """An --option names no framework, key or value that exists; the message says which."""


def declared(framework: str) -> dict[str, Any]:
    """The options ``framework``'s runner offers, by key (none for tools and fakes)."""
    if framework not in FRAMEWORKS:
        return {}
    options: dict[str, Any] = getattr(load_runner_class(framework), "options", {})
    return options


def defaults(framework: str) -> dict[str, str]:
    """Every option of ``framework`` at its default."""
    return {key: option.default for key, option in declared(framework).items()}


def parse(text: str) -> tuple[str, str, tuple[str, ...]]:
    """``tensorflow.jit_compile=true,false`` -> (framework, key, values); ValueError if malformed."""
    target, sep, values = text.partition("=")
    framework, dot, key = target.partition(".")
    choices = tuple(value.strip() for value in values.split(","))
    if not (sep and dot and framework.strip() and key.strip() and all(choices)):
        raise ValueError(text)
    return framework.strip(), key.strip(), choices


def option_sets(
    frameworks: list[str], asked: dict[str, dict[str, tuple[str, ...]]], tune: bool
) -> OptionSets:
    """The option sets each framework's cells run: every combination of the values asked for
    (the rest at their defaults); with ``tune``, each remaining option's every other choice
    too, one at a time."""
    for framework, wanted in asked.items():
        if framework not in frameworks:
            raise OptionError(
                f"{framework}.{next(iter(wanted))}: {framework} is not among the frameworks run"
            )
        offered = declared(framework)
        for key, values in wanted.items():
            if key not in offered:
                known = ", ".join(offered) or "none"
                raise OptionError(
                    f"{framework}.{key}: {framework} has no option {key!r} (its options: {known})"
                )
            wrong = [value for value in values if value not in offered[key].choices]
            if wrong:
                raise OptionError(
                    f"{framework}.{key}={wrong[0]}: expected one of {', '.join(offered[key].choices)}"
                )
            if len(set(values)) != len(values):
                raise OptionError(f"{framework}.{key}: a value is given twice")
    sets: OptionSets = {}
    for framework in frameworks:
        base = defaults(framework)
        fixed = asked.get(framework, {})
        keys = list(fixed)
        combos = [dict(zip(keys, values)) for values in itertools.product(*(fixed[k] for k in keys))] or [{}]
        found = [{**base, **combo} for combo in combos]
        if tune:
            for key, option in declared(framework).items():
                if key in fixed:
                    continue
                for choice in option.choices[1:]:
                    found += [{**candidate, key: choice} for candidate in found[: len(combos)]]
        sets[framework] = [dict(candidate) for candidate in _unique(found)]
    return sets


def _unique(candidates: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for candidate in candidates:
        seen.setdefault(as_json(candidate), candidate)
    return list(seen.values())


def as_json(options: dict[str, str]) -> str:
    """An option set as the configuration's ``options_json``: sorted, so equal sets compare equal."""
    return json.dumps(options, sort_keys=True)


def non_default(framework: str, options_json: str | None) -> str:
    """``jit_compile=false`` for what differs from the framework's defaults; "default" when nothing does."""
    options = json.loads(options_json or "{}")
    base = defaults(framework)
    changed = [f"{key}={value}" for key, value in sorted(options.items()) if base.get(key) != value]
    return " ".join(changed) or "default"


def tuning_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per framework (and configuration but the options), every option set tried with its p50,
    the fastest first: what --tune found."""
    from schemas.configuration import config_key

    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        if (
            row["status"] == "ok"
            and row.get("latency_ms_p50") is not None
            and row.get("parity_ok") is not False
        ):
            key = (row["framework"], row.get("framework_pin"), config_key(row, without=("options_json",)))
            groups.setdefault(key, []).append(row)
    summary = []
    for (framework, pin, _), tried in groups.items():
        tried.sort(key=lambda row: row["latency_ms_p50"])
        summary.append(
            {
                "framework": framework if pin is None else f"{framework}@{pin}",
                "model": tried[0].get("model"),
                "fastest": json.loads(tried[0]["options_json"]),
                "tried": [
                    {
                        "options": json.loads(row["options_json"]),
                        "latency_ms_p50": row["latency_ms_p50"],
                        "config_id": row["config_id"],
                    }
                    for row in tried
                ],
            }
        )
    return summary
