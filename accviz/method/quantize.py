"""int8 weights × elimination: dynamic int8 quantization of the encoder's linear layers.

Elimination cuts the rows each layer processes; at batch 1 on a CPU most of a layer's time is
reading its weights, which elimination does not reduce. int8 weights cut exactly that cost (4x
fewer bytes per weight), so the two compose: ``PrunedBert(quantize_int8(model))`` runs unchanged.

Dynamic quantization (PyTorch's own, ``torch.ao.quantization.quantize_dynamic``, fbgemm kernels):
every ``nn.Linear`` y = x W^T + b becomes

    W_q = round(W / s) ∈ [-128, 127]   (s per output channel, or one s per tensor)
    y   = dequant(quant(x; s_x) @ W_q^T) + b     (s_x from each input's range, at run time)

so no calibration data is needed. Why not ``torchao``: it is not a dependency of the pinned
``torch==2.13.0`` CPU wheel, and its int8 paths target GPUs and ``torch.compile``; the fbgemm
dynamic kernels ship with torch and need neither. Attention products, softmax, LayerNorm and the
scores stay in fp32, and so does anything named in ``keep_fp32`` (by default the pooler and the
classifier: two small matrices whose rounding reaches the logits directly).
"""

from __future__ import annotations

import copy
import fnmatch
import warnings
from dataclasses import dataclass

import torch
from torch import nn
from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig

from accviz.errors import AccvizError

SCHEMES = ("per-channel", "per-tensor")
DEFAULT_KEEP_FP32 = ("bert.pooler", "classifier")


@dataclass(frozen=True)
class Int8Config:
    """How to quantize: the weight scale's granularity and which modules stay fp32 (name prefixes)."""

    scheme: str = "per-channel"  # "per-channel": one scale per output row of W; "per-tensor": one per W
    keep_fp32: tuple[str, ...] = DEFAULT_KEEP_FP32  # prefixes or globs, e.g. ("*.attention.self.query",)

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise AccvizError(f"Unknown int8 scheme {self.scheme!r}; choose one of: {', '.join(SCHEMES)}.")

    @property
    def label(self) -> str:
        extra = sorted(set(self.keep_fp32) - set(DEFAULT_KEEP_FP32))
        return f"int8 {self.scheme}" + (f" (fp32: {', '.join(extra)})" if extra else "")


def _kept(name: str, pattern: str) -> bool:
    """A module name kept fp32 by a prefix ("bert.encoder.layer.5") or a glob ("*.attention.self.query")."""
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name, pattern + ".*")


def _quantizable(model: nn.Module, keep_fp32: tuple[str, ...]) -> list[str]:
    names = [name for name, module in model.named_modules() if type(module) is nn.Linear]
    return [n for n in names if not any(_kept(n, p) for p in keep_fp32)]


def quantize_int8(model: nn.Module, config: Int8Config | None = None) -> nn.Module:
    """A copy of ``model`` with int8 weights in every ``nn.Linear`` not kept in fp32; eval mode.

    The original model is left untouched (the app keeps both). Inference only: dynamic quantized
    layers have no gradients, so fine-tuning stays fp32.
    """

    config = config or Int8Config()
    quantized = copy.deepcopy(model).eval()
    names = _quantizable(quantized, config.keep_fp32)
    if not names:
        raise AccvizError("This model has no linear layers left to quantize to int8.")
    qconfig = per_channel_dynamic_qconfig if config.scheme == "per-channel" else default_dynamic_qconfig
    with warnings.catch_warnings():  # torch.ao.quantization's deprecation notice: it still ships and works
        warnings.simplefilter("ignore")
        torch.ao.quantization.quantize_dynamic(
            quantized, {name: qconfig for name in names}, dtype=torch.qint8, inplace=True
        )
    quantized.accviz_int8 = config  # what was done, for cards and labels
    return quantized


def int8_config_of(model: nn.Module) -> Int8Config | None:
    """The ``Int8Config`` a model was quantized with, or None for an fp32 model."""
    return getattr(model, "accviz_int8", None)


def parse_keep_fp32(text: str | None) -> tuple[str, ...]:
    """``"classifier,bert.encoder.layer.5"`` -> module-name prefixes; the defaults are always kept."""
    extra = tuple(p.strip() for p in (text or "").split(",") if p.strip())
    return tuple(dict.fromkeys(DEFAULT_KEEP_FP32 + extra))
