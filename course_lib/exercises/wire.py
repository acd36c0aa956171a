"""Plain data across the process boundary: values to JSON and back without unpickling anything.

The grader never lets the student's process hand it a Python object, and never runs a deserialiser
whose input a student controls beyond JSON. Everything that crosses (the case inputs sent to the
sandbox, the values the student's function returns) is JSON whose only non-JSON parts are

* tensors, as ``{"tensor": {"dtype": "float32", "shape": [2, 3], "data": <base64 of the raw bytes>}}``:
  a dense, strided, CPU tensor of one of the plain dtypes of :data:`TENSOR_DTYPES`, rebuilt with
  :func:`torch.frombuffer` after the byte count is checked against the shape (no pickle, so no nested,
  sparse, quantized or subclassed tensor can come back);
* numpy arrays and scalars of numbers, ``{"numpy": {"dtype": "<f8", "shape": [...], "data": ...,
  "scalar": bool}}``, numbers only (dtype kinds b, i, u, f, c), rebuilt with :func:`numpy.frombuffer`.

Anything else a student returns (a string, a generator, an object, a sparse or nested tensor, an
integer too large for a float) crosses as an :class:`Opaque`: its type name and a short text, which
the checks quote in their messages. :func:`decode` refuses anything malformed with ``ValueError``,
bounds the size of every tensor and the nesting of every value, and never raises anything else for
any JSON input (so one forged reply costs its submission, never the batch).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
from typing import Any

import torch

#: The largest tensor or array :func:`decode` rebuilds (bytes of data in one value).
MAX_TENSOR_BYTES = 2 * 2**20
#: The deepest nesting of lists, tuples and dicts :func:`decode` rebuilds.
MAX_DEPTH = 20
#: The most dimensions of a tensor or array.
MAX_DIMS = 8

#: dtype name -> (torch dtype, item size in bytes); the only tensors that cross.
TENSOR_DTYPES: dict[str, torch.dtype] = {
    "float64": torch.float64, "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
    "complex128": torch.complex128, "complex64": torch.complex64, "int64": torch.int64, "int32": torch.int32,
    "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool,
}
_TENSOR_NAMES = {v: k for k, v in TENSOR_DTYPES.items()}


@dataclasses.dataclass(frozen=True)
class Opaque:
    """A value that is not plain data, described by its type name and a short text."""

    type_name: str
    text: str

    def __str__(self) -> str:
        return self.type_name


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, limit: int) -> bytes:
    if not isinstance(text, str):
        raise ValueError("malformed data")  # noqa: TRY004 - every malformed value is a ValueError
    if len(text) > (limit // 3 + 2) * 4:
        raise ValueError(f"a value of more than {limit} bytes is over the limit")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as err:
        raise ValueError("malformed base64 data") from err


def _shape(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) > MAX_DIMS:
        raise ValueError("malformed shape")
    if not all(type(n) is int and 0 <= n <= MAX_TENSOR_BYTES for n in value):
        raise ValueError("malformed shape")
    return tuple(value)


def _tensor_to_plain(t: torch.Tensor) -> dict[str, Any]:
    t = t.detach().cpu().resolve_conj().resolve_neg().contiguous()
    if t.dtype == torch.bfloat16:
        raw = t.view(torch.int16).numpy().tobytes()
    else:
        raw = t.numpy().tobytes()
    return {"dtype": _TENSOR_NAMES[t.dtype], "shape": list(t.shape), "data": _b64(raw)}


def _tensor_from_plain(data: Any) -> torch.Tensor:
    if not isinstance(data, dict) or set(data) != {"dtype", "shape", "data"}:
        raise ValueError("malformed tensor")
    dtype = TENSOR_DTYPES.get(data["dtype"]) if isinstance(data["dtype"], str) else None
    if dtype is None:
        raise ValueError(f"a tensor of dtype {str(data['dtype'])[:30]!r} is not plain numbers")
    shape = _shape(data["shape"])
    raw = _unb64(data["data"], MAX_TENSOR_BYTES)
    itemsize = torch.empty((), dtype=dtype).element_size()
    if math.prod(shape) * itemsize != len(raw):
        raise ValueError(f"a tensor of shape {shape} can't hold {len(raw)} bytes")
    if not raw:
        return torch.empty(shape, dtype=dtype)
    if dtype == torch.bfloat16:
        return torch.frombuffer(bytearray(raw), dtype=torch.int16).view(torch.bfloat16).reshape(shape).clone()
    return torch.frombuffer(bytearray(raw), dtype=dtype).reshape(shape).clone()


def _numpy_to_plain(a: Any) -> dict[str, Any]:
    import numpy as np

    arr = np.asarray(a)
    return {"dtype": arr.dtype.str, "shape": list(arr.shape), "data": _b64(arr.tobytes()),
            "scalar": isinstance(a, np.generic)}


def _numpy_from_plain(data: Any) -> Any:
    import numpy as np

    if not isinstance(data, dict) or set(data) != {"dtype", "shape", "data", "scalar"}:
        raise ValueError("malformed array")
    text = data["dtype"]
    if not isinstance(text, str) or len(text) > 4 or text[:1] not in "<>|=" or text[1:2] not in "biufc":
        raise ValueError(f"a numpy array of dtype {str(text)[:30]!r} is not plain numbers")
    try:
        dtype = np.dtype(text)
    except TypeError as err:
        raise ValueError("malformed numpy dtype") from err
    if dtype.kind not in "biufc" or dtype.hasobject:
        raise ValueError(f"a numpy array of dtype {dtype} is not plain numbers")
    shape = _shape(data["shape"])
    raw = _unb64(data["data"], MAX_TENSOR_BYTES)
    if math.prod(shape) * dtype.itemsize != len(raw):
        raise ValueError(f"an array of shape {shape} can't hold {len(raw)} bytes")
    array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    return array[()] if data["scalar"] is True and array.ndim == 0 else array


def is_numpy(x: Any) -> bool:
    """True for a numpy array or scalar."""
    module = type(x).__module__ or ""
    return module == "numpy" or module.startswith("numpy.")


def _plain_tensor(x: torch.Tensor) -> str:
    """Why ``x`` can't cross as a plain tensor ('' when it can)."""
    if x.is_nested:
        return "a nested tensor"
    if x.layout != torch.strided:
        return f"a sparse tensor ({str(x.layout).replace('torch.', '')})"
    if x.is_quantized or x.dtype not in _TENSOR_NAMES:
        return f"a tensor of dtype {x.dtype}"
    if x.is_meta:
        return "a meta tensor (no values)"
    if x.numel() * x.element_size() > MAX_TENSOR_BYTES:
        return f"a tensor of {x.numel()} elements (over the limit of {MAX_TENSOR_BYTES} bytes)"
    return ""


def encode(x: Any, depth: int = 0) -> Any:
    """``x`` as JSON-ready plain data (see the module docstring); never raises."""
    if depth > MAX_DEPTH:
        return {"opaque": "nested", "text": f"nested more than {MAX_DEPTH} levels deep"}
    try:
        if x is None or isinstance(x, (bool, str)) and type(x) in (bool, str):
            return {"json": x if type(x) is not str else x[:2000]}
        if type(x) is int:
            if abs(x) >= 2**1024:
                return {"opaque": "an integer too large for a float", "text": ""}
            return {"int": str(x)}
        if type(x) is float:
            return {"float": repr(x)}
        if isinstance(x, torch.Tensor):
            why = _plain_tensor(x)
            if why:
                return {"opaque": why, "text": ""}
            plain = torch.Tensor.as_subclass(x, torch.Tensor)
            kind = "tensor" if type(x) is torch.Tensor else "tensor_subclass"
            out = {kind: _tensor_to_plain(plain)}
            if kind == "tensor_subclass":
                out["type"] = type(x).__qualname__[:60]
            return out
        if is_numpy(x) and hasattr(x, "dtype"):
            if x.dtype.kind not in "biufc":
                return {"opaque": "numpy.ndarray", "text": f"an array of dtype {x.dtype}"}
            if x.nbytes > MAX_TENSOR_BYTES:
                return {"opaque": "numpy.ndarray", "text": f"an array of {x.size} elements (over the limit)"}
            return {"numpy": _numpy_to_plain(x)}
        if type(x) in (list, tuple):
            return {type(x).__name__: [encode(v, depth + 1) for v in x[:10_000]]}
        if type(x) is dict:
            return {"dict": [[str(k)[:200], encode(v, depth + 1)] for k, v in list(x.items())[:1000]]}
        text = object.__repr__(x)
        return {"opaque": type(x).__qualname__[:100], "text": text[:200]}
    except Exception as exc:  # noqa: BLE001 - a hostile __repr__ or a broken tensor: describe, don't raise
        return {"opaque": "unreadable", "text": f"{type(exc).__name__}"}


def decode(data: Any, depth: int = 0) -> Any:
    """The value :func:`encode` wrote, rebuilt from plain data only; raises ValueError on anything else.

    Whatever JSON ``data`` is, nothing but ``ValueError`` comes out (a size, a nesting or a format that
    is wrong is said in its message).
    """
    try:
        return _decode(data, depth)
    except ValueError:
        raise
    except (TypeError, KeyError, AttributeError, OverflowError, RecursionError, MemoryError, RuntimeError) as err:
        raise ValueError(f"malformed value ({type(err).__name__})") from None


def _decode(data: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError(f"a value nested more than {MAX_DEPTH} levels deep")
    if not isinstance(data, dict) or len(data) not in (1, 2):
        raise ValueError("malformed value")
    if "json" in data:
        value = data["json"]
        if value is not None and type(value) not in (bool, str):
            raise ValueError("malformed json value")
        return value[:2000] if isinstance(value, str) else value
    if "int" in data:
        text = str(data["int"])
        if len(text) > 320 or not text.lstrip("-").isdigit():
            return Opaque("an integer too large for a float", "")
        value = int(text)
        return value if abs(value) < 2**1024 else Opaque("an integer too large for a float", "")
    if "float" in data:
        return float(str(data["float"])[:40])
    if "tensor" in data:
        return _tensor_from_plain(data["tensor"])
    if "tensor_subclass" in data:
        _tensor_from_plain(data["tensor_subclass"])
        return Opaque(f"a subclass of torch.Tensor ({str(data.get('type', '?'))[:60]})", "")
    if "numpy" in data:
        return _numpy_from_plain(data["numpy"])
    if "list" in data or "tuple" in data:
        items = data.get("list", data.get("tuple"))
        if not isinstance(items, list):
            raise ValueError("malformed list")
        out = [_decode(v, depth + 1) for v in items[:10_000]]
        return out if "list" in data else tuple(out)
    if "dict" in data:
        if not isinstance(data["dict"], list):
            raise ValueError("malformed dict")
        pairs = data["dict"][:1000]
        if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            raise ValueError("malformed dict")
        return {str(k)[:200]: _decode(v, depth + 1) for k, v in pairs}
    if "opaque" in data:
        return Opaque(str(data["opaque"])[:100], str(data.get("text", ""))[:200])
    raise ValueError("malformed value")


def as_real(x: Any) -> float | None:
    """``x`` as a float when it is one real number (int, float, numpy scalar, one-element tensor)."""
    try:
        if isinstance(x, bool):
            return None
        if isinstance(x, (int, float)):
            return float(x)
        if isinstance(x, torch.Tensor) and x.numel() == 1 and not x.is_complex() and x.layout == torch.strided \
                and not x.is_nested:
            return float(x.item())
        if is_numpy(x) and hasattr(x, "size") and getattr(x, "size", 0) == 1:
            value = x.item()
            return None if isinstance(value, complex) else float(value)
    except (TypeError, ValueError, OverflowError, RuntimeError):
        return None
    return None


def finite(x: float) -> bool:
    """True for a finite float."""
    return math.isfinite(x)
