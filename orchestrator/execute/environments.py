"""One Python environment per framework, built by ``uv`` from pinned requirements and reused.

A fresh process is not enough isolation when one environment holds every framework: they
import each other (``import tensorflow`` imports JAX when it is there) and every optional
package they find. So each framework runs from an environment made for it alone: its own
distributions (``runners.registry``), what the runner needs, and the model libraries it uses,
at the versions of ``constraints.txt``. ``--environment shared`` runs every framework from one
environment holding all of them (the article's set-up, and what ``--in-process`` needs);
``--environment current`` from the interpreter that runs the orchestrator, as it is.

Environments live under ``--envs-dir`` (default ``~/.cache/inference-bench/envs``), one
directory per recipe, named by a hash of everything that goes into it (requirements,
constraints, excludes, Python), so a changed pin makes a new one and an unchanged one is
reused. A build goes into a hidden directory that is renamed into place only once uv
succeeded: a half-built environment is never used, and two runs building the same one at
once wait for each other (a file lock).

A build resolves first (``uv pip compile`` to a PEP 751 ``pylock.toml``, kept in the
environment: it names the file every wheel came from) and installs exactly that. PyTorch's
CPU build is not on PyPI (PyPI's torch is a CUDA build): it comes from a local wheel folder
when ``PIP_FIND_LINKS`` holds the pinned wheel, else from an index pinned to ``torch`` alone
(uv's ``explicit`` index: no other package can come from it) -- PyTorch's own CPU index, or the
mirror ``--torch-index-url`` / ``$INFERENCE_BENCH_TORCH_INDEX_URL`` names. Which source a
build used is not part of the recipe's hash: the wheel is the same file wherever it came from.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from orchestrator import PROJECT_ROOT
from orchestrator.plan.framework_refs import FrameworkRef
from runners.registry import FRAMEWORKS, RUNNER_REQUIRES
from schemas.files import current_umask

CONSTRAINTS = PROJECT_ROOT / "constraints.txt"

# keras-hub requires tensorflow-text for its tokenizers, which pulls the full `tensorflow`
# beside tensorflow-cpu (and into the JAX environment); the backbones do not need it.
EXCLUDED = ("tensorflow-text",)

# Builds of these distributions that the environment must get, not PyPI's default one: PyPI's
# torch is a multi-GB CUDA build; the CPU build comes from PyTorch's own index (or a wheel
# folder, or a mirror: torch_source). Asking for the local version makes a missing wheel a
# clear failure, never a CUDA download.
LOCAL_VARIANTS = {"torch": "+cpu"}

# Where PyTorch publishes its CPU builds (https://pytorch.org/get-started/locally/, "CPU").
PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# A mirror of that index; --torch-index-url (and the config key torch-index-url) win over it.
TORCH_INDEX_VARIABLE = "INFERENCE_BENCH_TORCH_INDEX_URL"

# The marker a finished build leaves; a directory without it is not an environment.
_COMPLETE = ".complete"
_RECIPE = "recipe.json"
_LOCK = "lock.txt"
_PYLOCK = "pylock.toml"  # what uv resolved, with the URL or path of every wheel
_SIZES = ".sizes.json"  # disk used by sets of finished environments, which never change


LineHandler = Callable[[str], None]  # a line of uv's progress


class EnvironmentError_(RuntimeError):
    """An environment could not be built; the message is the installer's one-line reason."""


def default_root() -> Path:
    """Where environments live unless --envs-dir says otherwise: $INFERENCE_BENCH_ENVS, else
    the user's cache directory."""
    if os.environ.get("INFERENCE_BENCH_ENVS"):
        return Path(os.environ["INFERENCE_BENCH_ENVS"])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "inference-bench" / "envs"


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Recipe:
    """Everything that goes into one environment; its hash names the directory."""

    name: str  # pytorch, onnxruntime@1.31.1, shared
    requirements: tuple[str, ...]
    constraints: tuple[str, ...]
    excludes: tuple[str, ...] = EXCLUDED
    python: str = field(
        default_factory=lambda: f"{platform.python_implementation()}-{platform.python_version()}"
    )
    machine: str = field(default_factory=platform.machine)

    @property
    def key(self) -> str:
        text = json.dumps(
            [self.requirements, self.constraints, self.excludes, self.python, self.machine], sort_keys=True
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def directory_name(self) -> str:
        return f"{self.name.replace('@', '-')}-{self.key}"


def read_constraints(path: Path = CONSTRAINTS) -> dict[str, str]:
    """constraints.txt as {normalised name: the whole line}."""
    lines: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name = re.split(r"[=<>!~ ;\[]", line, maxsplit=1)[0]
            lines[normalise(name)] = line
    return lines


def _pinned(distribution: str, constraints: dict[str, str], version: str | None) -> str:
    """The requirement line for ``distribution``: its constrained version (or ``version``), with
    the local build it must be (torch's +cpu)."""
    local = LOCAL_VARIANTS.get(normalise(distribution), "")
    if version is not None:
        return f"{distribution}=={version}{local}"
    constraint = constraints.get(normalise(distribution), "")
    match = re.fullmatch(r"[A-Za-z0-9_.-]+==([^;\s]+)", constraint)
    return f"{distribution}=={match.group(1)}{local}" if match and local else distribution


def recipe_for(refs: list[FrameworkRef], name: str, constraints: dict[str, str] | None = None) -> Recipe:
    """The recipe of an environment holding the frameworks ``refs`` (one for an own environment,
    all of them for the shared one), the runner's needs and the model libraries."""
    constraints = read_constraints() if constraints is None else constraints
    requirements: list[str] = []
    released: set[str] = set()  # distributions a framework@VERSION sets itself
    for ref in refs:
        framework = FRAMEWORKS[ref.name]
        for distribution in framework.requires:
            version = ref.version if distribution in framework.versioned_distributions else None
            if version is not None:
                released.add(normalise(distribution))
            requirements.append(_pinned(distribution, constraints, version))
    requirements += RUNNER_REQUIRES
    kept = tuple(
        line
        for dist, line in sorted(constraints.items())
        if dist not in released and dist not in {normalise(e) for e in EXCLUDED}
    )
    return Recipe(name, tuple(dict.fromkeys(requirements)), kept)


@dataclass(frozen=True)
class WheelSource:
    """Where the wheel of a distribution with a local build (torch's ``+cpu``) is looked for:
    a folder of wheels (``find-links``), or an index that serves that distribution alone."""

    kind: str  # find-links | index
    location: str  # the folder, or the index URL

    def describe(self) -> str:
        return f"{self.location}" if self.kind == "index" else f"the wheel folder {self.location}"


def torch_source(requirement: str, index_url: str | None = None) -> WheelSource:
    """Where the torch of ``requirement`` (``torch==2.13.0+cpu``) comes from: the mirror the
    user set (``index_url``, from the flag or config key, else ``$INFERENCE_BENCH_TORCH_INDEX_URL``),
    else a local wheel folder (``PIP_FIND_LINKS``/``UV_FIND_LINKS``) holding that very wheel,
    else PyTorch's own CPU index."""
    explicit = index_url or os.environ.get(TORCH_INDEX_VARIABLE, "").strip()
    if explicit:
        return WheelSource("index", explicit)
    folder = _folder_holding(requirement)
    if folder is not None:
        return WheelSource("find-links", str(folder))
    return WheelSource("index", PYTORCH_CPU_INDEX)


def _find_links() -> list[str]:
    """The wheel folders uv is given (``_uv_env``): UV_FIND_LINKS, else pip's PIP_FIND_LINKS."""
    text = os.environ.get("UV_FIND_LINKS") or os.environ.get("PIP_FIND_LINKS") or ""
    return text.replace(",", " ").split()


def _folder_holding(requirement: str) -> Path | None:
    """The first local wheel folder with a wheel of exactly ``name==version`` for this Python
    and machine; None for an unpinned requirement or when no folder has one."""
    match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^;\s]+)", requirement)
    if match is None:
        return None
    name, version = re.sub(r"[-.]+", "_", match.group(1)), match.group(2)
    python_tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    for entry in _find_links():
        folder = Path(entry.removeprefix("file://"))
        if not folder.is_dir():
            continue
        for wheel in folder.glob(f"{name}-{version}-*.whl"):
            tags = wheel.name[:-4].split("-")[-3:]  # python, abi, platform
            if tags[0] in (python_tag, "py3") and (platform.machine() in tags[2] or tags[2] == "any"):
                return folder
    return None


@dataclass(frozen=True)
class Environment:
    """A usable environment (``python`` set) or one that could not be built (``error`` set);
    neither for one the run does not need (``unneeded`` says why)."""

    name: str
    kind: str  # own | shared | current
    python: Path | None
    path: Path | None = None
    key: str | None = None
    error: str | None = None
    log: Path | None = None
    reused: bool = False
    built_s: float | None = None
    unneeded: str | None = None

    def record(self) -> dict[str, object]:
        """What the run's environment.json says of it."""
        lock = None
        if self.path is not None and (self.path / _LOCK).is_file():
            lock = (self.path / _LOCK).read_text().split()
        return {
            "kind": self.kind,
            "python": None if self.python is None else str(self.python),
            "path": None if self.path is None else str(self.path),
            "key": self.key,
            "error": self.error,
            "reused": self.reused,
            "lock": lock,
            "torch_wheel": self.wheel_of("torch"),
            **({"unneeded": self.unneeded} if self.unneeded else {}),
        }

    def wheel_of(self, distribution: str) -> str | None:
        """The URL (or path) of the wheel ``distribution`` was installed from, as uv resolved it
        (the environment's pylock.toml); None where it does not hold it (or is not ours to read),
        ``unrecorded`` for an environment built before the resolution was kept."""
        if self.path is None or self.python is None or self.kind == "current":
            return None
        if not (self.path / _PYLOCK).is_file():
            frozen = (self.path / _LOCK).read_text() if (self.path / _LOCK).is_file() else ""
            holds = any(normalise(line.split("==")[0]) == normalise(distribution) for line in frozen.split())
            return "unrecorded (built before its pylock.toml was kept)" if holds else None
        lock = tomllib.loads((self.path / _PYLOCK).read_text())
        for package in lock.get("packages", []):
            if normalise(str(package.get("name", ""))) == normalise(distribution):
                wheels = package.get("wheels") or [{}]
                found = wheels[0].get("url") or wheels[0].get("path")
                return None if found is None else str(found)
        return None


class StatusHandler(Protocol):
    """What a caller is told while environments are found or built (``ConsoleStatus`` prints it)."""

    def reused(self, env: Environment) -> None:
        """``env`` was built before and is used as it is."""

    def building(self, name: str, torch: WheelSource | None) -> None:
        """The environment ``name`` is being built (``torch``: where its torch comes from)."""

    def step(self, name: str, line: str) -> None:
        """A line of uv's progress while ``name`` is built."""

    def finished(self, env: Environment) -> None:
        """The build of ``env`` ended: built (``python`` set) or failed (``error`` set)."""


class Silent:
    """A :class:`StatusHandler` that says nothing."""

    def reused(self, env: Environment) -> None:
        """Nothing."""

    def building(self, name: str, torch: WheelSource | None) -> None:
        """Nothing."""

    def step(self, name: str, line: str) -> None:
        """Nothing."""

    def finished(self, env: Environment) -> None:
        """Nothing."""


def current_environment() -> Environment:
    """The orchestrator's own interpreter, as it is."""
    return Environment("current", "current", Path(sys.executable))


def _torch_requirement(recipe: Recipe) -> str | None:
    return next(
        (r for r in recipe.requirements if normalise(re.split(r"[=<>!~ ;\[]", r)[0]) == "torch"), None
    )


def ensure(
    recipe: Recipe,
    kind: str,
    root: Path,
    on_status: StatusHandler | None = None,
    torch_index: str | None = None,
) -> Environment:
    """The environment of ``recipe`` under ``root``: reused when built before, else built now
    (its torch, if it holds one, from :func:`torch_source` with ``torch_index``).

    Never raises for a failed build: the returned environment carries the installer's one-line
    reason, so that only its framework's cells are skipped.
    """
    status = on_status or Silent()
    final = root / recipe.directory_name
    reused = Environment(recipe.name, kind, final / "bin" / "python", final, recipe.key, reused=True)
    if (final / _COMPLETE).is_file():
        status.reused(reused)
        return reused
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return Environment(
            recipe.name, kind, None, final, recipe.key, error=f"cannot create {root}: {exc.strerror}"
        )
    with _exclusive(root / f".{recipe.directory_name}.lock"):
        if (final / _COMPLETE).is_file():  # built by another run while this one waited
            status.reused(reused)
            return reused
        torch = _torch_requirement(recipe)
        source = None if torch is None else torch_source(torch, torch_index)
        status.building(recipe.name, source)
        env = _built(recipe, kind, final, source, lambda line: status.step(recipe.name, line))
        status.finished(env)
        return env


def _built(
    recipe: Recipe, kind: str, final: Path, source: WheelSource | None, on_line: LineHandler
) -> Environment:
    """Build ``recipe`` into ``final``; the environment, or the failure with uv's reason."""
    log = final.parent / f"{recipe.directory_name}.log"
    started = time.monotonic()
    try:
        _build(recipe, final, log, source, on_line)
    except EnvironmentError_ as exc:
        return Environment(recipe.name, kind, None, final, recipe.key, error=str(exc), log=log)
    built_s = time.monotonic() - started
    return Environment(
        recipe.name, kind, final / "bin" / "python", final, recipe.key, log=log, built_s=built_s
    )


def disk_usage(paths: list[Path]) -> int:
    """Bytes on disk under ``paths``, as ``du`` counts them: allocated blocks, a file with
    several hard links once (uv links each environment's files from its cache)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for path in paths:
        for directory, _, files in os.walk(path):
            for name in [directory, *(os.path.join(directory, f) for f in files)]:
                try:
                    stat = os.lstat(name)
                except OSError:
                    continue
                if (stat.st_dev, stat.st_ino) not in seen:
                    seen.add((stat.st_dev, stat.st_ino))
                    total += stat.st_blocks * 512
    return total


def finished_size(environments: list[Environment]) -> int:
    """:func:`disk_usage` of these finished environments, remembered beside them: a finished
    environment never changes, so the walk is paid once per set (its ``.complete`` stamp in the
    key, so one removed and rebuilt under the same name is walked again)."""
    paths = sorted({env.path for env in environments if env.path is not None})
    if not paths:
        return 0
    key = " ".join(f"{p.name}@{_stamp(p)}" for p in paths)
    cache_path = paths[0].parent / _SIZES
    try:
        cache = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        cache = {}
    if not isinstance(cache, dict) or not isinstance(cache.get(key), int):
        cache = cache if isinstance(cache, dict) else {}
        cache[key] = disk_usage(paths)
        with contextlib.suppress(OSError):  # a read-only envs dir: walked again next time
            scratch = cache_path.with_name(f"{_SIZES}.{os.getpid()}")
            scratch.write_text(json.dumps(cache))
            scratch.replace(cache_path)
    return int(cache[key])


def _stamp(path: Path) -> str:
    try:
        return (path / _COMPLETE).read_text().strip()
    except OSError:
        return "?"


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def uv_binary() -> str:
    """The uv executable installed with the orchestrator (the ``uv`` package), or one on PATH."""
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise EnvironmentError_("uv is not installed (pip install uv)") from None
        return found


def _uv_env() -> dict[str, str]:
    """uv's environment: the user's, with pip's wheel folder and index passed on (uv reads no
    PIP_* variable) and no Python downloads."""
    env = dict(os.environ)
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")
    if "PIP_FIND_LINKS" in os.environ and "UV_FIND_LINKS" not in os.environ:
        env["UV_FIND_LINKS"] = " ".join(os.environ["PIP_FIND_LINKS"].split())
    if "PIP_INDEX_URL" in os.environ and "UV_INDEX_URL" not in os.environ:
        env["UV_INDEX_URL"] = os.environ["PIP_INDEX_URL"]
    return env


def _requirements(recipe: Recipe, source: WheelSource | None, scratch: Path) -> Path:
    """The recipe's requirements as a pyproject.toml that ``uv pip compile`` reads, with torch
    pinned to its index when it comes from one: ``explicit`` makes uv take torch alone from it
    (uv's PyTorch guide), never a package PyPI also has."""
    lines = [
        "[project]",
        'name = "inference-bench-environment"',
        'version = "0"',
        f"dependencies = {json.dumps(list(recipe.requirements))}",
    ]
    if source is not None and source.kind == "index":
        lines += [
            "[tool.uv.sources]",
            'torch = { index = "torch" }',
            "[[tool.uv.index]]",
            'name = "torch"',
            f"url = {json.dumps(source.location)}",
            "explicit = true",
        ]
    path = scratch / "pyproject.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _build(
    recipe: Recipe, final: Path, log_path: Path, source: WheelSource | None, on_line: LineHandler
) -> None:
    """Build ``recipe`` into a hidden directory beside ``final``, then rename it into place."""
    uv = uv_binary()
    building = Path(tempfile.mkdtemp(prefix=f".{final.name}.building-", dir=final.parent))
    try:
        with tempfile.TemporaryDirectory() as temporary, open(log_path, "w") as log:
            scratch = Path(temporary)
            (scratch / "constraints.txt").write_text("\n".join(recipe.constraints) + "\n")
            (scratch / "excludes.txt").write_text("\n".join(recipe.excludes) + "\n")
            python = str(building / "bin" / "python")
            resolved = scratch / _PYLOCK
            venv = [uv, "venv", "--quiet", "--allow-existing", "--relocatable", "--python", sys.executable]
            _run(log, [*venv, str(building)], on_line)
            _run(
                log,
                [
                    uv, "pip", "compile", "--python", python, "--format", "pylock.toml",
                    "--constraints", str(scratch / "constraints.txt"),
                    "--excludes", str(scratch / "excludes.txt"),
                    "--output-file", str(resolved), str(_requirements(recipe, source, scratch)),
                ],
                on_line,
            )  # fmt: skip
            install = [uv, "pip", "install", "--python", python, "--requirements", str(resolved)]
            _run(log, [*install, "--compile-bytecode"], on_line)  # else every import compiles, in import_s
            frozen = _run(log, [uv, "pip", "freeze", "--python", python], on_line)
            shutil.copyfile(resolved, building / _PYLOCK)
        _complete(recipe, building, final, frozen)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def _complete(recipe: Recipe, building: Path, final: Path, frozen: str) -> None:
    """Mark ``building`` finished and rename it into place."""
    (building / _LOCK).write_text(frozen)
    (building / _RECIPE).write_text(json.dumps(recipe.__dict__, indent=2, sort_keys=True) + "\n")
    (building / _COMPLETE).write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "\n")
    if final.exists():  # an incomplete leftover of a build that died: never reused
        shutil.rmtree(final)
    building.chmod(0o777 & ~current_umask())  # mkdtemp's is private; others may run these
    building.rename(final)


def _run(log: IO[str], command: list[str], on_line: LineHandler) -> str:
    """Run a uv command, its stderr into the log line by line (each also to ``on_line``, as
    progress); its stdout returned. Raise with uv's own reason on failure."""
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    with tempfile.TemporaryFile("w+") as stdout:
        proc = subprocess.Popen(
            command, stdout=stdout, stderr=subprocess.PIPE, text=True, env=_uv_env(), stdin=subprocess.DEVNULL
        )
        assert proc.stderr is not None
        said: list[str] = []
        for line in proc.stderr:
            log.write(line)
            said.append(line)
            if line.strip():
                on_line(line.strip())
        returncode = proc.wait()
        log.flush()
        stdout.seek(0)
        output = stdout.read()
    if returncode != 0:
        raise EnvironmentError_(uv_reason("".join(said)) or f"uv exited with status {returncode}")
    return output


def uv_reason(stderr: str) -> str:
    """The line of uv's output that says why: the ``error:`` line with the deepest ``cause:``
    (and the first cause that names a URL, so a failed download says where from)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    causes = [_after_colon(line) for line in lines if line.startswith(("Caused by:", "cause:"))]
    errors = [_after_colon(line) for line in lines if line.startswith("error:")]
    reason = (causes or errors or lines[-1:] or [""])[-1]
    where = next((cause for cause in causes[:-1] if "://" in cause), None)
    if where is not None:
        reason = f"{where}: {reason}"
    if errors and causes and not reason.startswith(errors[0]):
        reason = f"{errors[0]}: {reason}"
    return f"uv: {reason}" if reason else ""


def _after_colon(line: str) -> str:
    return line.split(":", 1)[1].strip()


def needs_environment(framework: str) -> bool:
    """Only a framework does: the tools (and the test suite's fakes) run in the current interpreter."""
    return framework in FRAMEWORKS


def resolve(
    frameworks: list[FrameworkRef],
    kind: str,
    root: Path,
    on_status: StatusHandler | None = None,
    torch_index: str | None = None,
) -> dict[str, Environment]:
    """The environment of each framework (by label), built or reused: its own (``own``), one
    for all (``shared``), or the orchestrator's interpreter (``current``). Tools and fakes run
    in the current interpreter whatever the kind. ``torch_index``: the mirror of PyTorch's CPU
    index to build from (:func:`torch_source`)."""
    environments: dict[str, Environment] = {}
    real = [ref for ref in frameworks if needs_environment(ref.name)]
    if kind == "shared" and real:
        # Always all five, whichever run: one environment, reused by every shared run.
        recipe = recipe_for([FrameworkRef(name) for name in FRAMEWORKS], "shared")
        shared = ensure(recipe, kind, root, on_status, torch_index)
        environments.update({ref.label: shared for ref in real})
    elif kind == "own":
        for ref in real:
            environments[ref.label] = ensure(recipe_for([ref], ref.label), kind, root, on_status, torch_index)
    else:
        environments.update({ref.label: current_environment() for ref in real})
    for ref in frameworks:
        environments.setdefault(ref.label, current_environment())
    return environments


def unavailable_versions(environments: dict[str, Environment]) -> list[str]:
    """``label: reason`` of each framework asked for at a version (``name@VERSION``) whose
    environment could not be built: a version that cannot be had is the user's to fix."""
    return [f"{label}: {env.error}" for label, env in environments.items() if "@" in label and env.error]
