"""torchvision 0.28's classification models: the zoo's reference figures, and torchvision itself.

The figures are those of each model's DEFAULT weights (``get_model_weights(name).DEFAULT``): ``num_params``,
``_ops`` (GMACs of convolutions, linear layers and attention matmuls) and the crop size of its transforms, the
resolution those figures hold at.  torchvision is a test-only dependency: the library never imports it.
"""

from __future__ import annotations

import sys
import types
from typing import Any, NamedTuple


class Published(NamedTuple):
    params: int
    gmacs: float
    resolution: int


TORCHVISION: dict[str, Published] = {
    "alexnet": Published(61_100_840, 0.714, 224),
    "convnext_base": Published(88_591_464, 15.355, 224),
    "convnext_large": Published(197_767_336, 34.361, 224),
    "convnext_small": Published(50_223_688, 8.684, 224),
    "convnext_tiny": Published(28_589_128, 4.456, 224),
    "densenet121": Published(7_978_856, 2.834, 224),
    "densenet161": Published(28_681_000, 7.728, 224),
    "densenet169": Published(14_149_480, 3.36, 224),
    "densenet201": Published(20_013_928, 4.291, 224),
    "efficientnet_b0": Published(5_288_548, 0.386, 224),
    "efficientnet_b1": Published(7_794_184, 0.687, 240),
    "efficientnet_b2": Published(9_109_994, 1.088, 288),
    "efficientnet_b3": Published(12_233_232, 1.827, 300),
    "efficientnet_b4": Published(19_341_616, 4.394, 380),
    "efficientnet_b5": Published(30_389_784, 10.266, 456),
    "efficientnet_b6": Published(43_040_704, 19.068, 528),
    "efficientnet_b7": Published(66_347_960, 37.746, 600),
    "efficientnet_v2_l": Published(118_515_272, 56.08, 480),
    "efficientnet_v2_m": Published(54_139_356, 24.582, 480),
    "efficientnet_v2_s": Published(21_458_488, 8.366, 384),
    "googlenet": Published(6_624_904, 1.498, 224),
    "inception_v3": Published(27_161_264, 5.713, 299),
    "maxvit_t": Published(30_919_624, 5.558, 224),
    "mnasnet0_5": Published(2_218_512, 0.104, 224),
    "mnasnet0_75": Published(3_170_208, 0.215, 224),
    "mnasnet1_0": Published(4_383_312, 0.314, 224),
    "mnasnet1_3": Published(6_282_256, 0.526, 224),
    "mobilenet_v2": Published(3_504_872, 0.301, 224),
    "mobilenet_v3_large": Published(5_483_032, 0.217, 224),
    "mobilenet_v3_small": Published(2_542_856, 0.057, 224),
    "regnet_x_16gf": Published(54_278_536, 15.941, 224),
    "regnet_x_1_6gf": Published(9_190_136, 1.603, 224),
    "regnet_x_32gf": Published(107_811_560, 31.736, 224),
    "regnet_x_3_2gf": Published(15_296_552, 3.177, 224),
    "regnet_x_400mf": Published(5_495_976, 0.414, 224),
    "regnet_x_800mf": Published(7_259_656, 0.8, 224),
    "regnet_x_8gf": Published(39_572_648, 7.995, 224),
    "regnet_y_128gf": Published(644_812_894, 374.57, 384),
    "regnet_y_16gf": Published(83_590_140, 15.912, 224),
    "regnet_y_1_6gf": Published(11_202_430, 1.612, 224),
    "regnet_y_32gf": Published(145_046_770, 32.28, 224),
    "regnet_y_3_2gf": Published(19_436_338, 3.176, 224),
    "regnet_y_400mf": Published(4_344_144, 0.402, 224),
    "regnet_y_800mf": Published(6_432_512, 0.834, 224),
    "regnet_y_8gf": Published(39_381_472, 8.473, 224),
    "resnet101": Published(44_549_160, 7.801, 224),
    "resnet152": Published(60_192_808, 11.514, 224),
    "resnet18": Published(11_689_512, 1.814, 224),
    "resnet34": Published(21_797_672, 3.664, 224),
    "resnet50": Published(25_557_032, 4.089, 224),
    "resnext101_32x8d": Published(88_791_336, 16.414, 224),
    "resnext101_64x4d": Published(83_455_272, 15.46, 224),
    "resnext50_32x4d": Published(25_028_904, 4.23, 224),
    "shufflenet_v2_x0_5": Published(1_366_792, 0.04, 224),
    "shufflenet_v2_x1_0": Published(2_278_604, 0.145, 224),
    "shufflenet_v2_x1_5": Published(3_503_624, 0.296, 224),
    "shufflenet_v2_x2_0": Published(7_393_996, 0.583, 224),
    "squeezenet1_0": Published(1_248_424, 0.819, 224),
    "squeezenet1_1": Published(1_235_496, 0.349, 224),
    "swin_b": Published(87_768_224, 15.431, 224),
    "swin_s": Published(49_606_258, 8.741, 224),
    "swin_t": Published(28_288_354, 4.491, 224),
    "swin_v2_b": Published(87_930_848, 20.325, 256),
    "swin_v2_s": Published(49_737_442, 11.546, 256),
    "swin_v2_t": Published(28_351_570, 5.94, 256),
    "vgg11": Published(132_863_336, 7.609, 224),
    "vgg11_bn": Published(132_868_840, 7.609, 224),
    "vgg13": Published(133_047_848, 11.308, 224),
    "vgg13_bn": Published(133_053_736, 11.308, 224),
    "vgg16": Published(138_357_544, 15.47, 224),
    "vgg16_bn": Published(138_365_992, 15.47, 224),
    "vgg19": Published(143_667_240, 19.632, 224),
    "vgg19_bn": Published(143_678_248, 19.632, 224),
    "vit_b_16": Published(86_567_656, 17.564, 224),
    "vit_b_32": Published(88_224_232, 4.409, 224),
    "vit_h_14": Published(633_470_440, 1016.717, 518),
    "vit_l_16": Published(304_326_632, 61.555, 224),
    "vit_l_32": Published(306_535_400, 15.378, 224),
    "wide_resnet101_2": Published(126_886_696, 22.753, 224),
    "wide_resnet50_2": Published(68_883_240, 11.398, 224),
}


def torchvision_models() -> Any:
    """``torchvision.models``, imported beside the CPU build of torch (see ../shared/FIELD-NOTES.md).

    The wheel's C++ ops do not load against this torch; an empty ``_meta_registrations`` module lets the
    models (which never use those ops) import.
    """
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    import torchvision.models

    return torchvision.models
