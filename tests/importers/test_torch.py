"""The PyTorch front end and the spec writer: hand-written modules and torchvision's, round-tripped.

Each round trip imports a module, writes the spec, builds it, loads the source's state_dict strictly
and compares outputs relative to their scale.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import archspec
from archspec.errors import SpecError
from archspec.importers.torch import read_torch
from tests.zoo.marks import spec_param


def round_trip(module: nn.Module, shape: tuple[int, ...], tmp_path: Path) -> str:
    module.eval()
    text = archspec.import_torch(module, shape)
    path = tmp_path / "imported.yaml"
    path.write_text(text)
    built = archspec.build(str(path)).eval()
    built.load_state_dict(module.state_dict(), strict=True)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        expected, actual = module(x), built(x)
    assert (actual - expected).abs().max().item() <= 1e-4 * max(1.0, expected.abs().max().item())
    return text


def lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))


class Stage(nn.Module):
    def __init__(self, channels_in: int, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels_in, channels, 3, padding=1)
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.norm(self.conv(x)))


class TinyUNet(nn.Module):
    """ModuleLists built in a loop, and skips concatenated on the way up."""

    def __init__(self, widths: tuple[int, ...] = (4, 8)):
        super().__init__()
        self.down = nn.ModuleList(Stage(a, b) for a, b in zip((3, *widths[:-1]), widths, strict=True))
        ups, channels = [], widths[-1]
        for width in reversed(widths):
            ups.append(Stage(channels + width, width))
            channels = width
        self.up = nn.ModuleList(ups)
        self.head = nn.Conv2d(widths[0], 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for stage in self.down:
            x = stage(x)
            skips.append(x)
        for stage, skip in zip(self.up, reversed(skips), strict=True):
            x = stage(torch.cat([x, skip], dim=1))
        return self.head(x)


class Twice(nn.Module):
    """One pooling module called several times, one block called twice is refused only if it has weights."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 2 * 2, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.pool(self.pool(torch.relu(self.conv(x)))))
        return self.fc(x.flatten(1))


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 3, 3, padding=1)
        self.conv2 = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(torch.relu(self.conv1(x)))


def test_a_unet_with_a_module_list_and_concatenated_skips_round_trips(tmp_path: Path) -> None:
    """The decoder's ModuleList is called one stage at a time between the parent's concatenations: its
    stages become a container (``up.0``, ``up.1``), each run where it ran; the encoder's, called in one
    run, a named repeat whose iterations the concatenations reach (``down.0``)."""
    text = round_trip(TinyUNet(), (3, 32, 32), tmp_path)
    assert "name: up.0}" in text and "name: up.1}" in text and "{concat: [up.0, down.0]}" in text
    assert "{repeat: 2, name: down" in text
    assert lines(text) <= 20


def test_a_deeper_unet_round_trips(tmp_path: Path) -> None:
    text = round_trip(TinyUNet((4, 8, 16, 16)), (3, 16, 16), tmp_path)
    assert "name: up.3}" in text


class StagedUNet(nn.Module):
    """The same U-Net with its decoder stages as attributes: each stage reads one concatenation."""

    def __init__(self) -> None:
        super().__init__()
        self.down1, self.down2 = Stage(3, 4), Stage(4, 8)
        self.up1, self.up2 = Stage(16, 8), Stage(12, 4)
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip1 = self.down1(x)
        skip2 = self.down2(skip1)
        x = self.up1(torch.cat([skip2, skip2], dim=1))
        x = self.up2(torch.cat([x, skip1], dim=1))
        return self.head(x)


def test_a_unet_with_stages_as_attributes_round_trips(tmp_path: Path) -> None:
    text = round_trip(StagedUNet(), (3, 16, 16), tmp_path)
    assert text.count("concat") == 2 and "stage:" in text


def test_a_module_called_several_times_round_trips(tmp_path: Path) -> None:
    text = round_trip(Twice(), (3, 16, 16), tmp_path)
    assert text.count("maxpool2d") == 3


def test_a_sequential_of_residual_blocks_becomes_a_named_repeat(tmp_path: Path) -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.Sequential(Residual(), Residual(), Residual())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.blocks(x)

    text = round_trip(Net(), (3, 8, 8), tmp_path)
    assert "{repeat: 3, name: blocks" in text


def test_children_named_from_a_number_become_a_repeat_with_names(tmp_path: Path) -> None:
    class Layers(nn.Module):
        """Not a Sequential: a class that chains children named layer1, layer3, layer5 (DenseNet's blocks)."""

        def __init__(self) -> None:
            super().__init__()
            for number in (1, 3, 5):
                self.add_module(f"layer{number}", Residual())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for layer in self.children():
                x = layer(x)
            return x

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 3, 1)
            self.block = Layers()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.block(self.stem(x))

    text = round_trip(Net(), (3, 8, 8), tmp_path)
    assert "{repeat: 3, name: block, names: 'layer${2 * index + 1}', body: " in text


@pytest.mark.parametrize(("names", "written"), [
    (["0", "1", "2"], ""), (["denselayer1", "denselayer2"], "denselayer${index + 1}"),
    (["b0_x", "b2_x"], "b${2 * index}_x"), (["a1", "b2"], None), (["l1", "l01"], None), (["l2", "l1"], None),
])
def test_iteration_names_are_read_as_an_index_rule(names: list[str], written: str | None) -> None:
    from archspec.importers.recover import iteration_names

    assert iteration_names(names) == written


class Unsupported(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(self.conv(x), dim=1)


class Branching(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return y if y.mean() > 0 else -y


class Outer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = Branching()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)


def test_an_unsupported_function_names_the_function_the_module_and_the_remedy() -> None:
    with pytest.raises(SpecError) as caught:
        read_torch(Unsupported(), (3, 8, 8))
    message = caught.value.format()
    assert "cumsum" in message and "the model's own forward" in message and "custom-ops" in message


def test_data_dependent_control_flow_is_reported_with_the_module_path() -> None:
    with pytest.raises(SpecError) as caught:
        read_torch(Outer(), (3, 8, 8))
    message = caught.value.format()
    assert "data-dependent control flow" in message and "'inner' (Branching)" in message


def test_the_command_writes_the_spec_and_weights_and_refuses_bad_input(tmp_path: Path) -> None:
    out, weights = tmp_path / "net.yaml", tmp_path / "net.pt"
    command = [sys.executable, "-m", "archspec", "import", "tests.importers.test_torch:Twice", "-o", str(out),
               "--input-shape", "3,16,16", "--weights", str(weights)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    archspec.build(str(out)).load_state_dict(torch.load(weights), strict=True)
    bad = [*command[:4], "tests.importers.test_torch:Unsupported", "-o", str(tmp_path / "bad.yaml"),
           "--input-shape", "3,8,8"]
    failed = subprocess.run(bad, capture_output=True, text=True, check=False)
    assert failed.returncode == 1 and "cumsum" in failed.stderr and "Traceback" not in failed.stderr
    assert not (tmp_path / "bad.yaml").exists()


TARGETS = {"resnet50": 60, "resnet18": 60}


@pytest.mark.parametrize("name", [spec_param("resnet18"), spec_param("resnet50", large=True)])
def test_torchvision_models_round_trip(name: str, tmp_path: Path) -> None:
    from tests.zoo.reference import torchvision_models

    text = round_trip(getattr(torchvision_models(), name)(), (3, 224, 224), tmp_path)
    assert lines(text) <= TARGETS[name]


class Block(nn.Module):
    """A block whose projection exists only where the shape changes, as ResNet's downsample."""

    def __init__(self, channels_in: int, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels_in, channels, 3, padding=1)
        self.downsample = nn.Conv2d(channels_in, channels, 1) if channels_in != channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.downsample(x) if self.downsample is not None else x
        return torch.relu(self.conv(x) + shortcut)


def test_an_optional_submodule_becomes_a_block_option(tmp_path: Path) -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.Sequential(Block(3, 8), Block(8, 8), Block(8, 8))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.blocks(x)

    text = round_trip(Net(), (3, 8, 8), tmp_path)
    assert "block_2" not in text and "downsample: bool" in text and "${index == 0}" in text


class Tokens(nn.Module):
    """Parameters used directly in forward: a class token and a scale, as ViT and ConvNeXt hold them."""

    def __init__(self) -> None:
        super().__init__()
        self.class_token = nn.Parameter(torch.randn(1, 1, 8))
        self.scale = nn.Parameter(torch.randn(8))
        self.attention = nn.MultiheadAttention(8, 2, batch_first=True)
        self.norm = nn.LayerNorm(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.attention(x, x, x, need_weights=False)[0]
        return self.norm(x)[:, 0] * self.scale


def test_parameters_used_in_forward_attention_and_select_round_trip(tmp_path: Path) -> None:
    text = round_trip(Tokens(), (8, 4, 4), tmp_path)
    assert "parameter: true" in text and "attention" in text and "select" in text


class Windows(nn.Module):
    """Per-position layers on windows that reshapes cut, and reshapes that put the image back."""

    def __init__(self, channels: int = 8, size: int = 2) -> None:
        super().__init__()
        self.size = size
        self.stem = nn.Conv2d(3, channels, 1)
        self.norm = nn.LayerNorm(channels)
        self.fc1 = nn.Linear(channels, 2 * channels)
        self.fc2 = nn.Linear(2 * channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        n, c, h, w = x.shape
        s = self.size
        x = x.view(n, c, h // s, s, w // s, s).permute(0, 2, 4, 3, 5, 1).reshape(n, -1, s * s, c)
        x = x + self.fc2(nn.functional.gelu(self.fc1(self.norm(x))))
        x = x.view(n, h // s, w // s, s, s, c).permute(0, 5, 1, 3, 2, 4).reshape(n, c, h, w)
        return torch.relu(x)


def test_layers_computed_position_by_position_are_read_through_window_reshapes(tmp_path: Path) -> None:
    text = round_trip(Windows(), (3, 6, 4), tmp_path)
    assert "  - {permute: [1, 2, 0], name: permute}\n  - {layer_norm: {channels_last: true}, name: norm}" in text
    assert "  - {permute: [2, 0, 1]}\n  - relu" in text and "reshape" not in text


class WindowsThenConcat(Windows):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        x = x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 3, 5, 1).reshape(n, -1, 4, c)
        return torch.cat([x, x], dim=1).flatten(1)


def test_an_op_that_mixes_rearranged_positions_is_refused_naming_it() -> None:
    with pytest.raises(SpecError) as caught:
        archspec.import_torch(WindowsThenConcat(), (3, 4, 4))
    message = caught.value.format()
    assert "function 'cat' in the model's own forward has no archspec op that reads positions rearranged" in message


def test_maxvit_block_and_grid_attention_are_partition_attention(tmp_path: Path) -> None:
    from tests.zoo.reference import torchvision_models

    maxvit = torchvision_models().maxvit

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 16, 1)
            self.window, self.grid = (maxvit.PartitionAttentionLayer(  # 16 channels, heads of 8, size 4
                16, 8, 4, kind, (8, 8), 2, nn.GELU, nn.LayerNorm, 0.0, 0.0, 0.1) for kind in ("window", "grid"))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.grid(self.window(self.stem(x)))

    text = round_trip(Net(), (3, 8, 8), tmp_path)
    assert "{partition_attention: {heads: 2, size: 4, scale: 0.25, partition: $partition}, name: '1'}" in text
    assert "{attn_layer: {partition: window}, name: attn_layer}" in text
    assert "{attn_layer: {partition: grid}, name: attn_layer}" in text


class SharedConv(nn.Module):
    """One convolution applied twice: its weights would have to be shared, which layers do not do."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.relu(self.conv(x)))


def test_a_module_with_weights_called_twice_is_refused_by_name() -> None:
    with pytest.raises(SpecError) as caught:
        archspec.import_torch(SharedConv(), (3, 8, 8))
    message = caught.value.format()
    assert "'conv' is called more than once and has weights" in message and "its own module" in message


def test_swin_v2_attention_and_patch_merging_are_recognized(tmp_path: Path) -> None:
    from tests.zoo.reference import torchvision_models

    swin = torchvision_models().swin_transformer
    ShiftedWindowAttentionV2, PatchMergingV2 = swin.ShiftedWindowAttentionV2, swin.PatchMergingV2

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = ShiftedWindowAttentionV2(8, [4, 4], [2, 2], 2)
            self.merge = PatchMergingV2(8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.merge(self.attn(x.permute(0, 2, 3, 1)))

    text = round_trip(Net(), (8, 8, 8), tmp_path)
    assert "{window_attention_v2: {heads: 2, window: [4, 4], shift: [2, 2]}, name: attn}" in text
    assert "{patch_merging: {channels: 16, norm_first: false}, name: merge}" in text


class WithAuxiliary(nn.Module):
    """A classifier with an auxiliary head that only training runs (GoogLeNet's, Inception v3's)."""

    def __init__(self, unused: bool = False) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.aux = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5))
        self.body = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.5), nn.Linear(4, 5))
        self.spare = nn.Linear(2, 2) if unused else None

    def forward(self, x: torch.Tensor) -> Any:
        x = self.stem(x)
        aux = self.aux(x) if self.training else None
        out = self.fc(self.body(x))
        return (out, aux) if self.training else out


def test_a_head_that_only_training_runs_is_a_training_only_output(tmp_path: Path) -> None:
    module = WithAuxiliary()
    text = round_trip(module, (3, 8, 8), tmp_path)
    assert text.endswith("outputs:\n  output0: fc\n  output1: {layer: aux, training_only: true}\n")
    built = archspec.build(str(tmp_path / "imported.yaml")).train()
    built.load_state_dict(module.state_dict(), strict=True)
    assert built(torch.randn(2, 3, 8, 8)).output1.shape == (2, 5)


def test_weights_that_never_run_are_refused_naming_the_submodule() -> None:
    with pytest.raises(SpecError) as caught:
        archspec.import_torch(WithAuxiliary(unused=True), (3, 8, 8))
    message = caught.value.format()
    assert "submodule 'spare' holds weights that forward never uses, at inference or in training" in message


def test_a_block_registering_out_of_run_order_gets_register_first(tmp_path: Path) -> None:
    class PostNorm(nn.Module):
        """Swin v2's habit: the norm is registered first and runs after the layer."""

        def __init__(self) -> None:
            super().__init__()
            self.norm = nn.BatchNorm2d(3)
            self.conv = nn.Conv2d(3, 3, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.norm(self.conv(x))

    module = nn.Sequential(PostNorm(), nn.ReLU(), PostNorm())
    text = round_trip(module, (3, 4, 4), tmp_path)
    assert "    register_first: [norm]\n" in text
    built = archspec.build(str(tmp_path / "imported.yaml"))
    assert list(built.state_dict()) == list(module.state_dict())


def test_lists_of_lists_called_item_by_item_are_refused_naming_them() -> None:
    class Nested(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.levels = nn.ModuleList(nn.ModuleList(nn.Conv2d(3, 3, 1) for _ in range(2)) for _ in range(2))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for level in self.levels:
                for conv in level:
                    x = torch.relu(conv(x))
            return x

    with pytest.raises(SpecError) as caught:
        archspec.import_torch(Nested().eval(), (3, 8, 8))
    assert "'levels'" in caught.value.format() and "two levels deep" in caught.value.format()
