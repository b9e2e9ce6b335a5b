"""The layer vocabulary of declarative model specs: what a job may ask a node to build.

A job's model arrives over the network as data, never as code: a list of layers, each a
type from the fixed vocabulary below with typed options. The node checks every layer
against the shape its input will have (so a spec that cannot run is refused before any
row is touched, naming the layer and the problem), counts the parameters against a cap (a
spec is also a way to make a node allocate), and only then builds PyTorch modules from
it (`dain.learning.network`).

Shapes here are one example's, without the batch axis: (features,) for a table row,
(channels, height, width) for an image, (time, features) for a window of a series."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dain.learning.errors import ModelSpecError

Shape = tuple[int, ...]

# Guards against specs made to exhaust a node: parameters travel every round and live in
# memory once per client; activations are per example.
MAX_PARAMETERS = 20_000_000
MAX_ACTIVATION = 2**22  # elements of one example's largest intermediate tensor
MAX_LAYERS = 64
MAX_DEPTH = 4  # residual blocks within residual blocks
MAX_WIDTH = 65_536  # features, channels, hidden units, embedding rows
MAX_KERNEL = 64
REQUIRED = object()

_CONV = {"out_channels": (int, REQUIRED), "kernel_size": (int, REQUIRED), "stride": (int, 1),
         "padding": ((int, str), 0), "bias": (bool, True)}  # fmt: skip
_POOL = {"kernel_size": (int, REQUIRED), "stride": (int, 0)}  # stride 0: the kernel size
_RNN = {"hidden_size": (int, REQUIRED), "num_layers": (int, 1), "output": (str, "last")}

# type -> option -> (accepted Python type(s), default or REQUIRED)
VOCABULARY: dict[str, dict[str, tuple[Any, Any]]] = {
    "linear": {"out_features": (int, REQUIRED), "bias": (bool, True)},
    "conv1d": _CONV,
    "conv2d": _CONV,
    "max_pool1d": _POOL,
    "max_pool2d": _POOL,
    "avg_pool1d": _POOL,
    "avg_pool2d": _POOL,
    "adaptive_avg_pool1d": {"output_size": (int, 1)},
    "adaptive_avg_pool2d": {"output_size": (int, 1)},
    "flatten": {},
    "relu": {},
    "gelu": {},
    "tanh": {},
    "sigmoid": {},
    "dropout": {"p": (float, 0.5)},
    "layer_norm": {},  # over the last axis, with a learned scale and shift
    "group_norm": {"num_groups": (int, REQUIRED)},  # channels (the first axis) in groups
    "embedding": {"num_embeddings": (int, REQUIRED), "embedding_dim": (int, REQUIRED)},
    "gru": _RNN,
    "lstm": _RNN,
    "transpose": {},  # swaps the last two axes: (time, features) <-> (channels, length)
    "residual": {"layers": (list, REQUIRED)},  # x + layers(x); the shape must come back
}
LAYER_TYPES = tuple(VOCABULARY)


@dataclass(frozen=True)
class Layer:
    """One layer of a spec: its type and options (defaults filled in), and for a residual
    block its body."""

    type: str
    options: tuple[tuple[str, Any], ...] = ()
    body: tuple[Layer, ...] = ()

    def get(self, name: str) -> Any:
        return dict(self.options)[name]

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"type": self.type, **dict(self.options)}
        if self.type == "residual":
            found["layers"] = [layer.to_dict() for layer in self.body]
        return found


def layer(type: str, **options: Any) -> Layer:
    """A checked layer from Python (the same checks as a spec from the network)."""
    return parse_layers([{"type": type, **options}])[0]


def parse_layers(raw: Any, where: str = "layer") -> tuple[Layer, ...]:
    """Layers from a spec's JSON or TOML list, each option checked for type and range."""
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes) or not raw:
        raise ModelSpecError(f"The model's {where}s must be a non-empty list of tables.")
    return tuple(_parse_one(entry, f"{where} {i + 1}", 1) for i, entry in enumerate(raw))


def _parse_one(raw: Any, where: str, depth: int) -> Layer:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("type"), str):
        raise ModelSpecError(f"{where.capitalize()} needs a 'type'.",
                             hint=f"Layer types: {', '.join(LAYER_TYPES)}.")  # fmt: skip
    kind = raw["type"]
    allowed = VOCABULARY.get(kind)
    if allowed is None:
        raise ModelSpecError(f"{where.capitalize()} has the unknown type '{kind}'.",
                             hint=f"Layer types: {', '.join(LAYER_TYPES)}.")  # fmt: skip
    where = f"{where} ({kind})"
    unknown = sorted(set(raw) - {"type", *allowed})
    if unknown:
        raise ModelSpecError(
            f"{where.capitalize()} has no option {', '.join(map(repr, unknown))}.",
            hint=f"Its options: {', '.join(allowed) or 'none'}.",
        )
    options = []
    for name, (accepted, default) in allowed.items():
        value = raw.get(name, default)
        if value is REQUIRED:
            raise ModelSpecError(f"{where.capitalize()} needs '{name}'.")
        wrong_bool = isinstance(value, bool) and accepted is not bool
        if not isinstance(value, accepted) or wrong_bool:
            if accepted is float and isinstance(value, int) and not wrong_bool:
                value = float(value)
            else:
                raise ModelSpecError(f"{where.capitalize()}: '{name}' = {value!r} is not a "
                                     f"{_type_name(accepted)}.")  # fmt: skip
        if name != "layers":
            options.append((name, value))
    body: tuple[Layer, ...] = ()
    if kind == "residual":
        if depth >= MAX_DEPTH:
            raise ModelSpecError(f"{where.capitalize()} nests residual blocks deeper than "
                                 f"{MAX_DEPTH}.")  # fmt: skip
        inner = raw["layers"]
        if not inner:
            raise ModelSpecError(f"{where.capitalize()} has no layers.")
        body = tuple(_parse_one(e, f"{where}, layer {i + 1}", depth + 1)
                     for i, e in enumerate(inner))  # fmt: skip
    found = Layer(kind, tuple(options), body)
    _check_ranges(found, where)
    return found


def _type_name(accepted: Any) -> str:
    if isinstance(accepted, tuple):
        return " or ".join(_type_name(a) for a in accepted)
    return {int: "whole number", float: "number", bool: "true/false", str: "text",
            list: "list"}[accepted]  # fmt: skip


def _check_ranges(found: Layer, where: str) -> None:
    opts = dict(found.options)
    for name in ("out_features", "out_channels", "hidden_size", "num_embeddings",
                 "embedding_dim", "output_size", "num_groups"):  # fmt: skip
        if name in opts and not 1 <= opts[name] <= MAX_WIDTH:
            raise ModelSpecError(f"{where.capitalize()}: '{name}' must be 1 to {MAX_WIDTH}, "
                                 f"not {opts[name]}.")  # fmt: skip
    if "kernel_size" in opts and not 1 <= opts["kernel_size"] <= MAX_KERNEL:
        raise ModelSpecError(f"{where.capitalize()}: 'kernel_size' must be 1 to {MAX_KERNEL}.")
    if "stride" in opts and not 0 <= opts["stride"] <= MAX_KERNEL:
        raise ModelSpecError(f"{where.capitalize()}: 'stride' must be 1 to {MAX_KERNEL}.")
    if found.type.startswith("conv") and opts["stride"] == 0:
        raise ModelSpecError(f"{where.capitalize()}: 'stride' must be at least 1.")
    padding = opts.get("padding", 0)
    if padding == "same":
        if opts["stride"] != 1 or opts["kernel_size"] % 2 == 0:
            raise ModelSpecError(
                f"{where.capitalize()}: padding 'same' needs stride 1 and an odd kernel_size.",
                hint="Give padding as a number of cells instead.",
            )
    elif isinstance(padding, str) or not 0 <= padding <= MAX_KERNEL:
        raise ModelSpecError(f"{where.capitalize()}: 'padding' must be 0 to {MAX_KERNEL} or "
                             "'same'.")  # fmt: skip
    if "p" in opts and not 0 <= opts["p"] < 1:
        raise ModelSpecError(f"{where.capitalize()}: 'p' must be at least 0 and below 1.")
    if "num_layers" in opts and not 1 <= opts["num_layers"] <= 8:
        raise ModelSpecError(f"{where.capitalize()}: 'num_layers' must be 1 to 8.")
    if "output" in opts and opts["output"] not in ("last", "sequence"):
        raise ModelSpecError(f"{where.capitalize()}: 'output' must be 'last' (the last step's "
                             "state) or 'sequence' (every step's).")  # fmt: skip


# ---- shapes and sizes ----------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What a checked spec builds: the output shape, parameter count, largest activation."""

    output: Shape
    parameters: int
    activation: int


def check_input_shape(shape: Sequence[int]) -> Shape:
    found = tuple(shape)
    if not 1 <= len(found) <= 3 or any(not isinstance(d, int) or d < 1 for d in found):
        raise ModelSpecError(
            f"The model's input shape {list(found)} must have 1 to 3 positive sizes.",
            hint="[features] for table rows, [time, features] for windows of a series, "
            "[channels, height, width] for images.",
        )
    if math.prod(found) > MAX_ACTIVATION:
        raise ModelSpecError(f"The model's input {list(found)} is too large: at most "
                             f"{MAX_ACTIVATION} values per example.")  # fmt: skip
    return found


def plan(input_shape: Shape, layers: Sequence[Layer]) -> Plan:
    """Follows an example's shape through the layers; refuses the first layer that cannot
    take what it is given, or a model above the size caps."""
    count = _count(layers)
    if count > MAX_LAYERS:
        raise ModelSpecError(f"The model has {count} layers; at most {MAX_LAYERS} are allowed.")
    shape, parameters, largest = _walk(check_input_shape(input_shape), layers, "layer")
    if parameters > MAX_PARAMETERS:
        raise ModelSpecError(f"The model has {parameters:,} parameters; at most "
                             f"{MAX_PARAMETERS:,} are allowed.")  # fmt: skip
    return Plan(shape, parameters, largest)


def _count(layers: Sequence[Layer]) -> int:
    return sum(1 + _count(lay.body) for lay in layers)


def _walk(shape: Shape, layers: Sequence[Layer], where: str) -> tuple[Shape, int, int]:
    parameters, largest = 0, math.prod(shape)
    for i, lay in enumerate(layers):
        name = f"{where} {i + 1} ({lay.type})"
        if lay.type == "residual":
            out, inner, big = _walk(shape, lay.body, f"{name}, layer")
            if out != shape:
                raise ModelSpecError(
                    f"{name.capitalize()} turns {list(shape)} into {list(out)}: a residual "
                    "block must give back the shape it takes, to add its input to it.",
                    hint="Keep the widths and sizes inside the block equal to its input's.",
                )
            parameters, largest = parameters + inner, max(largest, big)
            continue
        out, count = layer_shape(lay, shape, name)
        if math.prod(out) > MAX_ACTIVATION:
            raise ModelSpecError(f"{name.capitalize()} makes {math.prod(out):,} values per "
                                 f"example; at most {MAX_ACTIVATION:,} are allowed.")  # fmt: skip
        shape, parameters, largest = out, parameters + count, max(largest, math.prod(out))
    return shape, parameters, largest


def layer_shape(lay: Layer, shape: Shape, name: str) -> tuple[Shape, int]:
    """The layer's output shape for this input shape, and its parameter count."""
    o = dict(lay.options)
    kind = lay.type

    def need(ndim: int, what: str) -> None:
        if len(shape) != ndim:
            raise ModelSpecError(
                f"{name.capitalize()} takes {what}, but gets an input of shape {list(shape)}.",
                hint="Check the layers before it (a 'flatten' or 'transpose' may be missing or "
                "extra).",
            )

    if kind == "linear":
        features = shape[-1]
        return (*shape[:-1], o["out_features"]), (features + o["bias"]) * o["out_features"]
    if kind in ("conv1d", "conv2d"):
        spatial = 1 if kind == "conv1d" else 2
        need(1 + spatial, "(channels, length)" if spatial == 1 else "(channels, height, width)")
        k, s = o["kernel_size"], o["stride"]
        p = (k - 1) // 2 if o["padding"] == "same" else o["padding"]
        sizes = tuple(_slide(d, k, s, p, name) for d in shape[1:])
        count = (shape[0] * k**spatial + o["bias"]) * o["out_channels"]
        return (o["out_channels"], *sizes), count
    if kind.endswith(("pool1d", "pool2d")) and not kind.startswith("adaptive"):
        spatial = 1 if kind.endswith("1d") else 2
        need(1 + spatial, "(channels, length)" if spatial == 1 else "(channels, height, width)")
        k = o["kernel_size"]
        s = o["stride"] or k
        return (shape[0], *(_slide(d, k, s, 0, name) for d in shape[1:])), 0
    if kind.startswith("adaptive_avg_pool"):
        spatial = 1 if kind.endswith("1d") else 2
        need(1 + spatial, "(channels, length)" if spatial == 1 else "(channels, height, width)")
        return (shape[0], *(o["output_size"],) * spatial), 0
    if kind == "flatten":
        return (math.prod(shape),), 0
    if kind in ("relu", "gelu", "tanh", "sigmoid", "dropout"):
        return shape, 0
    if kind == "layer_norm":
        return shape, 2 * shape[-1]
    if kind == "group_norm":
        if len(shape) < 2 or shape[0] % o["num_groups"]:
            raise ModelSpecError(
                f"{name.capitalize()} splits {shape[0]} channels into {o['num_groups']} groups; "
                f"it needs an input with channels first whose count the groups divide "
                f"(input shape {list(shape)}).",
            )
        return shape, 2 * shape[0]
    if kind == "embedding":
        need(1, "a sequence of token numbers (time,)")
        return (shape[0], o["embedding_dim"]), o["num_embeddings"] * o["embedding_dim"]
    if kind in ("gru", "lstm"):
        need(2, "a sequence (time, features)")
        gates = 3 if kind == "gru" else 4
        h, count, features = o["hidden_size"], 0, shape[1]
        for _ in range(o["num_layers"]):
            count += gates * h * (features + h + 2)
            features = h
        return ((shape[0], h) if o["output"] == "sequence" else (h,)), count
    if kind == "transpose":
        if len(shape) < 2:
            raise ModelSpecError(f"{name.capitalize()} swaps the last two axes, but its input "
                                 f"{list(shape)} has one.")  # fmt: skip
        return (*shape[:-2], shape[-1], shape[-2]), 0
    raise ModelSpecError(f"{name.capitalize()} is not a layer this node can build.")


def _slide(size: int, kernel: int, stride: int, padding: int, name: str) -> int:
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ModelSpecError(
            f"{name.capitalize()}: a kernel of {kernel} does not fit an input of size {size}"
            + (f" padded by {padding}" if padding else "") + ".",
            hint="Use a smaller kernel, more padding, or fewer pooling layers before it.",
        )
    return out
