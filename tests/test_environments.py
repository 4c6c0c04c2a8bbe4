"""Each framework's own environment: built by uv from pinned requirements, keyed by them, reused,
never used half-built; a failed build costs only its framework's cells; two versions of one
framework run side by side."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.parse
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from test_user_models import onnx_model

from conftest import QUICK, only_run_dir, run_cli, summary_rows
from orchestrator.execute.env_status import ConsoleStatus, home_relative, size_text
from orchestrator.execute.environments import (
    PYTORCH_CPU_INDEX,
    Environment,
    FrameworkRef,
    Recipe,
    WheelSource,
    _pinned,
    _requirements,
    ensure,
    read_constraints,
    recipe_for,
    torch_source,
    uv_reason,
)


def test_a_recipe_holds_its_framework_alone_at_the_constrained_versions() -> None:
    constraints = read_constraints()
    recipe = recipe_for([FrameworkRef("pytorch")], "pytorch", constraints)
    assert "torch==2.13.0+cpu" in recipe.requirements  # the CPU build, never PyPI's CUDA one
    assert {"transformers", "numpy", "pyarrow", "psutil", "safetensors"} <= set(recipe.requirements)
    assert not any(
        r.startswith(("tensorflow", "jax", "onnxruntime", "openvino")) for r in recipe.requirements
    )
    assert "tensorflow-text" in recipe.excludes  # keras-hub's, which pulls a second TensorFlow
    assert recipe.key == recipe_for([FrameworkRef("pytorch")], "pytorch", constraints).key


def test_a_changed_pin_makes_a_new_environment_and_a_version_releases_its_own() -> None:
    constraints = read_constraints()
    base = recipe_for([FrameworkRef("onnxruntime")], "onnxruntime", constraints)
    bumped = recipe_for(
        [FrameworkRef("onnxruntime")], "onnxruntime", {**constraints, "numpy": "numpy==2.3.0"}
    )
    assert bumped.key != base.key
    older = recipe_for([FrameworkRef("onnxruntime", "1.31.1")], "onnxruntime@1.31.1", constraints)
    assert "onnxruntime==1.31.1" in older.requirements
    assert not any(line.startswith("onnxruntime==") for line in older.constraints)  # released
    assert "numpy==" + constraints["numpy"].split("==")[1] in older.constraints  # the rest pinned
    assert older.directory_name.startswith("onnxruntime-1.31.1-")


class Recorded:
    """A StatusHandler that keeps what it is told."""

    def __init__(self) -> None:
        self.said: list[str] = []

    def reused(self, env: Environment) -> None:
        self.said.append(f"reused {env.name}")

    def building(self, name: str, torch: WheelSource | None) -> None:
        self.said.append(f"building {name}" + ("" if torch is None else f" torch from {torch.location}"))

    def step(self, name: str, line: str) -> None:
        self.said.append(f"step {name}")

    def finished(self, env: Environment) -> None:
        self.said.append(f"finished {env.name}" + (f": {env.error}" if env.error else ""))


@pytest.fixture(scope="module")
def built_over_a_half_built_one(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, Environment, Recorded]:
    """One build of ONNX Runtime's environment (uv's install is most of each of these tests),
    over what a build killed half-way leaves: its directory with a python and no marker.
    Returns the envs root, the leftover directory, the environment and what the build said."""
    root = tmp_path_factory.mktemp("envs")
    leftover = root / recipe_for([FrameworkRef("onnxruntime")], "onnxruntime").directory_name
    (leftover / "bin").mkdir(parents=True)
    (leftover / "bin" / "python").write_text("#!/bin/sh\nexit 1\n")
    status = Recorded()
    env = ensure(recipe_for([FrameworkRef("onnxruntime")], "onnxruntime"), "own", root, status)
    return root, leftover, env, status


def test_a_half_built_environment_is_never_used(
    built_over_a_half_built_one: tuple[Path, Path, Environment, Recorded],
) -> None:
    _, leftover, env, _ = built_over_a_half_built_one
    assert env.error is None and not env.reused
    assert (leftover / ".complete").is_file()  # built again, from scratch


def test_an_environment_is_built_once_and_reused(
    built_over_a_half_built_one: tuple[Path, Path, Environment, Recorded],
) -> None:
    tmp_path, _, first, status = built_over_a_half_built_one
    recipe = recipe_for([FrameworkRef("onnxruntime")], "onnxruntime")
    assert first.error is None and first.python is not None and first.python.exists(), first.error
    assert not first.reused and status.said[0] == "building onnxruntime"  # no torch in it
    assert "step onnxruntime" in status.said and status.said[-1] == "finished onnxruntime"
    again = ensure(recipe, "own", tmp_path, status)
    assert again.reused and again.python == first.python and status.said[-1] == "reused onnxruntime"
    lock = (first.path or tmp_path) / "lock.txt"
    assert any(line.startswith("onnxruntime==") for line in lock.read_text().splitlines())
    assert (tmp_path / recipe.directory_name / "pylock.toml").is_file()  # what uv resolved, kept
    assert first.record()["torch_wheel"] is None
    (first.path or tmp_path).joinpath("pylock.toml").unlink()  # as one built before it was kept
    assert first.record()["torch_wheel"] is None  # still none: its lock holds no torch
    (first.path or tmp_path).joinpath("lock.txt").write_text("torch==2.13.0+cpu\n")
    assert first.record()["torch_wheel"] == "unrecorded (built before its pylock.toml was kept)"
    assert oct(first.python.parent.parent.stat().st_mode & 0o777) == oct(0o755)  # as the umask says


def test_a_build_that_fails_skips_only_its_framework(tmp_path: Path) -> None:
    # PyTorch's torch from an index that answers nothing (set by the config file's key): its
    # build fails, its cells are skipped with uv's reason, the rest runs.
    dead = f"http://127.0.0.1:{_closed_port()}/simple"
    config = tmp_path / "bench.toml"
    config.write_text(f'torch-index-url = "{dead}"\n')
    envs = tmp_path / "envs"
    args = ["--config", str(config), "--frameworks", "pytorch,fake", "--envs-dir", str(envs), *QUICK]
    proc = run_cli(args, cwd=tmp_path, env=NO_WHEEL_FOLDER_NO_RETRIES)
    assert proc.returncode == 0, proc.stderr  # skipped is not failed (unless --strict)
    rows = summary_rows(only_run_dir(tmp_path / "results"))
    skipped = rows["pytorch"]
    assert skipped["status"] == "skipped"
    assert skipped["error"].startswith("its environment could not be built: uv: ")
    assert "127.0.0.1" in skipped["error"], skipped["error"]
    assert rows["fake"]["status"] == "ok"
    assert not list(envs.glob("pytorch-*/.complete"))
    assert (
        proc.stdout.splitlines()[0] == f"environment pytorch: building with uv (torch from {dead})... failed"
    )


def test_a_version_that_cannot_be_had_is_a_usage_error_before_anything_is_written(tmp_path: Path) -> None:
    proc = run_cli(
        ["--frameworks", "onnxruntime@9.9.9,fake", "--envs-dir", str(tmp_path / "envs"), *QUICK], cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        "python -m orchestrator: error: argument --frameworks: onnxruntime@9.9.9: uv: No solution found"
    ), lines[0]
    assert "onnxruntime==9.9.9" in lines[0]
    assert not (tmp_path / "results").exists()  # no run directory, no cell ran


def test_two_versions_of_a_framework_run_side_by_side(tmp_path: Path) -> None:
    proc = run_cli(
        ["--frameworks", "onnxruntime@1.31.1,onnxruntime", "--batch-size", "16", *QUICK], cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run_dir(tmp_path / "results")
    rows = {row["framework_pin"]: row for row in _rows(run_dir)}
    assert rows["1.31.1"]["framework_version"] == "1.31.1"
    assert rows[None]["framework_version"] != "1.31.1"
    assert rows["1.31.1"]["config_id"] != rows[None]["config_id"]  # two configurations
    assert rows["1.31.1"]["environment_key"] != rows[None]["environment_key"]
    for row in rows.values():
        assert row["status"] == "ok" and row["parity_ok"], row["error"]
    assert "onnxruntime@1.31.1" in proc.stdout
    environments = json.loads((run_dir / "environment.json").read_text())["environments"]
    assert set(environments) == {"onnxruntime@1.31.1", "onnxruntime"}
    assert "onnxruntime==1.31.1" in environments["onnxruntime@1.31.1"]["lock"]


def test_uv_reason_is_the_line_that_says_why() -> None:
    stderr = (
        "  x No solution found when resolving dependencies:\n"
        "error: No solution found when resolving dependencies\n"
        "cause: Because there is no version of onnxruntime==0.0.1 and you require onnxruntime==0.0.1, "
        "we can conclude that your requirements are unsatisfiable.\n"
    )
    assert uv_reason(stderr).startswith(
        "uv: No solution found when resolving dependencies: Because there is no"
    )
    assert uv_reason("error: Request failed after 3 retries\n") == "uv: Request failed after 3 retries"
    refused = (
        "error: Request failed after 3 retries in 6.8s\n"
        "  cause: Failed to fetch: http://127.0.0.1:9/simple/torch/\n"
        "  cause: error sending request for url (http://127.0.0.1:9/simple/torch/)\n"
        "  cause: Connection refused (os error 111)\n"
    )
    assert uv_reason(refused) == (
        "uv: Request failed after 3 retries in 6.8s: Failed to fetch: http://127.0.0.1:9/simple/torch/: "
        "Connection refused (os error 111)"
    )


def _rows(run_dir: Path) -> list[dict[str, object]]:
    import pyarrow.parquet as pq

    return pq.read_table(run_dir / "summary.parquet").to_pylist()


# A build whose torch must come from an index that answers nothing: no wheel folder to take it
# from instead, and none of uv's retries of a refused connection (three, with back-off: ~7 s of
# waiting per build that change nothing of the failure or of the reason it reports).
NO_WHEEL_FOLDER_NO_RETRIES = {"PIP_FIND_LINKS": "", "UV_FIND_LINKS": "", "UV_HTTP_RETRIES": "0"}


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_torch_comes_from_the_mirror_over_a_wheel_folder_over_pytorchs_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "wheels"
    folder.mkdir()
    (folder / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    monkeypatch.delenv("UV_FIND_LINKS", raising=False)
    monkeypatch.delenv("INFERENCE_BENCH_TORCH_INDEX_URL", raising=False)
    monkeypatch.setenv("PIP_FIND_LINKS", f"/nonexistent {folder}")
    assert torch_source("torch==2.13.0+cpu") == WheelSource("find-links", str(folder))
    # A wheel folder without that very version: PyTorch's own CPU index, as PyTorch documents.
    assert torch_source("torch==2.12.0+cpu") == WheelSource("index", PYTORCH_CPU_INDEX)
    monkeypatch.setenv("INFERENCE_BENCH_TORCH_INDEX_URL", "https://mirror.example/whl/cpu")
    assert torch_source("torch==2.13.0+cpu") == WheelSource("index", "https://mirror.example/whl/cpu")
    flag = "https://flag.example/whl/cpu"  # the flag (or config key) over the variable
    assert torch_source("torch==2.13.0+cpu", flag) == WheelSource("index", flag)
    monkeypatch.delenv("INFERENCE_BENCH_TORCH_INDEX_URL")
    monkeypatch.delenv("PIP_FIND_LINKS")
    assert torch_source("torch==2.13.0+cpu") == WheelSource("index", PYTORCH_CPU_INDEX)


def test_pytorch_builds_from_a_torch_index_on_127_0_0_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """The index setting is what the build uses, for torch alone: two PEP 503 indexes behind
    `python -m http.server`, no wheel folder -- the torch index, and the package index everything
    else comes from (PyPI's stand-in, $UV_INDEX_URL). Torch comes from the first and only torch
    is asked of it (uv's explicit index), torch's dependency from the second, which is never
    asked for torch; the environment records the wheel's URL and imports the torch it served.
    Only the torch requirement, through the same build as every environment, into a temporary
    envs dir and uv cache (removed after).

    The wheels are stand-ins of a few hundred bytes with the pinned name and version (the real
    torch is 183 MB and took a minute and a half to install): which index a build asks for what,
    and what it records, do not depend on what the wheels hold."""
    requirement = _pinned("torch", read_constraints(), None)  # torch==2.13.0+cpu, as the build pins it
    version = requirement.split("==")[1]
    with tempfile.TemporaryDirectory(prefix="torch-index-") as scratch:
        root = Path(scratch)
        href = _indexed(_stand_in_wheel("torch", version, root / "torch-index", requires=("filelock",)))
        _indexed(_stand_in_wheel("filelock", "3.20.0", root / "package-index"))  # one of torch's own
        for name in ("PIP_FIND_LINKS", "UV_FIND_LINKS", "INFERENCE_BENCH_TORCH_INDEX_URL", "PIP_INDEX_URL"):
            monkeypatch.delenv(name, raising=False)
        for name in ("UV_DEFAULT_INDEX", "UV_INDEX", "UV_EXTRA_INDEX_URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("UV_CACHE_DIR", str(root / "uv-cache"))
        with (
            _served(root / "torch-index", root / "torch-index.log") as url,
            _served(root / "package-index", root / "package-index.log") as packages,
        ):
            monkeypatch.setenv("UV_INDEX_URL", packages)
            status = Recorded()
            env = ensure(Recipe("pytorch", (requirement,), ()), "own", root / "envs", status, torch_index=url)
        assert env.error is None, env.error
        assert status.said[0] == f"building pytorch torch from {url}"
        asked = _requested(root / "torch-index.log")
        assert "GET /torch/ HTTP/1.1" in asked, asked  # the index's page of torch
        assert f"GET /torch/{href} HTTP/1.1" in asked, asked  # and the wheel, from it
        assert all(request.split()[1].startswith("/torch/") for request in asked), asked
        elsewhere = _requested(root / "package-index.log")
        assert "GET /filelock/ HTTP/1.1" in elsewhere, (
            elsewhere
        )  # torch's dependency: not from the torch index
        assert not [request for request in elsewhere if "/torch" in request], elsewhere
        assert env.record()["torch_wheel"] == f"{url}/torch/{href}"
        assert env.python is not None
        imported = subprocess.run(
            [str(env.python), "-c", "import torch, filelock; print(torch.__version__)"],
            capture_output=True,
            text=True,
        )
        assert imported.stdout.strip() == version, imported.stderr


def test_the_torch_index_serves_torch_alone_as_an_explicit_uv_index(tmp_path: Path) -> None:
    """The requirements uv compiles pin torch to its index and mark that index ``explicit``, as
    uv's PyTorch guide has it: no other package may come from it, should a mirror also serve
    one PyPI has (PyTorch's own index serves numpy, filelock, ...). Read from the file uv is given:
    with uv 0.13 ``uv pip compile`` takes nothing else from an input's index either way (a package
    only the torch index served was not found with or without ``explicit``), so a build alone
    would not notice the setting gone -- a later uv, or ``uv lock`` on the same file, would."""
    recipe = Recipe("pytorch", ("torch==2.13.0+cpu", "numpy==2.3.4"), ())
    path = _requirements(recipe, WheelSource("index", "https://mirror.example/whl/cpu"), tmp_path)
    written = tomllib.loads(path.read_text())
    assert written["project"]["dependencies"] == ["torch==2.13.0+cpu", "numpy==2.3.4"]
    assert written["tool"]["uv"]["sources"] == {"torch": {"index": "torch"}}
    (index,) = written["tool"]["uv"]["index"]
    assert index == {"name": "torch", "url": "https://mirror.example/whl/cpu", "explicit": True}
    # From a wheel folder (or for a framework without torch) there is no index to pin to.
    folder = _requirements(recipe, WheelSource("find-links", str(tmp_path)), tmp_path)
    assert "tool" not in tomllib.loads(folder.read_text())


def _requested(log: Path) -> list[str]:
    """The request lines of an ``http.server`` access log (``GET /torch/ HTTP/1.1``)."""
    return [line.split('"')[1] for line in log.read_text().splitlines() if '"' in line]


def _indexed(wheel: Path) -> str:
    """Move ``wheel`` into its project's page of the PEP 503 index holding it (``<index>/<name>/``,
    an ``index.html`` linking it); the link's href."""
    project = wheel.parent / wheel.name.split("-")[0]
    project.mkdir()
    wheel.rename(project / wheel.name)
    href = urllib.parse.quote(wheel.name)
    (project / "index.html").write_text(f'<a href="{href}">{wheel.name}</a>\n')
    return href


def _stand_in_wheel(name: str, version: str, folder: Path, requires: tuple[str, ...] = ()) -> Path:
    """A valid pure-Python wheel of ``name`` at ``version`` in ``folder`` (METADATA, WHEEL and
    RECORD with the files' hashes): a package whose ``__init__`` holds only its ``__version__``,
    depending on ``requires``."""
    dist_info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n',
        f"{dist_info}/METADATA": metadata + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [f"{path},sha256={_digest(text.encode())},{len(text.encode())}" for path, text in files.items()]
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def _digest(data: bytes) -> str:
    """A RECORD hash: urlsafe base64 of the sha256, without padding (PEP 376 / PEP 427)."""
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


@contextlib.contextmanager
def _served(directory: Path, log: Path) -> Iterator[str]:
    """``python -m http.server`` on a free port of 127.0.0.1 serving ``directory``; its access
    log into ``log``; yields the index URL."""
    with open(log, "w") as errors:
        server = subprocess.Popen(
            [
                sys.executable,
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
                str(directory),
            ],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        try:
            assert server.stdout is not None
            banner = server.stdout.readline()  # Serving HTTP on 127.0.0.1 port N (...) ...
            port = int(banner.split(" port ")[1].split()[0])
            yield f"http://127.0.0.1:{port}"
        finally:
            server.kill()
            server.wait()


def test_start_up_says_reused_environments_in_one_line_and_nothing_of_a_framework_the_model_rules_out(
    tmp_path: Path,
) -> None:
    # Two finished environments of known size (their python: this interpreter, which has no
    # ONNX runtime, so the cells are skipped: not what this test is about).
    envs = tmp_path / "envs"
    for name in ("onnxruntime", "openvino"):
        path = envs / recipe_for([FrameworkRef(name)], name).directory_name
        (path / "bin").mkdir(parents=True)
        (path / "bin" / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
        (path / "bin" / "python").chmod(0o755)
        (path / ".complete").write_text("2026-01-01T00:00:00Z\n")
        (path / "payload").write_bytes(os.urandom(2 * 1024 * 1024))
    model = onnx_model(tmp_path / "theirs.onnx")  # runs in onnxruntime and openvino only
    args = ["--frameworks", "pytorch,onnxruntime,openvino", "--model", str(model), "--envs-dir", str(envs)]
    proc = run_cli([*args, "--seq-len", "4", *QUICK], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == f"environments: 2 reused in {envs} (4.0 MiB)"
    assert not [line for line in proc.stdout.splitlines() if line.startswith("environment ")]
    assert not list(envs.glob("pytorch-*"))  # never built: an ONNX file does not run in PyTorch
    rows = summary_rows(only_run_dir(tmp_path / "results"))
    assert rows["pytorch"]["error"] == "an ONNX model runs in onnxruntime, openvino only"
    record = json.loads((only_run_dir(tmp_path / "results") / "environment.json").read_text())
    assert record["environments"]["pytorch"]["unneeded"] == "no model of the run runs in it"


def test_a_built_environment_is_one_line_with_its_time_and_size_and_the_reused_one_line() -> None:
    out = io.StringIO()
    status = ConsoleStatus(Console(file=out, width=80))  # a pipe: no progress in place
    built = Path(tempfile.mkdtemp())
    try:
        (built / ".complete").write_text("stamp\n")
        (built / "payload").write_bytes(os.urandom(3 * 1024 * 1024))
        status.building("pytorch", WheelSource("index", PYTORCH_CPU_INDEX))
        status.step("pytorch", "Downloading torch (182.9MiB)")  # shown on a terminal only
        status.finished(Environment("pytorch", "own", built / "bin" / "python", built, built_s=94.6))
        status.building("onnxruntime@9.9.9", None)
        status.finished(Environment("onnxruntime@9.9.9", "own", None, error="uv: No solution found"))
        home = Path.home() / ".cache" / "inference-bench" / "envs"
        status.reused(Environment("jax", "own", home / "jax-1" / "bin" / "python", home / "jax-1"))
        assert home_relative(home) == "~/.cache/inference-bench/envs"
        assert size_text(int(4.2 * 1024**3)) == "4.2 GiB" and size_text(512) == "512 B"
    finally:
        shutil.rmtree(built)
    assert out.getvalue().splitlines() == [
        "environment pytorch: building with uv (torch from https://download.pytorch.org/whl/cpu)... "
        "built in 95 s (3.0 MiB)",
        "environment onnxruntime@9.9.9: building with uv... failed",
    ]


def test_on_a_terminal_a_build_shows_uvs_steps_in_one_line_in_place() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80)
    status = ConsoleStatus(console)
    status.building("pytorch", WheelSource("index", PYTORCH_CPU_INDEX))
    status.step("pytorch", "Downloading torch (182.9MiB)")
    console.file.flush()
    time.sleep(0.2)  # a refresh of the spinner's line
    status.finished(Environment("pytorch", "own", None, error="uv: no"))
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue()).replace("\r", "\n")
    lines = [line for line in shown.splitlines() if line.strip()]
    assert lines[-1] == (
        "environment pytorch: building with uv (torch from https://download.pytorch.org/whl/cpu)... failed"
    )
    assert all(len(line) <= 80 for line in lines[:-1]), lines  # the live line never wraps
    assert "environment pytorch: building with uv... Downloading torch (182.9MiB)" in shown, lines


def test_setup_takes_the_torch_index_flag_and_a_url_that_is_not_one_is_refused(tmp_path: Path) -> None:
    for command in ("setup", "--frameworks=fake"):
        bad = run_cli([command, "--torch-index-url", "download.pytorch.org/whl/cpu"], cwd=tmp_path)
        assert bad.returncode == 2
        prog = "python -m orchestrator" + (" setup" if command == "setup" else "")
        assert bad.stderr.strip().splitlines() == [
            f"{prog}: error: argument --torch-index-url: expected an http://, https:// or file:// URL, "
            "got 'download.pytorch.org/whl/cpu' (see --help)"
        ]
    dead = f"http://127.0.0.1:{_closed_port()}/whl/cpu"
    envs = tmp_path / "envs"
    setup = ["setup", "--frameworks", "pytorch", "--envs-dir", str(envs), "--torch-index-url", dead]
    proc = run_cli(setup, cwd=tmp_path, env=NO_WHEEL_FOLDER_NO_RETRIES)
    assert proc.returncode == 1
    said = f"environment pytorch: building with uv (torch from {dead})... failed"
    assert proc.stdout.splitlines() == [said]
    assert f"Failed to fetch: {dead}/torch/" in proc.stderr
    assert not (tmp_path / "results").exists()
