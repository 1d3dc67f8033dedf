"""The YOLOX network (CSPDarknet backbone, PAFPN neck, decoupled head) as a plain ``nn.Module``.

Module and parameter names follow the upstream YOLOX code (``backbone.backbone.dark2.0.dconv.conv``,
``head.cls_preds.0``...) so state dicts line up. Batch norm is folded into the convolutions (every
``ConvAct`` is conv-with-bias + SiLU), which is how the released ONNX files store the weights and what
inference wants anyway. Depth/width multipliers give nano (0.33, 0.25, depthwise), tiny (0.33, 0.375),
s (0.33, 0.5), m (0.67, 0.75), l (1.0, 1.0), x (1.33, 1.25).

Output of ``YOLOX.forward``: (B, A, 5 + C) with A anchor points over strides 8/16/32; per row
``dx, dy, log w, log h`` raw, objectness and class probabilities already sigmoided (as the ONNX export).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

# Standard variants: name -> (depth multiplier, width multiplier, depthwise convolutions).
VARIANTS: dict[str, tuple[float, float, bool]] = {
    "nano": (0.33, 0.25, True),
    "tiny": (0.33, 0.375, False),
    "s": (0.33, 0.50, False),
    "m": (0.67, 0.75, False),
    "l": (1.0, 1.0, False),
    "x": (1.33, 1.25, False),
}


@dataclass(frozen=True)
class YoloxArch:
    depth: float
    width: float
    depthwise: bool
    num_classes: int = 80

    def describe(self) -> str:
        name = next(
            (k for k, v in VARIANTS.items() if v == (self.depth, self.width, self.depthwise)), "custom"
        )
        dw = ", depthwise" if self.depthwise else ""
        return f"YOLOX-{name} (depth {self.depth}, width {self.width}{dw}, {self.num_classes} classes)"


def _pointwise_nhwc(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """1x1 stride-1 conv of an NHWC-contiguous x: its memory is a (B*H*W, Cin) matrix, so one GEMM."""
    b, c, h, w = x.shape
    bias = conv.bias
    assert bias is not None
    y = torch.mm(x.permute(0, 2, 3, 1).reshape(-1, c), conv.weight.view(conv.out_channels, c).t()).add_(bias)
    return y.view(b, h, w, -1).permute(0, 3, 1, 2)


class PointwiseConv(nn.Conv2d):
    """A 1x1 ``nn.Conv2d`` (same parameters and names) that can run as a GEMM; see ``use_nhwc_gemm``."""

    gemm = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gemm and x.is_contiguous(memory_format=torch.channels_last):
            return _pointwise_nhwc(x, self)
        return super().forward(x)


class ConvAct(nn.Module):
    """Conv (batch norm folded into weight and bias) + SiLU; 'same' padding for odd kernels."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=True)
        self.act = nn.SiLU(inplace=True)
        self.gemm = False  # see ``use_nhwc_gemm``

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gemm and x.is_contiguous(memory_format=torch.channels_last):
            return self.act(_pointwise_nhwc(x, self.conv))
        return self.act(self.conv(x))


class DWConv(nn.Module):
    """Depthwise k x k conv then pointwise 1 x 1 conv."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1) -> None:
        super().__init__()
        self.dconv = ConvAct(cin, cin, k, stride, groups=cin)
        self.pconv = ConvAct(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pconv(self.dconv(x))


def _conv(cin: int, cout: int, k: int, stride: int, depthwise: bool) -> nn.Module:
    return DWConv(cin, cout, k, stride) if depthwise else ConvAct(cin, cout, k, stride)


class Bottleneck(nn.Module):
    def __init__(self, cin: int, cout: int, shortcut: bool, depthwise: bool) -> None:
        super().__init__()
        self.conv1 = ConvAct(cin, cout, 1)
        self.conv2 = _conv(cout, cout, 3, 1, depthwise)
        self.use_add = shortcut and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        return y + x if self.use_add else y


class CSPLayer(nn.Module):
    def __init__(self, cin: int, cout: int, n: int, shortcut: bool, depthwise: bool) -> None:
        super().__init__()
        hidden = int(cout * 0.5)
        self.conv1 = ConvAct(cin, hidden, 1)
        self.conv2 = ConvAct(cin, hidden, 1)
        self.conv3 = ConvAct(2 * hidden, cout, 1)
        self.m = nn.Sequential(*(Bottleneck(hidden, hidden, shortcut, depthwise) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.conv1(x), self.conv2(x)  # conv1 before conv2: upstream (and ONNX) call order
        return self.conv3(torch.cat([self.m(x1), x2], dim=1))


class SPPBottleneck(nn.Module):
    """Max pools of 5, 9 and 13 px (stride 1, same size) concatenated with their input.

    Computed as a cascade of 5 x 5 pools (SPPF): with stride 1 and -inf padding a 5-pool of a 5-pool
    is exactly the 9-pool and three are the 13-pool, for less work than three separate pools.
    """

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        hidden = cin // 2
        self.conv1 = ConvAct(cin, hidden, 1)
        self.pool = nn.MaxPool2d(5, 1, 2)
        self.conv2 = ConvAct(hidden * 4, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        p5 = self.pool(x)
        p9 = self.pool(p5)
        return self.conv2(torch.cat([x, p5, p9, self.pool(p9)], dim=1))


class Focus(nn.Module):
    """Space-to-depth (H, W) -> (H/2, W/2) with 4x channels, then a 3 x 3 conv."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = ConvAct(cin * 4, cout, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tl, tr = x[..., ::2, ::2], x[..., ::2, 1::2]
        bl, br = x[..., 1::2, ::2], x[..., 1::2, 1::2]
        y = torch.cat([tl, bl, tr, br], dim=1)
        if x.is_contiguous(memory_format=torch.channels_last):
            # The cat of strided slices only looks NHWC; a real NHWC copy makes the conv ~2.5x faster.
            y = y.contiguous(memory_format=torch.channels_last)
        return self.conv(y)


class CSPDarknet(nn.Module):
    def __init__(self, depth: float, width: float, depthwise: bool) -> None:
        super().__init__()
        c = int(width * 64)
        d = max(round(depth * 3), 1)
        self.stem = Focus(3, c)
        self.dark2 = nn.Sequential(
            _conv(c, c * 2, 3, 2, depthwise), CSPLayer(c * 2, c * 2, d, True, depthwise)
        )
        self.dark3 = nn.Sequential(
            _conv(c * 2, c * 4, 3, 2, depthwise), CSPLayer(c * 4, c * 4, d * 3, True, depthwise)
        )
        self.dark4 = nn.Sequential(
            _conv(c * 4, c * 8, 3, 2, depthwise), CSPLayer(c * 8, c * 8, d * 3, True, depthwise)
        )
        self.dark5 = nn.Sequential(
            _conv(c * 8, c * 16, 3, 2, depthwise),
            SPPBottleneck(c * 16, c * 16),
            CSPLayer(c * 16, c * 16, d, False, depthwise),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.dark2(self.stem(x))
        c3 = self.dark3(x)
        c4 = self.dark4(c3)
        return c3, c4, self.dark5(c4)


class YOLOPAFPN(nn.Module):
    def __init__(self, depth: float, width: float, depthwise: bool) -> None:
        super().__init__()
        self.backbone = CSPDarknet(depth, width, depthwise)
        c0, c1, c2 = (int(ch * width) for ch in (256, 512, 1024))
        n = round(3 * depth)
        self.lateral_conv0 = ConvAct(c2, c1, 1)
        self.C3_p4 = CSPLayer(2 * c1, c1, n, False, depthwise)
        self.reduce_conv1 = ConvAct(c1, c0, 1)
        self.C3_p3 = CSPLayer(2 * c0, c0, n, False, depthwise)
        self.bu_conv2 = _conv(c0, c0, 3, 2, depthwise)
        self.C3_n3 = CSPLayer(2 * c0, c1, n, False, depthwise)
        self.bu_conv1 = _conv(c1, c1, 3, 2, depthwise)
        self.C3_n4 = CSPLayer(2 * c1, c2, n, False, depthwise)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x2, x1, x0 = self.backbone(x)
        fpn_out0 = self.lateral_conv0(x0)
        f_out0 = self.C3_p4(
            torch.cat([nn.functional.interpolate(fpn_out0, scale_factor=2.0, mode="nearest"), x1], 1)
        )
        fpn_out1 = self.reduce_conv1(f_out0)
        pan_out2 = self.C3_p3(
            torch.cat([nn.functional.interpolate(fpn_out1, scale_factor=2.0, mode="nearest"), x2], 1)
        )
        pan_out1 = self.C3_n3(torch.cat([self.bu_conv2(pan_out2), fpn_out1], 1))
        pan_out0 = self.C3_n4(torch.cat([self.bu_conv1(pan_out1), fpn_out0], 1))
        return pan_out2, pan_out1, pan_out0


class YOLOXHead(nn.Module):
    def __init__(self, num_classes: int, width: float, depthwise: bool) -> None:
        super().__init__()
        hidden = int(256 * width)
        in_ch = [int(ch * width) for ch in (256, 512, 1024)]
        self.stems = nn.ModuleList(ConvAct(c, hidden, 1) for c in in_ch)
        self.cls_convs = nn.ModuleList(
            nn.Sequential(_conv(hidden, hidden, 3, 1, depthwise), _conv(hidden, hidden, 3, 1, depthwise))
            for _ in in_ch
        )
        self.reg_convs = nn.ModuleList(
            nn.Sequential(_conv(hidden, hidden, 3, 1, depthwise), _conv(hidden, hidden, 3, 1, depthwise))
            for _ in in_ch
        )
        self.cls_preds = nn.ModuleList(PointwiseConv(hidden, num_classes, 1) for _ in in_ch)
        self.reg_preds = nn.ModuleList(PointwiseConv(hidden, 4, 1) for _ in in_ch)
        self.obj_preds = nn.ModuleList(PointwiseConv(hidden, 1, 1) for _ in in_ch)

    def forward(self, feats: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        outs = []
        # Execution order stem, cls branch, reg branch, obj matches upstream (and the ONNX node order,
        # which the weight loader relies on).
        for k, x in enumerate(feats):
            x = self.stems[k](x)
            cls = self.cls_preds[k](self.cls_convs[k](x))
            reg_feat = self.reg_convs[k](x)
            reg = self.reg_preds[k](reg_feat)
            obj = self.obj_preds[k](reg_feat)
            outs.append(torch.cat([reg, obj.sigmoid(), cls.sigmoid()], 1).flatten(2))
        return torch.cat(outs, dim=2).permute(0, 2, 1)


class YOLOX(nn.Module):
    """(B, 3, S, S) float BGR 0-255 -> (B, A, 5 + C); S a multiple of 32."""

    def __init__(self, arch: YoloxArch) -> None:
        super().__init__()
        self.arch = arch
        self.backbone = YOLOPAFPN(arch.depth, arch.width, arch.depthwise)
        self.head = YOLOXHead(arch.num_classes, arch.width, arch.depthwise)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def use_nhwc_gemm(self, enabled: bool) -> None:
        """Run 1x1 stride-1 convs as GEMMs on channels_last inputs (CPU inference).

        Single-threaded, ATen sends batch < 16 1x1 convs to its im2col path, which copies
        channels_last tensors to NCHW and back around every conv; a GEMM on the NHWC memory avoids
        that. Off for export so traced graphs keep plain Conv ops.
        """
        for m in self.modules():
            if isinstance(m, ConvAct):
                c = m.conv
                m.gemm = enabled and c.kernel_size == (1, 1) and c.stride == (1, 1) and c.groups == 1
            elif isinstance(m, PointwiseConv):
                m.gemm = enabled
