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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from runners.registry import FRAMEWORKS, RUNNER_REQUIRES
from schemas.files import current_umask

ENVIRONMENTS = ("own", "shared", "current")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = PROJECT_ROOT / "constraints.txt"

# keras-hub requires tensorflow-text for its tokenizers, which pulls the full `tensorflow`
# beside tensorflow-cpu (and into the JAX environment); the backbones do not need it.
EXCLUDED = ("tensorflow-text",)

# Builds of these distributions that the environment must get, not PyPI's default one: PyPI's
# torch is a multi-GB CUDA build; the CPU build comes from the wheel folder (PIP_FIND_LINKS).
# Asking for the local version makes a missing wheel a clear failure, never a CUDA download.
LOCAL_VARIANTS = {"torch": "+cpu"}

# The marker a finished build leaves; a directory without it is not an environment.
_COMPLETE = ".complete"
_RECIPE = "recipe.json"
_LOCK = "lock.txt"


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
class FrameworkRef:
    """A framework as asked for: ``onnxruntime`` or ``onnxruntime@1.31.1``."""

    name: str
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> FrameworkRef:
        name, _, version = text.partition("@")
        return cls(name.strip(), version.strip() or None)

    @property
    def label(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"


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
class Environment:
    """A usable environment (``python`` set) or one that could not be built (``error`` set)."""

    name: str
    kind: str  # own | shared | current
    python: Path | None
    path: Path | None = None
    key: str | None = None
    error: str | None = None
    log: Path | None = None
    reused: bool = False
    built_s: float | None = None

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
        }


StatusHandler = Callable[[str, str], None]  # (environment name, what is happening)


def current_environment() -> Environment:
    """The orchestrator's own interpreter, as it is."""
    return Environment("current", "current", Path(sys.executable))


def ensure(recipe: Recipe, kind: str, root: Path, on_status: StatusHandler | None = None) -> Environment:
    """The environment of ``recipe`` under ``root``: reused when built before, else built now.

    Never raises for a failed build: the returned environment carries the installer's one-line
    reason, so that only its framework's cells are skipped.
    """
    status = on_status or (lambda name, text: None)
    final = root / recipe.directory_name
    python = final / "bin" / "python"
    if (final / _COMPLETE).is_file():
        status(recipe.name, f"reused {final}")
        return Environment(recipe.name, kind, python, final, recipe.key, reused=True)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return Environment(
            recipe.name, kind, None, final, recipe.key, error=f"cannot create {root}: {exc.strerror}"
        )
    log = root / f"{recipe.directory_name}.log"
    with _exclusive(root / f".{recipe.directory_name}.lock"):
        if (final / _COMPLETE).is_file():  # built by another run while this one waited
            status(recipe.name, f"reused {final}")
            return Environment(recipe.name, kind, python, final, recipe.key, reused=True)
        status(recipe.name, "building with uv (first use of this recipe)")
        started = time.monotonic()
        try:
            _build(recipe, final, log)
        except EnvironmentError_ as exc:
            status(recipe.name, f"failed: {exc}")
            return Environment(recipe.name, kind, None, final, recipe.key, error=str(exc), log=log)
        built_s = time.monotonic() - started
        status(recipe.name, f"built in {built_s:.0f} s: {final}")
        return Environment(recipe.name, kind, python, final, recipe.key, log=log, built_s=built_s)


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


def _build(recipe: Recipe, final: Path, log_path: Path) -> None:
    """Build ``recipe`` into a hidden directory beside ``final``, then rename it into place."""
    uv = uv_binary()
    building = Path(tempfile.mkdtemp(prefix=f".{final.name}.building-", dir=final.parent))
    try:
        with tempfile.TemporaryDirectory() as scratch:
            constraints = Path(scratch) / "constraints.txt"
            constraints.write_text("\n".join(recipe.constraints) + "\n")
            excludes = Path(scratch) / "excludes.txt"
            excludes.write_text("\n".join(recipe.excludes) + "\n")
            python = building / "bin" / "python"
            with open(log_path, "w") as log:
                _run(
                    log,
                    [
                        uv,
                        "venv",
                        "--quiet",
                        "--allow-existing",
                        "--relocatable",
                        "--python",
                        sys.executable,
                        str(building),
                    ],
                )
                _run(
                    log,
                    [
                        uv, "pip", "install", "--python", str(python),
                        "--constraints", str(constraints), "--excludes", str(excludes),
                        "--compile-bytecode",  # else every import compiles, inside import_s
                        *recipe.requirements,
                    ],
                )  # fmt: skip
                frozen = _run(log, [uv, "pip", "freeze", "--python", str(python)])
        (building / _LOCK).write_text(frozen)
        (building / _RECIPE).write_text(json.dumps(recipe.__dict__, indent=2, sort_keys=True) + "\n")
        (building / _COMPLETE).write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "\n")
        if final.exists():  # an incomplete leftover of a build that died: never reused
            shutil.rmtree(final)
        building.chmod(0o777 & ~current_umask())  # mkdtemp's is private; others may run these
        building.rename(final)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def _run(log: object, command: list[str]) -> str:
    """Run a uv command, its stderr into the log; raise with uv's own reason on failure."""
    assert hasattr(log, "write")
    log.write(f"$ {' '.join(command)}\n")  # type: ignore[attr-defined]
    log.flush()  # type: ignore[attr-defined]
    proc = subprocess.run(command, capture_output=True, text=True, env=_uv_env(), stdin=subprocess.DEVNULL)
    log.write(proc.stderr)  # type: ignore[attr-defined]
    if proc.returncode != 0:
        raise EnvironmentError_(uv_reason(proc.stderr) or f"uv exited with status {proc.returncode}")
    return proc.stdout


def uv_reason(stderr: str) -> str:
    """The line of uv's output that says why: the deepest ``cause:``, else the ``error:`` line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    causes = [line for line in lines if line.startswith("Caused by:") or line.startswith("cause:")]
    errors = [line for line in lines if line.startswith("error:")]
    reason = (causes or errors or lines[-1:] or [""])[-1]
    reason = (
        reason.split(":", 1)[1].strip() if reason.startswith(("error:", "cause:", "Caused by:")) else reason
    )
    if errors and causes and not reason.startswith(errors[0][6:].strip()):
        reason = f"{errors[0][6:].strip()}: {reason}"
    return f"uv: {reason}" if reason else ""


def needs_environment(framework: str) -> bool:
    """Only a framework does: the tools (and the test suite's fakes) run in the current interpreter."""
    return framework in FRAMEWORKS


def resolve(
    frameworks: list[FrameworkRef], kind: str, root: Path, on_status: StatusHandler | None = None
) -> dict[str, Environment]:
    """The environment of each framework (by label), built or reused: its own (``own``), one
    for all (``shared``), or the orchestrator's interpreter (``current``). Tools and fakes run
    in the current interpreter whatever the kind."""
    environments: dict[str, Environment] = {}
    real = [ref for ref in frameworks if needs_environment(ref.name)]
    if kind == "shared" and real:
        # Always all five, whichever run: one environment, reused by every shared run.
        shared = ensure(
            recipe_for([FrameworkRef(name) for name in FRAMEWORKS], "shared"), kind, root, on_status
        )
        environments.update({ref.label: shared for ref in real})
    elif kind == "own":
        for ref in real:
            environments[ref.label] = ensure(recipe_for([ref], ref.label), kind, root, on_status)
    else:
        environments.update({ref.label: current_environment() for ref in real})
    for ref in frameworks:
        environments.setdefault(ref.label, current_environment())
    return environments
