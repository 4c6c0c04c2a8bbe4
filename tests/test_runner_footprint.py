"""The runner's own footprint: what it loads before the framework must be small, the same on
every machine, and hold no other framework."""

import json
import subprocess
import sys
from pathlib import Path

from conftest import FIRST_CPU, PROJECT_ROOT
from models.mlp import Mlp
from orchestrator.execute.artifacts import prepare_model
from schemas.job import JobSpec, ModelJob

# Everything a runner does before its framework's import, in a fresh interpreter. (Writing the
# result imports pyarrow, but only after every figure has been taken.)
_HARNESS = """
import json, sys
from pathlib import Path
from runners.worker import block_other_frameworks, load_samples
from models.registry import load_model
from schemas.job import JobSpec
job = JobSpec.from_file(Path(sys.argv[1]))
block_other_frameworks(job.framework)
load_samples(job)
load_model(job.model.ref)
heavy = ("pyarrow", "pandas", "polars", "duckdb", "matplotlib", "rich", "scipy", "onnx")
print(json.dumps(sorted(m for m in heavy if sys.modules.get(m) is not None)))
"""


def test_the_harness_loads_no_parquet_and_no_optional_library(tmp_path: Path) -> None:
    # pyarrow alone is ~40 MB of every runner's memory figures (more than half of ONNX
    # Runtime's); pandas, which pyarrow imports whenever it is installed, ~35 MB more.
    model = prepare_model("mlp", "mlp", Mlp(), tmp_path / "mlp", 0, {"input": (1000, 200)}, export=None)
    for scenario in ("offline", "single-stream"):
        job = JobSpec(
            cell_id="c", framework="onnxruntime", scenario=scenario, precision="fp32", batch_size=10,
            threads=1, cpus=(FIRST_CPU,), warmup=0, min_iterations=1, max_iterations=10, min_time_s=0.0,
            model=ModelJob(
                name="mlp", ref="mlp", directory=str(model.files.directory),
                inputs={name: str(path) for name, path in model.input_paths.items()}, output="output",
            ),
            result_path=str(tmp_path / "result.parquet"),
        )  # fmt: skip
        (tmp_path / "job.json").write_text(job.to_json())
        proc = subprocess.run(
            [sys.executable, "-c", _HARNESS, str(tmp_path / "job.json")],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            check=True,
        )
        assert json.loads(proc.stdout) == [], proc.stdout
