"""Make the CUDA-built torchvision from PyPI importable next to CPU torch.

PyPI's torchvision wheels are CUDA builds; on `torch==2.13.0+cpu` their import fails with
"operator torchvision::nms does not exist" because the compiled ops do not load. Llama 4's image
processor only needs torchvision's Python transforms, so declaring the two operator schemas it
registers fake kernels for (`nms`, `qnms`) before the import is enough (DESIGN.md section 6).
Call `prepare_torchvision()` before anything imports torchvision, in every process.
"""

from __future__ import annotations

import sys

_library = None  # kept alive for the life of the process: dropping it unregisters the schemas


def prepare_torchvision() -> None:
    global _library
    if _library is not None or "torchvision" in sys.modules:
        return
    import torch

    try:
        import torchvision  # noqa: F401  (a matching build needs nothing)
        return
    except RuntimeError:
        for name in [n for n in sys.modules if n.startswith("torchvision")]:
            del sys.modules[name]
    _library = torch.library.Library("torchvision", "DEF")
    _library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _library.define("qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor")
