"""The runner's own footprint: what it loads before the framework must not vary by machine."""

import json
import subprocess
import sys
from pathlib import Path

from conftest import PROJECT_ROOT
from orchestrator.artifacts import write_artifacts

# Everything a runner does before its framework's import, in a fresh interpreter. (Writing the
# result imports pandas through pyarrow too, but only after every figure has been taken.)
_HARNESS = """
import json, sys
from pathlib import Path
from runners.worker import load_samples
from schemas.job import JobSpec
from schemas.model import read_weights
job = JobSpec.from_file(Path(sys.argv[1]))
load_samples(job)
read_weights(Path(job.weights_path))
print(json.dumps(sorted(m for m in ("pandas", "polars", "duckdb", "matplotlib", "rich") if m in sys.modules)))
"""


def test_the_harness_loads_no_optional_library(tmp_path: Path) -> None:
    # pyarrow's read_table imports pandas whenever it is installed (it is, for the tests):
    # ~35 MB that would sit in every framework's memory figures on one machine and not another.
    artifacts = write_artifacts(tmp_path, seed=0, rows=1000)
    for scenario in ("offline", "single-stream"):
        job = {
            "cell_id": "c", "framework": "fake", "scenario": scenario, "precision": "fp32",
            "batch_size": 10, "threads": 1, "cpus": [0], "warmup": 0, "min_iterations": 1,
            "max_iterations": 10, "min_time_s": 0.0, "inputs_path": str(artifacts.inputs_path),
            "weights_path": str(artifacts.weights_path), "onnx_path": str(artifacts.onnx_path),
            "result_path": str(tmp_path / "result.parquet"), "schema_version": 2,
        }  # fmt: skip
        (tmp_path / "job.json").write_text(json.dumps(job))
        proc = subprocess.run(
            [sys.executable, "-c", _HARNESS, str(tmp_path / "job.json")],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            check=True,
        )
        assert json.loads(proc.stdout) == [], proc.stdout
