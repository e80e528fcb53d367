"""Ops from outside archspec: registered from Python or loaded with --plugin; specs name what they need."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence

import pytest

import archspec
from archspec.ops import Op, OpParams, Shape, Size, TorchLayer
from archspec.plugins import loaded_plugins


class ChannelRepeatParams(OpParams):
    times: Size = 2
    """How many copies of the channels."""


class ChannelRepeat(Op[ChannelRepeatParams]):
    kind = "channel_repeat"
    Params = ChannelRepeatParams
    shorthand = "times"
    family = "reshape"
    description = "repeat the channels N times (a test op)"

    def output_shape(self, params: ChannelRepeatParams, inputs: Sequence[Shape]) -> Shape:
        channels, *rest = inputs[0]
        return (channels * params.times, *rest)

    def torch_layer(self, params: ChannelRepeatParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("torch.nn.Identity")


@pytest.fixture
def custom_op():
    op = archspec.register_op(ChannelRepeat)
    yield op
    archspec.unregister_op("channel_repeat")


def test_registered_op_is_part_of_the_language(custom_op, write_spec):
    path = write_spec("archspec: 1\nname: n\ninput: [3, 8, 8]\n"
                      "layers: [{channel_repeat: 3}, {conv2d: {channels: 4, kernel: 1}}]\n")
    graph = archspec.analyse(str(path))
    assert graph.node("channel_repeat1").output_shape == (9, 8, 8)
    assert graph.node("conv1").parameters == 4 * 9 + 4
    assert archspec.registered_ops()["channel_repeat"].source == "python"


def test_custom_kinds_join_did_you_mean_and_the_schema(custom_op, write_spec):
    from archspec.spec.model import language

    assert "channel_repeat_layer" in str(language().json_schema())
    path = write_spec("archspec: 1\nname: n\ninput: [3, 8, 8]\nlayers: [channel_repeet]\n")
    with pytest.raises(archspec.SpecError, match="did you mean 'channel_repeat'"):
        archspec.analyse(str(path))


def test_custom_parameters_are_validated_with_locations(custom_op, write_spec):
    path = write_spec("archspec: 1\nname: n\ninput: [3, 8, 8]\nlayers: [{channel_repeat: {times: 0}}]\n")
    with pytest.raises(archspec.SpecError) as caught:
        archspec.analyse(str(path))
    assert str(caught.value.diagnostics[0].location) == f"{path}:4:35"


def test_a_faulty_shape_rule_is_reported_as_the_ops_fault(write_spec):
    class Broken(ChannelRepeat):
        kind = "broken"

        def output_shape(self, params, inputs):  # type: ignore[override]
            raise ZeroDivisionError("oops")

    archspec.register_op(Broken)
    try:
        path = write_spec("archspec: 1\nname: n\ninput: [3, 8, 8]\nlayers: [broken]\n")
        with pytest.raises(archspec.SpecError) as caught:
            archspec.analyse(str(path))
        diagnostic = caught.value.diagnostics[0]
        assert "the op's shape rule (output_shape) raised ZeroDivisionError: oops" in diagnostic.message
        assert "fault in the definition of op 'broken'" in diagnostic.notes[0]
        assert "test_registration" in diagnostic.notes[0]
    finally:
        archspec.unregister_op("broken")


def test_malformed_shape_from_a_rule_is_reported(write_spec):
    class Malformed(ChannelRepeat):
        kind = "malformed"

        def output_shape(self, params, inputs):  # type: ignore[override]
            return ("a", 3)

    archspec.register_op(Malformed)
    try:
        path = write_spec("archspec: 1\nname: n\ninput: [3, 8, 8]\nlayers: [malformed]\n")
        with pytest.raises(archspec.SpecError, match="which is not a shape"):
            archspec.analyse(str(path))
    finally:
        archspec.unregister_op("malformed")


def test_builtin_ops_cannot_be_replaced_and_kinds_cannot_clash(custom_op):
    class Conv(ChannelRepeat):
        kind = "conv2d"

    with pytest.raises(archspec.UsageError, match="already registered"):
        archspec.register_op(Conv)
    with pytest.raises(archspec.UsageError, match="built-in op and cannot be replaced"):
        archspec.register_op(Conv, replace=True)


def test_a_spec_names_the_plugins_it_needs(write_spec):
    path = write_spec("archspec: 1\nname: n\ninput: [3, 8, 8]\nplugins: [not_installed_ops]\nlayers: [relu]\n")
    with pytest.raises(archspec.SpecError) as caught:
        archspec.load(str(path))
    diagnostic = caught.value.diagnostics[0]
    assert diagnostic.message == "this spec needs the plugin 'not_installed_ops', which is not loaded"
    assert "--plugin not_installed_ops" in (diagnostic.hint or "")
    assert diagnostic.location is not None and diagnostic.location.line == 4


def test_ops_registered_from_a_module_satisfy_its_plugin_name(custom_op):
    assert "tests" in loaded_plugins()


def test_cli_plugin_option_loads_a_module(tmp_path):
    plugin = tmp_path / "tiny_ops.py"
    plugin.write_text(textwrap.dedent('''
        from archspec import register_op
        from tests.plugins.test_registration import ChannelRepeat
        register_op(ChannelRepeat)
    '''))
    spec = tmp_path / "net.yaml"
    spec.write_text("archspec: 1\nname: n\ninput: [3, 8, 8]\nplugins: [tiny_ops]\nlayers: [{channel_repeat: 2}]\n")
    env_path = f"{tmp_path}:{__import__('tests.conftest').conftest.REPO}"
    command = [sys.executable, "-m", "archspec"]
    missing = subprocess.run([*command, "validate", str(spec)], capture_output=True, text=True,
                             env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"})
    assert missing.returncode == 1 and "needs the plugin 'tiny_ops'" in missing.stderr
    loaded = subprocess.run([*command, "validate", str(spec), "--plugin", "tiny_ops"], capture_output=True, text=True,
                            env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"})
    assert loaded.returncode == 0, loaded.stderr
    listed = subprocess.run([*command, "list", "--ops", "--plugin", "tiny_ops"], capture_output=True, text=True,
                            env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"})
    assert "channel_repeat" in listed.stdout and "plugin tiny_ops" in listed.stdout
    bad = subprocess.run([*command, "validate", str(spec), "--plugin", "no_such_module"], capture_output=True,
                         text=True, env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"})
    assert bad.returncode == 2 and "cannot import it" in bad.stderr


def test_python_and_the_cli_load_installed_plugins_alike(tmp_path):
    """An installed plugin's ops are known to ``archspec.analyse`` as to ``archspec validate``, whether or not
    the spec names the plugin; with autoloading disabled, to neither."""
    spec = tmp_path / "net.yaml"
    spec.write_text("archspec: 1\nname: n\ninput: [8, 8, 8]\nlayers: [{squeeze_excite: 2}, relu]\n")
    python = [sys.executable, "-c", f"import archspec; print(archspec.analyse({str(spec)!r}).parameters)"]
    cli = [sys.executable, "-m", "archspec", "validate", str(spec)]
    for disabled in (False, True):
        env = {**os.environ, "ARCHSPEC_DISABLE_PLUGIN_AUTOLOAD": "1" if disabled else ""}
        from_python = subprocess.run(python, capture_output=True, text=True, env=env, cwd=tmp_path)
        from_cli = subprocess.run(cli, capture_output=True, text=True, env=env, cwd=tmp_path)
        assert (from_python.returncode == 0) == (from_cli.returncode == 0) == (not disabled), \
            (from_python.stderr, from_cli.stderr)
        if disabled:
            assert "unknown layer kind 'squeeze_excite'" in from_python.stderr
            assert "unknown layer kind 'squeeze_excite'" in from_cli.stderr
