"""Which axis an op acts on, for tensors of any rank: the one rule every op that reads features follows.

Shapes never include the batch.  A tensor is read by its rank:

- ``[F]``: features (after ``flatten``, or a selected token);
- ``[L, D]``: a sequence of ``L`` tokens of ``D`` features each (ViT's encoder);
- ``[C, H, W]``: an image, channels first (what convolutions and pools take);
- ``[H, W, C]``: a channels-last image (ConvNeXt's and Swin's blocks): the same rank as an image, so an op
  reads it so only when the spec says ``channels_last: true`` on the layer.

Ops that act on features (``linear``, ``layer_norm``) use the last axis of features and token sequences.  On
an image ``layer_norm`` normalizes the channels at each position, while ``linear`` stays an error with a
hint (flatten first), because applying it per position is rarely what a spec without ``channels_last``
means.
"""

from __future__ import annotations

from archspec.ops.base import Shape, ShapeError, format_shape, volume


def feature_axis(op: str, shape: Shape, channels_last: bool, *, images: bool) -> int:
    """The axis of ``shape`` holding the features ``op`` acts on; ShapeError where the rank does not fit.

    ``images``: whether the op also acts on the channels of a channels-first image.
    """
    rank = len(shape)
    if channels_last:
        if rank < 2:
            raise ShapeError(f"{op} with channels_last expects a channels-last tensor [..., C], "
                             f"got {format_shape(shape)}")
        return rank - 1
    if rank in (1, 2):
        return rank - 1
    if rank == 3 and images:
        return 0
    if rank == 3:
        raise ShapeError(
            f"{op} expects features [F] or tokens [L, D], got an image tensor {format_shape(shape)}; add a "
            f"'flatten' layer before it (giving {volume(shape)} features), or permute to channels-last and "
            "set channels_last: true to apply it at every position")
    raise ShapeError(f"{op} expects features [F], tokens [L, D] or an image, got {format_shape(shape)}; "
                     "set channels_last: true to act on the last axis")
