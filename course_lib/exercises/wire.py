"""Plain data across the process boundary: values to JSON and back without unpickling any object.

The grader never lets the student's process hand it a Python object. Everything that crosses (the
case inputs sent to the sandbox, the values the student's function returns) is JSON whose only
non-JSON parts are

* tensors, written with :func:`torch.save` and read back with ``torch.load(weights_only=True)``, which
  rebuilds plain :class:`torch.Tensor` objects only (a subclass, a patched class or any other global is
  refused by torch's restricted unpickler) — and :func:`decode` checks ``type(x) is torch.Tensor``;
* numpy arrays and scalars of numbers, written with :func:`numpy.save` and read with
  ``allow_pickle=False`` (numpy's own types; a scalar comes back as a numpy scalar).

Anything else a student returns (a string, a generator, an object) crosses as an :class:`Opaque`: its
type name and a short text, which the checks quote in their messages.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import math
from typing import Any

import torch

#: The largest encoded value :func:`decode` accepts (bytes of tensor data in one message).
MAX_TENSOR_BYTES = 64 * 2**20


@dataclasses.dataclass(frozen=True)
class Opaque:
    """A value that is not plain data, described by its type name and a short text."""

    type_name: str
    text: str

    def __str__(self) -> str:
        return self.type_name


def _tensor_to_b64(t: torch.Tensor) -> str:
    buf = io.BytesIO()
    torch.save(t.detach().cpu().contiguous().clone(), buf)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _tensor_from_b64(text: str) -> torch.Tensor:
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if len(raw) > MAX_TENSOR_BYTES:
        raise ValueError(f"a tensor of {len(raw)} bytes is over the limit of {MAX_TENSOR_BYTES}")
    t = torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
    if type(t) is not torch.Tensor:
        raise ValueError(f"expected a plain tensor, got {type(t).__name__}")
    return t


def _numpy_to_b64(a: Any) -> str:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.asarray(a), allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _numpy_from_b64(text: str) -> Any:
    import numpy as np

    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if len(raw) > MAX_TENSOR_BYTES:
        raise ValueError(f"an array of {len(raw)} bytes is over the limit of {MAX_TENSOR_BYTES}")
    return np.load(io.BytesIO(raw), allow_pickle=False)


def is_numpy(x: Any) -> bool:
    """True for a numpy array or scalar."""
    module = type(x).__module__ or ""
    return module == "numpy" or module.startswith("numpy.")


def encode(x: Any, depth: int = 0) -> Any:
    """``x`` as JSON-ready plain data (see the module docstring); never raises."""
    if depth > 20:
        return {"opaque": "nested", "text": "nested more than 20 levels deep"}
    try:
        if x is None or isinstance(x, (bool, str)) and type(x) in (bool, str):
            return {"json": x}
        if type(x) is int:
            return {"int": str(x)}
        if type(x) is float:
            return {"float": repr(x)}
        if isinstance(x, torch.Tensor):
            kind = "tensor" if type(x) is torch.Tensor else "tensor_subclass"
            out = {kind: _tensor_to_b64(torch.Tensor.as_subclass(x, torch.Tensor))}
            if kind == "tensor_subclass":
                out["type"] = type(x).__qualname__
            return out
        if is_numpy(x) and hasattr(x, "dtype"):
            import numpy as np

            if x.dtype == object:
                return {"opaque": "numpy.ndarray", "text": "an array of Python objects"}
            return {"numpy": _numpy_to_b64(x), "scalar": isinstance(x, np.generic)}
        if type(x) in (list, tuple):
            return {type(x).__name__: [encode(v, depth + 1) for v in x[:10_000]]}
        if type(x) is dict:
            return {"dict": [[str(k), encode(v, depth + 1)] for k, v in list(x.items())[:1000]]}
        text = object.__repr__(x)
        return {"opaque": type(x).__qualname__[:100], "text": text[:200]}
    except Exception as exc:  # noqa: BLE001 - a hostile __repr__ or a broken tensor: describe, don't raise
        return {"opaque": "unreadable", "text": f"{type(exc).__name__}"}


def decode(data: Any) -> Any:
    """The value :func:`encode` wrote, rebuilt from plain data only; raises ValueError on anything else."""
    if not isinstance(data, dict) or len(data) not in (1, 2):
        raise ValueError("malformed value")
    if "json" in data:
        value = data["json"]
        if value is not None and type(value) not in (bool, str):
            raise ValueError("malformed json value")
        return value
    if "int" in data:
        return int(str(data["int"])[:4300])
    if "float" in data:
        return float(str(data["float"])[:40])
    if "tensor" in data:
        return _tensor_from_b64(str(data["tensor"]))
    if "tensor_subclass" in data:
        _tensor_from_b64(str(data["tensor_subclass"]))
        return Opaque(f"a subclass of torch.Tensor ({str(data.get('type', '?'))[:60]})", "")
    if "numpy" in data:
        array = _numpy_from_b64(str(data["numpy"]))
        if array.dtype.kind not in "biufc":
            raise ValueError(f"a numpy array of dtype {array.dtype} is not plain numbers")
        return array[()] if data.get("scalar") and array.ndim == 0 else array
    if "list" in data or "tuple" in data:
        items = [decode(v) for v in list(data.get("list", data.get("tuple")))[:10_000]]
        return items if "list" in data else tuple(items)
    if "dict" in data:
        return {str(k): decode(v) for k, v in list(data["dict"])[:1000]}
    if "opaque" in data:
        return Opaque(str(data["opaque"])[:100], str(data.get("text", ""))[:200])
    raise ValueError("malformed value")


def as_real(x: Any) -> float | None:
    """``x`` as a float when it is one real number (int, float, numpy scalar, one-element tensor)."""
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, torch.Tensor) and x.numel() == 1 and not x.is_complex():
        return float(x.item())
    if is_numpy(x) and hasattr(x, "size") and getattr(x, "size", 0) == 1:
        try:
            value = float(x.item())
        except (TypeError, ValueError):
            return None
        return value if not isinstance(value, complex) else None
    return None


def finite(x: float) -> bool:
    """True for a finite float."""
    return math.isfinite(x)
