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

import numpy as np

from orchestrator.figures.stats import FASTER, MIN_PROCESSES, NOT_JUDGED, SAME, format_p_value, judge_latency
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


def for_precision(framework: str, sets: list[dict[str, str]], precision: str) -> list[dict[str, str]]:
    """The option sets a cell at ``precision`` runs: without the options that do not apply to it
    (a quantization choice at fp32), each distinct set once."""
    offered = declared(framework)
    return _unique(
        [{k: v for k, v in s.items() if k not in offered or offered[k].applies_to(precision)} for s in sets]
    )


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


# Worker processes each option set runs in under --tune when --repeats is not given: a winner
# is named only when every process of it beats every process of the default (stats.judge_latency).
TUNE_REPEATS = 3


def tuning_summary(
    rows: list[dict[str, Any]],
    latencies: dict[str, np.ndarray],
    process_p50s: dict[str, list[float]],
    min_effect_pct: float = 5.0,
    alpha: float = 0.01,
) -> list[dict[str, Any]]:
    """Per framework (and configuration but the options): every option set tried, judged
    against the default set by the test ``compare`` uses, and the winner -- the fastest set
    judged ``faster`` -- or None when no set beats the default beyond noise.

    ``latencies`` and ``process_p50s`` are the timed calls and the per-process medians of each
    ``config_id`` (compare.latencies_by_config, compare.process_p50s_by_config).
    """
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
        base = next((row for row in tried if row["options_json"] == as_json(defaults(framework))), tried[0])
        judged = [_judge(base, row, latencies, process_p50s, min_effect_pct, alpha) for row in tried]
        judged.sort(key=lambda entry: float(entry["latency_ms_p50"]))
        winners = [entry for entry in judged if entry["verdict"] == FASTER]
        entry = {
            "framework": framework if pin is None else f"{framework}@{pin}",
            "model": tried[0].get("model"),
            "default": json.loads(base["options_json"]),
            "fastest": judged[0]["options"],
            "winner": winners[0]["options"] if winners else None,
            "tried": judged,
        }
        entry["verdict"] = tuning_line(entry, framework)
        summary.append(entry)
    return summary


def _judge(
    base: dict[str, Any],
    row: dict[str, Any],
    latencies: dict[str, np.ndarray],
    process_p50s: dict[str, list[float]],
    min_effect_pct: float,
    alpha: float,
) -> dict[str, Any]:
    """One option set against the default: its p50, change, p-value, verdict and processes."""
    found: dict[str, Any] = {
        "options": json.loads(row["options_json"]),
        "latency_ms_p50": row["latency_ms_p50"],
        "config_id": row["config_id"],
        "is_default": row is base,
        "change_pct": 100.0 * (row["latency_ms_p50"] - base["latency_ms_p50"]) / base["latency_ms_p50"],
        "p_value": None,
        "verdict": SAME if row is base else NOT_JUDGED,
        "processes": len(process_p50s.get(str(row["config_id"]), [])),
    }
    base_ns, new_ns = latencies.get(str(base["config_id"])), latencies.get(str(row["config_id"]))
    if row is not base and base_ns is not None and new_ns is not None and base_ns.size and new_ns.size:
        processes = (
            process_p50s.get(str(base["config_id"]), []),
            process_p50s.get(str(row["config_id"]), []),
        )
        found["verdict"], found["p_value"] = judge_latency(
            base_ns, new_ns, processes, found["change_pct"], min_effect_pct=min_effect_pct, alpha=alpha
        )
    return found


def _p_text(p_value: float) -> str:
    """``<0.001`` or ``=0.0034``: to follow a ``p``."""
    text = format_p_value(p_value)
    return text if text.startswith("<") else f"={text}"


def tuning_line(entry: dict[str, Any], framework: str) -> str:
    """What --tune found for one framework, in one line: the winner with its evidence, or that
    no option beats the default beyond noise (and why, when too few processes ran to judge)."""
    name = f"{entry['framework']} ({entry['model']})"
    tried: list[dict[str, Any]] = entry["tried"]
    base = next(t for t in tried if t["is_default"])

    def label(options: dict[str, str]) -> str:
        return non_default(framework, as_json(options))

    if entry["winner"] is not None:
        won = next(t for t in tried if t["options"] == entry["winner"])
        return (
            f"{name}: {label(won['options'])} beats the default by {-won['change_pct']:.1f} % "
            f"({won['latency_ms_p50']:.4g} ms against {base['latency_ms_p50']:.4g} ms, "
            f"p{_p_text(won['p_value'])}, {base['processes']} vs {won['processes']} processes)"
        )
    others = [t for t in tried if not t["is_default"]]
    line = f"{name}: no option beats the default beyond noise"
    if not others:
        return f"{name}: only the default was tried"
    fastest = others[0]  # tried is fastest first
    detail = (
        f"default {base['latency_ms_p50']:.4g} ms; fastest try {label(fastest['options'])} "
        f"{fastest['latency_ms_p50']:.4g} ms, {fastest['change_pct']:+.1f} %"
    )
    if min(t["processes"] for t in tried) < MIN_PROCESSES:
        return (
            f"{line}: one process per option set cannot tell an option from noise, run --tune "
            f"with --repeats {TUNE_REPEATS} ({detail})"
        )
    return f"{line} ({detail}; {min(t['processes'] for t in tried)}+ processes each)"
