"""The README's table of user model formats, beyond ONNX and .pt2: a Keras file runs in
TensorFlow and JAX, a SavedModel in TensorFlow, an OpenVINO IR in OpenVINO -- each made the way
its framework's users make one -- and where no ONNX graph gives a reference, the first framework
that runs the model is the reference of the rest."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from test_user_models import onnx_model

from conftest import QUICK, only_run_dir, run_cli, summary_rows
from orchestrator.execute.environments import default_root, resolve
from orchestrator.plan.framework_refs import FrameworkRef

_KERAS = """
import keras
inputs = keras.Input((8,), name="features")
hidden = keras.layers.Dense(16, activation="relu")(inputs)
model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
model.save(keras_path)
"""

_SAVED_MODEL = """
import tensorflow as tf
class Net(tf.Module):
    def __init__(self):
        self.w = tf.Variable(tf.random.stateless_normal((8, 3), seed=(1, 2)))
    @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="features")])
    def __call__(self, features):
        return {"y": tf.nn.relu(features @ self.w)}
net = Net()
tf.saved_model.save(net, saved_model_path, signatures={"serving_default": net.__call__})
"""

# Both of TensorFlow's files in one process of its environment: TensorFlow's import is most of it.
_TENSORFLOW_FILES = "import sys\nkeras_path, saved_model_path = sys.argv[1:3]\n" + _KERAS + _SAVED_MODEL

_IR = """
import sys, openvino as ov
ov.save_model(ov.convert_model(sys.argv[1]), sys.argv[2])
"""


def made_with(framework: str, script: str, *args: Path) -> None:
    """Run ``script`` in ``framework``'s own environment, as that framework's user would."""
    env = resolve([FrameworkRef(framework)], "own", default_root())[framework]
    assert env.python is not None, env.error
    proc = subprocess.run([str(env.python), "-c", script, *map(str, args)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def run_model(tmp_path: Path, path: Path, *flags: str) -> dict[str, dict[str, object]]:
    proc = run_cli(["--model", str(path), *flags, *QUICK], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return summary_rows(only_run_dir(tmp_path / "results"))


@pytest.fixture(scope="module")
def tensorflow_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A Keras file and a SavedModel, made by TensorFlow's users' calls in its environment."""
    root = tmp_path_factory.mktemp("made")
    keras_path, saved_model_path = root / "net.keras", root / "exported"
    made_with("tensorflow", _TENSORFLOW_FILES, keras_path, saved_model_path)
    return keras_path, saved_model_path


def test_a_keras_file_runs_in_tensorflow_and_jax_the_first_the_reference(
    tmp_path: Path, tensorflow_files: tuple[Path, Path]
) -> None:
    path = tensorflow_files[0]
    # JAX first: it is the reference, and TensorFlow is checked against it.
    rows = run_model(tmp_path, path, "--frameworks", "jax,tensorflow,onnxruntime", "--batch-size", "4")
    first, second = rows["jax"], rows["tensorflow"]
    assert first["status"] == "ok", first["error"]
    assert first["parity_reference"] == "jax: the first to run it, the reference of the rest"
    assert first["parity_ok"] is None  # not checked against itself
    assert second["status"] == "ok" and second["parity_ok"], second["error"]
    assert second["parity_reference"] == "jax, the first framework to run it (the model has no reference)"
    assert second["max_abs_diff"] is not None
    assert rows["onnxruntime"]["status"] == "skipped"


def test_a_saved_model_runs_in_tensorflow(tmp_path: Path, tensorflow_files: tuple[Path, Path]) -> None:
    path = tensorflow_files[1]
    rows = run_model(tmp_path, path, "--frameworks", "tensorflow,jax,onnxruntime", "--batch-size", "4")
    assert rows["tensorflow"]["status"] == "ok", rows["tensorflow"]["error"]
    assert (
        rows["tensorflow"]["parity_reference"] == "tensorflow: the first to run it, the reference of the rest"
    )
    assert rows["jax"]["status"] == rows["onnxruntime"]["status"] == "skipped"


def test_an_openvino_ir_runs_in_openvino(tmp_path: Path) -> None:
    source = onnx_model(tmp_path / "theirs.onnx")
    path = tmp_path / "theirs.xml"
    made_with("openvino", _IR, source, path)
    assert path.with_suffix(".bin").is_file()
    rows = run_model(tmp_path, path, "--frameworks", "openvino,onnxruntime", "--shape", "ids=12")
    assert rows["openvino"]["status"] == "ok", rows["openvino"]["error"]
    assert rows["openvino"]["parity_reference"] == "openvino: the first to run it, the reference of the rest"
    assert rows["onnxruntime"]["status"] == "skipped"
