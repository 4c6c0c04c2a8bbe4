"""TOML config files: keys from the real parser, values typed as the CLI types them, flags win."""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

from conftest import PROJECT_ROOT
from orchestrator.cli.config import ConfigError, load_config
from orchestrator.cli.run import _parse, _plan_from, build_parser
from orchestrator.host import allowed_cpus
from orchestrator.plan.workloads import builtin

NIGHTLY = PROJECT_ROOT / "configs" / "nightly.toml"
_PARSER_DESTS = {action.dest for action in build_parser()._actions}


def _write(tmp_path: Path, text: str, name: str = "bench.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _load(tmp_path: Path, text: str) -> dict[str, Any]:
    return load_config(_write(tmp_path, text), build_parser())


def _flag_text(value: Any) -> str:
    """A TOML value as it would be typed after its flag on the command line."""
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def test_the_nightly_config_gives_what_the_same_flags_give() -> None:
    """Every key the real parser knows round-trips to exactly what ``--key value`` parses to."""
    config = load_config(NIGHTLY, build_parser())
    document = tomllib.loads(NIGHTLY.read_text(encoding="utf-8"))
    known = {key: value for key, value in document.items() if key.replace("-", "_") in _PARSER_DESTS}
    assert known == document  # every key of the nightly file is a flag of the real parser
    assert set(config) == {key.replace("-", "_") for key in document}

    argv: list[str] = []
    for key, value in known.items():
        if isinstance(value, bool):
            argv += [f"--{key}"] if value else []
        else:
            argv += [f"--{key}", _flag_text(value)]
    from_flags = vars(build_parser().parse_args(argv))
    repeatable = {
        a.dest
        for a in build_parser()._actions
        if isinstance(a, argparse._AppendAction) and not isinstance(a, argparse._ExtendAction)
    }
    for key in known:
        dest = key.replace("-", "_")
        if dest in repeatable:  # an array in the file is the flag given once per item
            assert [x for items in config[dest] for x in items] == [
                x for items in from_flags[dest] for x in items
            ]
            continue
        assert config[dest] == from_flags[dest], key
        assert type(config[dest]) is type(from_flags[dest]), key


def test_the_nightly_config_holds_the_intended_matrix() -> None:
    config = load_config(NIGHTLY, build_parser())
    assert config["frameworks"] == ("pytorch", "tensorflow", "jax", "onnxruntime", "openvino")
    assert config["scenario"] == ("offline", "single-stream")
    assert config["batch_size"] == (1000,)
    assert "threads" not in config and "cpus" not in config  # the machine's allowed CPUs, any ids
    assert config["repeats"] == 5
    assert config["min_time"] == 1.0 and isinstance(config["min_time"], float)
    assert config["warmup"] == 50
    assert config["precision"] == ("fp32",)
    assert config["report"] == ["csv", "md", "png"]
    assert config["output"] == Path("results/nightly")
    assert config["history"] == Path("results/history")
    assert config["fail_on_regression"] == 10.0
    assert config["strict"] is True


def test_the_nightly_config_plans_on_a_machine_without_cpus_0_and_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """configs/nightly.toml as scripts/nightly.sh runs it, on a machine whose only allowed CPU is
    this one's last (never both 0 and 1): the plan takes the allowed CPUs, one thread each."""
    monkeypatch.chdir(PROJECT_ROOT)  # the config's output and history are relative to the checkout
    last = allowed_cpus()[-1]
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {last})  # this thread only; restored below
    try:
        parser = build_parser()
        args = _parse(parser, ["--config", str(NIGHTLY)])
        plan = _plan_from(args, {"mlp": builtin("mlp")}, None)
    finally:
        os.sched_setaffinity(0, before)
    assert plan.cpus == (last,) and plan.threads == (1,)


def test_the_whole_nightly_config_loads_with_the_real_history_flags() -> None:
    config = load_config(NIGHTLY, build_parser())
    assert config["history"] == Path("results/history")
    assert config["fail_on_regression"] == 10.0
    assert type(config["fail_on_regression"]) is float


def test_without_the_history_flags_their_keys_are_unknown(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int)
    message = _error(_write(tmp_path, "history = 'h'\n"), parser)
    assert "unknown key 'history'" in message


def test_every_value_has_the_type_argparse_gives_it(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        """
        frameworks = "pytorch,onnxruntime"
        scenario = "single-stream"
        batch-size = [1, 8]
        threads = 1
        cpus = "0-1"
        precision = "bf16"
        inputs = "data/in.parquet"
        seed = 7
        in-process = true
        compare-isolation = false
        repeats = 2
        warmup = 0
        min-iterations = 10
        max-iterations = 1000
        min-time = 0
        timeout = 60
        output = "out"
        report = "md"
        baseline = "pytorch"
        quiet = true
        """,
    )
    assert config == {
        "frameworks": ("pytorch", "onnxruntime"),
        "scenario": ("single-stream",),
        "batch_size": (1, 8),
        "threads": (1,),
        "cpus": (0, 1),
        "precision": ("bf16",),
        "inputs": Path("data/in.parquet"),
        "seed": 7,
        "in_process": True,
        "compare_isolation": False,
        "repeats": 2,
        "warmup": 0,
        "min_iterations": 10,
        "max_iterations": 1000,
        "min_time": 0.0,
        "timeout": 60.0,
        "output": Path("out"),
        "report": ["md"],
        "baseline": "pytorch",
        "quiet": True,
    }
    for key in ("min_time", "timeout"):
        assert type(config[key]) is float
    for key in ("repeats", "warmup", "seed"):
        assert type(config[key]) is int


def test_dashes_and_underscores_both_name_a_flag(tmp_path: Path) -> None:
    dashes = _load(tmp_path, "batch-size = 8\nmin-time = 0.5\nin-process = true\n")
    underscores = _load(tmp_path, "batch_size = 8\nmin_time = 0.5\nin_process = true\n")
    assert dashes == underscores == {"batch_size": (8,), "min_time": 0.5, "in_process": True}


@pytest.mark.parametrize(
    ("as_array", "as_string", "key", "expected"),
    [
        ("[1, 8, 64]", '"1,8,64"', "batch_size", (1, 8, 64)),
        ("[1, 2]", '"1,2"', "threads", (1, 2)),
        ("[0, 1]", '"0-1"', "cpus", (0, 1)),
        ('["pytorch", "jax"]', '"pytorch,jax"', "frameworks", ("pytorch", "jax")),
        ('["csv", "png"]', '"csv,png"', "report", ["csv", "png"]),
    ],
)
def test_arrays_and_comma_strings_are_the_same(
    tmp_path: Path, as_array: str, as_string: str, key: str, expected: tuple[Any, ...]
) -> None:
    flag = key.replace("_", "-")
    assert _load(tmp_path, f"{flag} = {as_array}") == {key: expected}
    assert _load(tmp_path, f"{flag} = {as_string}") == {key: expected}


def test_the_command_line_overrides_the_config(tmp_path: Path) -> None:
    path = _write(tmp_path, 'frameworks = ["onnxruntime"]\nrepeats = 3\nbatch-size = [1, 8]\nstrict = true\n')
    parser = build_parser()
    parser.set_defaults(**load_config(path, parser))
    cpu = str(allowed_cpus()[0])
    args = parser.parse_args(["--repeats", "1", "--cpus", cpu])
    assert args.repeats == 1  # the flag wins
    assert args.batch_size == (1, 8) and args.strict is True  # the config fills the rest
    assert args.frameworks == ("onnxruntime",)
    assert args.warmup == 50  # neither: the built-in default
    plan = _plan_from(args, {"mlp": builtin("mlp")}, None)
    assert plan.repeats == 1 and plan.batch_sizes == (1, 8) and plan.frameworks == ("onnxruntime",)


def test_a_flag_added_to_the_parser_is_configurable_at_once(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", type=Path)
    parser.add_argument("--fail-on-regression", type=float)
    parser.add_argument("--verbose-level", type=int, choices=[0, 1, 2])
    config = load_config(
        _write(tmp_path, 'history = "h"\nfail_on_regression = 10\nverbose-level = 2\n'), parser
    )
    assert config == {"history": Path("h"), "fail_on_regression": 10.0, "verbose_level": 2}
    with pytest.raises(ConfigError, match="fail-on-regression': expected a percentage"):
        load_config(_write(tmp_path, "fail-on-regression = -1\n"), parser)
    with pytest.raises(ConfigError, match="verbose-level': invalid choice: 3"):
        load_config(_write(tmp_path, "verbose-level = 3\n"), parser)


def _error(path: Path, parser: argparse.ArgumentParser | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, build_parser() if parser is None else parser)
    message = str(caught.value)
    assert "\n" not in message, message
    assert path.name in message, message
    return message


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("batch-size = 0", "batch-size", "expected a positive integer or a comma list of them, got 0"),
        ("batch_size = [8, 0]", "batch_size", "got [8, 0]"),
        ('batch-size = "ten"', "batch-size", "got 'ten'"),
        ("batch-size = 1.5", "batch-size", "got 1.5"),
        ("repeats = true", "repeats", "got true"),
        ("min-time = -1", "min-time", "zero or more seconds"),
        ("min-time = nan", "min-time", "got nan"),
        ("timeout = 0", "timeout", "positive number of seconds"),
        ('cpus = "1-0"', "cpus", "CPU numbers"),
        ('frameworks = ["pytorch", ""]', "frameworks", "framework names"),
        ('report = ["csv", "pdf"]', "report", "csv, md, png"),
        ('scenario = "serve"', "scenario", "expected a comma list of offline"),
        ('precision = "fp16"', "precision", "expected a comma list of fp32, bf16, int8"),
        ('strict = "yes"', "strict", "expected true or false, got 'yes'"),
        ("quiet = 1", "quiet", "expected true or false"),
        ("threads = [[1, 2]]", "threads", "expected a string, a number or an array"),
        ("[output]\ndir = 'x'", "output", "got a table"),
        ("unknown-thing = 1", "unknown-thing", "unknown key"),
        ("batchsize = 8", "batchsize", "did you mean 'batch-size'"),
        ("min_itertions = 8", "min_itertions", "did you mean 'min-iterations'"),
        ('config = "other.toml"', "config", "not allowed"),
        ("help = true", "help", "not allowed"),
        ("batch-size = 1\nbatch_size = 2", "batch_size", "already set as 'batch-size'"),
    ],
)
def test_a_bad_key_or_value_is_one_line_naming_the_file_and_the_key(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    message = _error(_write(tmp_path, text + "\n", "nightly.toml"))
    assert message.startswith(f"{tmp_path / 'nightly.toml'}: "), message
    assert f"'{key}'" in message, message
    assert expected in message, message


def test_invalid_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "repeats = 3\nbatch-size 8\nwarmup = 1\n"))
    assert "invalid TOML" in message and "line 2" in message, message


def test_a_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin.toml"
    path.write_bytes(b'baseline = "caf\xe9"\n')
    assert "invalid TOML" in _error(path)


def test_a_missing_or_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    assert "cannot read" in _error(tmp_path / "missing.toml")
    directory = tmp_path / "dir.toml"
    directory.mkdir()
    assert "cannot read" in _error(directory)


def test_an_empty_config_changes_nothing(tmp_path: Path) -> None:
    assert _load(tmp_path, "# nothing yet\n") == {}


def test_a_slurm_table_sets_the_slurm_flags_and_its_mistakes_name_the_table_key(tmp_path: Path) -> None:
    values = _load(tmp_path, 'executor = "slurm"\n[slurm]\npartition = "cpu"\ntime = "1:30:00"\n')
    assert values["executor"] == "slurm" and values["slurm_partition"] == "cpu" and values["slurm_time"] == 90
    with pytest.raises(ConfigError, match=r"key 'slurm\.tiem' \(did you mean 'slurm-time'"):
        _load(tmp_path, "[slurm]\ntiem = 5\n")
    with pytest.raises(ConfigError, match=r"key 'slurm\.time': .*minutes or \[D-\]HH:MM:SS"):
        _load(tmp_path, '[slurm]\ntime = "soon"\n')
