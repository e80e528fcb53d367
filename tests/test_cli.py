"""The console script end to end: real subprocesses, real exit statuses, no tracebacks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

ARCHSPEC = shutil.which("archspec") or str(Path(sys.executable).parent / "archspec")


def run(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **env} if env else None
    return subprocess.run([ARCHSPEC, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=environment)


def test_summary_json_is_one_object_without_batch_dimension():
    result = run("summary", "specs/lenet5.yaml", "--format", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary) == {"name", "input_shape", "output_shape", "params", "macs", "layers"}
    assert summary["input_shape"] == [1, 32, 32] and summary["output_shape"] == [10]
    assert summary["params"] == 61_706
    assert set(summary["layers"][0]) == {"name", "op", "output_shape", "params", "macs"}


def test_builtin_names_work_like_paths(tmp_path):
    by_name = run("summary", "vgg16", "-f", "json", cwd=tmp_path)
    by_path = run("summary", "specs/vgg16.yaml", "-f", "json")
    assert by_name.returncode == 0 and json.loads(by_name.stdout) == json.loads(by_path.stdout)


def test_summary_table_with_depth_and_totals():
    result = run("summary", "resnet50", "--depth", "1")
    assert result.returncode == 0
    assert "layer1" in result.stdout and "repeat ×3" in result.stdout and "layer1.0" not in result.stdout
    assert "params: 25,557,032" in result.stdout and "MACs:" in result.stdout
    assert "parameter memory (float32): 102.23 MB" in result.stdout
    assert "activation memory, batch 1" in result.stdout


def test_input_shape_override():
    result = run("summary", "alexnet_paper", "--input-shape", "3,224,224", "-f", "json")
    layers = {layer["name"]: layer for layer in json.loads(result.stdout)["layers"]}
    assert layers["flatten1"]["output_shape"] == [256 * 5 * 5]


def test_set_variables():
    result = run("summary", "resnet18", "--set", "residual=false", "--set", "classes=10", "-f", "json")
    summary = json.loads(result.stdout)
    assert summary["output_shape"] == [10] and not [x for x in summary["layers"] if x["op"] == "add"]


def test_validate_reports_each_file():
    result = run("validate", "lenet5", "specs/resnet18.yaml")
    assert result.returncode == 0
    assert "ok: lenet5: lenet5, 12 layers, 61,706 parameters, output [10]" in result.stdout


def test_bad_spec_exits_1_with_a_located_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("archspec: 1\nname: bad\ninput: [1, 8, 8]\nlayers:\n  - conv2d: {channels: 4, kernal: 3}\n")
    result = run("summary", str(bad), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("bad.yaml:5:27: error: unknown key 'kernal'")
    assert "did you mean 'kernel'?" in result.stderr and "Traceback" not in result.stderr


def test_usage_errors_exit_2():
    assert run("summary", "lenet5", "--input-shape", "x").returncode == 2
    assert run("summary", "lenet5", "--depth", "-1").returncode == 2
    assert run("frobnicate").returncode == 2


def test_list_shows_every_builtin_spec_with_a_description():
    result = run("list")
    for name in ("lenet5", "alexnet_paper", "vgg19", "resnet152", "plain34", "nin"):
        assert name in result.stdout
    assert "The 34-layer plain network of He et al. 2015" in result.stdout


def test_list_ops_shows_where_each_op_comes_from():
    result = run("list", "--ops")
    assert "conv2d" in result.stdout and "built-in" in result.stdout and "[h, w]" in result.stdout


def test_schema_is_checked_in_and_current():
    """docs/schema/archspec.schema.json is what editors use; regenerate with `archspec schema -o` when it drifts.
    It describes the built-in ops, so installed plugins are left out here."""
    result = run("schema", env={"ARCHSPEC_DISABLE_PLUGIN_AUTOLOAD": "1"})
    schema = json.loads(result.stdout)
    assert schema["title"] == "archspec spec"
    assert "conv2d_layer" in json.dumps(schema)
    checked_in = (REPO / "docs" / "schema" / "archspec.schema.json").read_text()
    assert json.loads(checked_in) == schema, "run: archspec schema -o docs/schema/archspec.schema.json"


def test_static_commands_never_import_torch():
    code = (
        "import sys; from archspec.cli import app\n"
        "import archspec, archspec.analysis.table\n"
        "archspec.analyse('resnet50')\n"
        "assert 'torch' not in sys.modules and 'onnx' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_version_and_help():
    assert run("--version").stdout.startswith("archspec ")
    assert "compile" in run("--help").stdout


def test_allow_dir_before_or_after_the_command(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "base.yaml").write_text("archspec: 1\nname: base\ninput: [3, 8, 8]\nlayers: [relu]\n")
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "net.yaml").write_text("archspec: 1\nextends: ../shared/base.yaml\nname: net\n")
    refused = run("validate", "project/net.yaml", cwd=tmp_path)
    assert refused.returncode == 1 and "outside project" in refused.stderr and "--allow-dir" in refused.stderr
    for args in (("--allow-dir", "shared", "summary", "project/net.yaml"),
                 ("summary", "project/net.yaml", "--allow-dir", "shared")):
        allowed = run(*args, cwd=tmp_path)
        assert allowed.returncode == 0, allowed.stderr
    missing = run("--allow-dir", "nowhere", "validate", "project/net.yaml", cwd=tmp_path)
    assert missing.returncode == 2 and "no such directory" in missing.stderr


def test_plugin_option_before_the_command_and_on_inspect(tmp_path):
    plugin = tmp_path / "marker_plugin.py"
    plugin.write_text("import pathlib\npathlib.Path(__file__).with_suffix('.loaded').write_text('yes')\n")
    env = {"PYTHONPATH": f"{tmp_path}:{REPO}"}
    for args in (("--plugin", "marker_plugin", "list"), ("inspect", "missing.onnx", "--plugin", "marker_plugin")):
        (tmp_path / "marker_plugin.loaded").unlink(missing_ok=True)
        result = run(*args, cwd=tmp_path, env=env)
        assert "No such option" not in result.stderr
        assert (tmp_path / "marker_plugin.loaded").exists(), (args, result.stderr)
    bad = run("--plugin", "no_such_module", "validate", "lenet5", cwd=tmp_path)
    assert bad.returncode == 2 and "cannot import it" in bad.stderr
