"""The worked example end to end through the real console script, with the plugin *installed*: the CLI
finds its ops through the entry point, and every command treats them as it treats conv2d."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO
from tests.plugins.conftest import PLUGIN, SE_RESNET, SHUFFLENET
from tests.test_cli import run

RUFF = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
NO_AUTOLOAD = {"ARCHSPEC_DISABLE_PLUGIN_AUTOLOAD": "1"}
SE_LAYERS = {"stage1.0.se1": (16, 148, 128), "stage2.0.se1": (32, 552, 512), "stage3.1.se1": (64, 2128, 2048)}
"""A few SE layers: channels, parameters (2·C·C/4 weights + C/4 + C biases), MACs (2·C·C/4)."""


def test_the_plugins_ops_are_listed_with_their_source() -> None:
    listed = run("list", "--ops")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    for kind in ("squeeze_excite", "h_swish", "shuffle_channels"):
        assert f"plugin {PLUGIN}" in rows[kind]
    assert "built-in" in rows["conv2d"]
    assert list(rows).index("squeeze_excite") > list(rows).index("concat"), "built-in ops come first"


def test_validate_and_summary_give_shapes_parameters_and_macs() -> None:
    validated = run("validate", str(SE_RESNET), str(SHUFFLENET))
    assert validated.returncode == 0, validated.stderr
    assert "ok: " in validated.stdout and "se_resnet, 58 layers, 180,914 parameters, output [10]" in validated.stdout
    assert "shufflenet_unit, 26 layers, 2,434 parameters, output [10]" in validated.stdout
    summary = json.loads(run("summary", str(SE_RESNET), "-f", "json").stdout)
    layers = {layer["name"]: layer for layer in summary["layers"]}
    for name, (channels, params, macs) in SE_LAYERS.items():
        assert layers[name]["op"] == "squeeze_excite"
        assert (layers[name]["params"], layers[name]["macs"]) == (params, macs)
        assert layers[name]["output_shape"][0] == channels
    assert layers["stage2.0.se1"]["output_shape"] == [32, 16, 16]
    assert summary["params"] == sum(layer["params"] for layer in summary["layers"]) == 180_914
    table = run("summary", str(SE_RESNET), "--depth", "1")
    assert "stage1" in table.stdout and "params: 180,914" in table.stdout


def test_build_forward_source_weights_and_onnx_agree(tmp_path: Path) -> None:
    """compile --onnx --py --pt; the written source runs standalone with the written weights, in a fresh
    process that imports the plugin's layers, and computes what onnxruntime computes from the file."""
    out = tmp_path / "out"
    compiled = run("compile", str(SE_RESNET), "--onnx", "--py", "--pt", "--seed", "3", "-o", str(out), "-q")
    assert compiled.returncode == 0, compiled.stderr
    source = (out / "se_resnet.py").read_text()
    assert "from archspec_extra_ops.layers import HardSwish, SqueezeExcite" in source
    assert "It needs PyTorch and archspec_extra_ops" in source
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.standard_normal((3, 3, 32, 32)).astype(np.float32))
    script = textwrap.dedent("""
        import numpy as np, torch
        from se_resnet import SeResnet
        model = SeResnet()
        model.load_state_dict(torch.load("se_resnet.pt", weights_only=True))
        model.eval()
        with torch.no_grad():
            y = model(torch.from_numpy(np.load("../x.npy")))
        np.save("../y.npy", y.numpy())
        print(type(model.stage1[0].se1).__module__, sum(p.numel() for p in model.parameters()))
    """)
    standalone = subprocess.run([sys.executable, "-c", script], cwd=out, capture_output=True, text=True, timeout=120)
    assert standalone.returncode == 0, standalone.stderr
    assert standalone.stdout.split() == ["archspec_extra_ops.layers", "180914"]
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out / "se_resnet.onnx"), providers=["CPUExecutionProvider"])
    (from_onnx,) = session.run(["output"], {"input": np.load(tmp_path / "x.npy")})
    from_torch = np.load(tmp_path / "y.npy")
    assert from_onnx.shape == from_torch.shape == (3, 10)
    assert np.abs(from_onnx - from_torch).max() <= 1e-4 * max(np.abs(from_torch).max(), 1e-3)


@pytest.mark.skipif(not Path(RUFF).exists(), reason="ruff is not installed")
def test_the_generated_source_is_formatted_and_lint_clean(tmp_path: Path) -> None:
    for spec in (SE_RESNET, SHUFFLENET):
        assert run("compile", str(spec), "--py", "-q", "-o", str(tmp_path)).returncode == 0
    formatted = subprocess.run([RUFF, "format", "--check", "--line-length", "100", str(tmp_path)],
                               capture_output=True, text=True)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    linted = subprocess.run([RUFF, "check", "--line-length", "100", "--select", "E,F,W,I,UP,B", str(tmp_path)],
                            capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout


@pytest.mark.parametrize("style", ["graph", "volumes"])
def test_render_draws_the_plugins_layers_with_their_labels(tmp_path: Path, style: str) -> None:
    path = tmp_path / f"se_resnet_{style}.svg"
    rendered = run("render", str(SE_RESNET), "-o", str(path), "--style", style, "--expand")
    assert rendered.returncode == 0, rendered.stderr
    drawing = path.read_text()
    assert drawing.count("SE 1/4") == 6
    assert "h&#45;swish" in drawing or "h-swish" in drawing


def test_an_op_without_onnx_lowering_fails_export_on_its_line_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    failed = run("compile", str(SHUFFLENET), "--onnx", "-q", "-o", str(out))
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    first = failed.stderr.splitlines()[0]
    assert first == (f"{SHUFFLENET.relative_to(REPO)}:23:13: error: cannot export layer 'stage1.0.shuffle1' "
                     "(shuffle_channels) to ONNX: op 'shuffle_channels' has no ONNX lowering")
    assert "hint: define ChannelShuffle.to_onnx(params, context) to add one" in failed.stderr
    assert not out.exists()
    other_outputs = run("compile", str(SHUFFLENET), "--py", "--pt", "-q", "-o", str(out))
    assert other_outputs.returncode == 0, other_outputs.stderr
    assert "from archspec_extra_ops.layers import ChannelShuffle" in (out / "shufflenet_unit.py").read_text()


def test_the_schema_covers_the_plugins_ops_for_editor_completion() -> None:
    schema = run("schema").stdout
    definitions = json.loads(schema)["$defs"]
    assert definitions["squeeze_excite_layer"]["properties"]["squeeze_excite"]
    assert '"sigmoid"' in json.dumps(definitions) and '"hard_sigmoid"' in json.dumps(definitions)
    assert "squeeze_excite" not in run("schema", env=NO_AUTOLOAD).stdout


def test_a_spec_needing_the_plugin_says_how_to_get_it() -> None:
    """Not loaded (entry points switched off): the hint says --plugin; --plugin then works."""
    missing = run("validate", str(SE_RESNET), env=NO_AUTOLOAD)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr.splitlines()[0] == (f"{SE_RESNET.relative_to(REPO)}:9:11: error: this spec needs the plugin "
                                              f"'{PLUGIN}', which is not loaded")
    assert f"hint: the module '{PLUGIN}' is importable but was not loaded" in missing.stderr
    assert f"pass --plugin {PLUGIN}" in missing.stderr
    loaded = run("validate", str(SE_RESNET), "--plugin", PLUGIN, env=NO_AUTOLOAD)
    assert loaded.returncode == 0, loaded.stderr
    listed = run("list", "--ops", "--plugin", PLUGIN, env=NO_AUTOLOAD)
    assert f"plugin {PLUGIN}" in listed.stdout


def test_a_spec_needing_a_plugin_that_is_not_installed(tmp_path: Path) -> None:
    """The package invisible to Python: the hint says to install it."""
    hide = (f"import sys; sys.path = [p for p in sys.path if not p.endswith('examples/plugin')]; "
            f"sys.meta_path = [f for f in sys.meta_path if '{PLUGIN}' not in repr(f)]; "
            "from archspec.cli import main; sys.argv = ['archspec', *sys.argv[1:]]; main()")
    result = subprocess.run([sys.executable, "-c", hide, "validate", str(SE_RESNET)], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", **NO_AUTOLOAD}, cwd=REPO, timeout=120)
    assert result.returncode == 1, result.stderr
    assert f"hint: no module '{PLUGIN}' is installed here: install the package that provides it" in result.stderr


def test_typos_and_bad_parameters_of_custom_ops_are_located(tmp_path: Path) -> None:
    spec = tmp_path / "typos.yaml"
    spec.write_text(textwrap.dedent(f"""\
        archspec: 1
        name: typos
        plugins: [{PLUGIN}]
        input: [16, 8, 8]
        layers:
          - squeeze_excit: 4
          - h_swsh
          - rellu
          - squeeze_excite: {{reduction: 0}}
          - squeeze_excite: {{gate: hard}}
          - shuffle_channels
          - squeeze_excite: 32
    """))
    result = run("validate", str(spec), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert errors == [
        "typos.yaml:6:5: error: unknown layer kind 'squeeze_excit'",
        "typos.yaml:7:5: error: unknown layer kind 'h_swsh'",
        "typos.yaml:8:5: error: unknown layer kind 'rellu'",
        "typos.yaml:9:33: error: 'reduction': must be at least 1, got 0",
        "typos.yaml:10:28: error: 'gate': expected 'sigmoid' or 'hard_sigmoid', got the string 'hard'",
        "typos.yaml:11:5: error: missing required key 'groups' for shuffle_channels",
    ]
    hints = [line.strip() for line in result.stderr.splitlines() if "hint:" in line]
    assert hints[:3] == ["hint: did you mean 'squeeze_excite'?", "hint: did you mean 'h_swish'?",
                         "hint: did you mean 'relu'?"]
    spec.write_text(spec.read_text().replace("  - squeeze_excit: 4\n", "").split("  - h_swsh")[0]
                    + "  - squeeze_excite: 32\n")
    shape = run("validate", str(spec), cwd=tmp_path)
    assert shape.stderr.splitlines()[0] == ("typos.yaml:6:5: error: layer 'se1' (squeeze_excite): reduction 32 "
                                            "leaves no hidden channels for 16 input channels (use a reduction of at "
                                            "most 16)")


@pytest.mark.parametrize("command", [
    ["validate", str(SE_RESNET)], ["summary", str(SE_RESNET)], ["list", "--ops"], ["schema"],
    ["render", str(SE_RESNET), "-o", "{tmp}/se.dot"], ["render", str(SE_RESNET), "--style", "volumes", "-o",
                                                       "{tmp}/se.svg"],
])
def test_static_commands_with_the_plugin_never_import_torch(tmp_path: Path, command: list[str]) -> None:
    """The plugin's op definitions name their layers by path: loading it imports archspec, not torch."""
    code = textwrap.dedent("""
        import sys
        from archspec.cli import main
        sys.argv = ["archspec", *sys.argv[1:]]
        try:
            main()
        except SystemExit as exit:
            assert not exit.code, exit.code
        assert "archspec_extra_ops" in sys.modules
        assert "torch" not in sys.modules and "onnx" not in sys.modules, "torch was imported"
    """)
    arguments = [part.replace("{tmp}", str(tmp_path)) for part in command]
    result = subprocess.run([sys.executable, "-c", code, *arguments], capture_output=True, text=True, cwd=REPO,
                            timeout=120)
    assert result.returncode == 0, result.stderr
