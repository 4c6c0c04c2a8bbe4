"""The README's snippets do what it says: every Python snippet runs as printed, against a real
run and a history holding a junk file; every orchestrator command it prints is a valid plan; the
merge and machines commands run on real runs."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT, QUICK, run_cli
from orchestrator.cli import run as cli
from orchestrator.execute.display import make_console

README = PROJECT_ROOT / "README.md"
_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>\w*)\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)


def snippets(language: str) -> list[str]:
    """The README's fenced blocks of ``language``, dedented (a block inside a list is indented)."""
    return [
        textwrap.dedent(match["body"])
        for match in _FENCE.finditer(README.read_text())
        if match["lang"] == language
    ]


def orchestrator_commands() -> list[list[str]]:
    """Each ``python -m orchestrator ...`` command of the README's shell blocks, as argv after
    ``-m orchestrator`` (continuation lines joined, comments dropped)."""
    commands = []
    for block in snippets("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if "orchestrator" in words and words[words.index("orchestrator") - 1] == "-m":
                commands.append(words[words.index("orchestrator") + 1 :])
    return commands


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory as a user's would be after two runs with --history, plus a junk file in the
    history that the tool itself skips."""
    root = tmp_path_factory.mktemp("readme")
    for _ in range(2):
        proc = run_cli(["--frameworks", "fake", "--history", "results/history", "--quiet", *QUICK], cwd=root)
        assert proc.returncode == 0, proc.stderr
    junk = root / "results/history/summary/date=2026-01-01/host=junk/20260101T000000Z-junk00.parquet"
    junk.parent.mkdir(parents=True)
    junk.write_text("not a Parquet file")
    return root


def test_the_readme_has_the_snippets_this_file_tests() -> None:
    python = snippets("python")
    assert len(python) >= 6, "the run's summary (pyarrow, pandas, DuckDB, polars) and the history"
    assert any("pyarrow" in block and "summary.parquet" in block for block in python)
    assert any("results/history" in block for block in python)
    assert len(orchestrator_commands()) >= 8


def test_every_python_snippet_runs_as_printed(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In README order and one namespace, as a user pasting them into one session would."""
    monkeypatch.chdir(workspace)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in snippets("python"):
            exec(compile(block, str(README), "exec"), namespace)
    out = printed.getvalue()
    assert "'framework': 'fake'" in out  # the pyarrow snippet's rows
    assert "skipped results/history/summary/date=2026-01-01/host=junk/" in out  # the junk file, named
    assert "2 rows from 2 runs" in out  # the history's two real runs, the junk left out
    assert out.count("fake") >= 6  # pandas, DuckDB, polars and DuckDB on the history print the rows


def _plan(argv: list[str]) -> None:
    """What ``python -m orchestrator ARGV`` checks before it runs anything: flags, config, plan."""
    parser = cli.build_parser()
    args = cli._parse(parser, argv)
    workloads = cli._workloads(args, make_console())
    cli._plan_from(args, workloads, None)


_RUNS = [c for c in orchestrator_commands() if c and not c[0].isalpha()]  # not a subcommand


@pytest.mark.parametrize("argv", _RUNS, ids=[" ".join(c)[:60] for c in _RUNS])
def test_every_orchestrator_command_in_the_readme_is_a_valid_plan(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(PROJECT_ROOT)  # the README's commands run from the repository's root
    _plan(argv)  # configs/nightly.toml included, as printed: it names no CPU ids


@pytest.mark.parametrize("subcommand", ["merge", "machines"])
def test_the_readme_prints_merge_and_machines_as_this_file_runs_them(subcommand: str) -> None:
    assert any(c and c[0] == subcommand for c in orchestrator_commands())


def test_merge_and_machines_run_on_real_runs(workspace: Path) -> None:
    """The README's merge (run directories into a store) and machines (the store's report)."""
    runs = sorted(str(p) for p in (workspace / "results").glob("2*T*Z-*"))
    merged = run_cli(["merge", *runs, "--history", "store"], cwd=workspace)
    assert merged.returncode == 0, merged.stderr
    report = run_cli(["machines", "--history", "store", "--output", "."], cwd=workspace)
    assert report.returncode == 0, report.stderr
    assert (workspace / "machines.md").is_file()


def test_the_commands_to_remove_the_environments_exist() -> None:
    """`rm -rf ENVS` and `.venv/bin/uv cache clean`: uv is installed beside the interpreter."""
    assert any("uv cache clean" in block for block in snippets("sh"))
    assert (Path(sys.executable).parent / "uv").is_file()


def options_table() -> list[tuple[set[str], str]]:
    """The README's options table: each row's flags and its default column."""
    text = README.read_text()
    start = text.index("| flag | default | meaning |")
    rows = text[start : text.index("\n\n", start)].splitlines()[2:]
    return [
        (set(re.findall(r"--[a-z][a-z-]*", row.split("|")[1])), row.split("|")[2].strip()) for row in rows
    ]


def test_the_options_table_names_every_flag_of_the_parser_and_no_other() -> None:
    named = set().union(*(flags for flags, _ in options_table()))
    parser = cli.build_parser()
    flags = {o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"}
    # Every switch has its --no- form (the README says so once); the table may name it or not.
    switched_off = {f for f in flags if f.startswith("--no-") and "--" + f[5:] in named}
    assert named - switched_off == flags - switched_off


def test_the_options_tables_numeric_defaults_are_the_parsers() -> None:
    parser = cli.build_parser()
    by_flag = {o: a for a in parser._actions for o in a.option_strings}
    checked = 0
    for flags, default in options_table():
        number = default.replace(",", "")
        if len(flags) != 1 or not re.fullmatch(r"\d+(\.\d+)?", number):
            continue
        (flag,) = flags
        assert float(by_flag[flag].default) == float(number), flag
        checked += 1
    assert checked >= 8  # --samples-per-query, --instances, --seed, --repeats, --warmup, ...


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_of_the_readme_and_docs_leads_somewhere() -> None:
    """Relative links name files of the repository; #anchors name headings of their page."""
    for page in [README, *sorted((PROJECT_ROOT / "docs").glob("*.md"))]:
        text = page.read_text()
        anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://")):
                continue
            path, _, anchor = target.partition("#")
            if path:
                assert (page.parent / path).exists(), f"{page.name}: {target}"
            else:
                assert anchor in anchors, f"{page.name}: {target}"


def script_commands() -> list[tuple[str, list[str]]]:
    """Each ``scripts/NAME.py --flags`` of the shell blocks in the README and docs/: the script
    and the flags given to it (those after a ``--`` go on to the orchestrator)."""
    found = []
    for page in [README, *sorted((PROJECT_ROOT / "docs").glob("*.md"))]:
        blocks = [m["body"] for m in _FENCE.finditer(page.read_text()) if m["lang"] == "sh"]
        for line in "\n".join(blocks).replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            scripts = [w for w in words if w.startswith("scripts/") and w.endswith(".py")]
            if scripts:
                given = words[words.index(scripts[0]) + 1 :]
                given = given[: given.index("--")] if "--" in given else given
                found.append((scripts[0], [w.split("=")[0] for w in given if w.startswith("--")]))
    return found


@pytest.mark.parametrize(("script", "flags"), script_commands(), ids=lambda v: str(v)[:40])
def test_every_script_command_in_the_readme_and_docs_uses_flags_the_script_has(
    script: str, flags: list[str]
) -> None:
    proc = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / script), "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    for flag in flags:
        assert re.search(rf"{re.escape(flag)}\b", proc.stdout), f"{script} has no {flag}"
