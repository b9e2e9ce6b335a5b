"""A job file's fine-tuning settings, in its [model] table beside the layers:

    [model]
    layers = [...]                      # the pretrained model's architecture
    base = "pretrained.safetensors"     # its tensors (a path beside the job file), or
    # base_cid = "bafk..."              # a blob already in the proposing node's store
    train = [9]                         # layers (counted from 0) or tensors trained as is
    lora = { rank = 2, alpha = 2, layers = [0, 3, 7] }   # adapters; layers: every
                                                           # linear and convolution if left out

`dain job propose` stores the pretrained model as a blob, names its content id in the
spec, and makes the first model of only the trained tensors (see
`dain.learning.fine_tune`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from dain.errors import ConfigError, DainError
from dain.learning import FineTune, ModelSpec, ModelSpecError, update_size
from dain.storage import BlobStore, cid_of, decode_tensors, encode_tensors

KEYS = {"base", "base_cid", "train", "lora"}
LORA_KEYS = {"rank", "alpha", "layers"}


@dataclass(frozen=True)
class Pretrained:
    """A pretrained model read from a job file: its tensors as dain stores them (float32
    safetensors) and their content id."""

    data: bytes
    cid: str

    @classmethod
    def read(cls, path: Path) -> tuple[Pretrained, dict[str, np.ndarray]]:
        try:
            raw = decode_tensors(path.read_bytes(), dtype=None)
        except FileNotFoundError:
            raise ConfigError(f"model.base: no file at {path}.", hint="Check the path; it is "
                              "read relative to the job file.") from None  # fmt: skip
        except OSError as exc:
            raise ConfigError(f"model.base: cannot read {path}: {exc.strerror}.") from None
        except DainError as exc:
            raise ConfigError(f"model.base: {path} is not a safetensors file ({exc.message})",
                              hint="Save the pretrained tensors with safetensors.") from None
        odd = sorted(n for n, t in raw.items() if not np.issubdtype(t.dtype, np.floating))
        if odd:
            raise ConfigError(f"model.base: tensor '{odd[0]}' holds {raw[odd[0]].dtype} values, "
                              "not floating-point numbers.")  # fmt: skip
        tensors = {n: t.astype(np.float32) for n, t in sorted(raw.items())}
        data = encode_tensors(tensors)
        return cls(data, cid_of(data)), tensors


def fine_tune_settings(table: dict[str, Any]) -> bool:
    """Whether a [model] table fine-tunes a pretrained model."""
    return bool(KEYS & set(table))


def fine_tuned(
    table: dict[str, Any], model: ModelSpec, folder: Path
) -> tuple[ModelSpec, Pretrained | None]:
    """The model fine-tuned as [model] says, with its pretrained tensors attached when the
    job file names them as a file (else `dain job propose` finds them in its store); and
    the pretrained model to store."""
    if "base" in table and "base_cid" in table:
        raise ConfigError("model has both base and base_cid.",
                          hint="Give the pretrained model as a file (base) or a stored blob "
                          "(base_cid), not both.")  # fmt: skip
    pretrained, tensors = None, None
    if "base" in table:
        if not isinstance(table["base"], str):
            raise ConfigError(f"model.base must be a path (text), not {table['base']!r}.")
        pretrained, tensors = Pretrained.read(folder / table["base"])
        cid = pretrained.cid
    elif isinstance(table.get("base_cid"), str) and table["base_cid"].strip():
        cid = table["base_cid"].strip()
    else:
        raise ConfigError("model.train and model.lora fine-tune a pretrained model, but "
                          "model.base is missing.", hint="Add base = 'FILE.safetensors' "
                          "(or base_cid = 'CID' of a blob in this node's store).")  # fmt: skip
    train = _names(table.get("train", []), "model.train")
    lora = table.get("lora", {})
    if not isinstance(lora, dict):
        raise ConfigError(f"model.lora must be a table, e.g. {{ rank = 4 }}, not {lora!r}.")
    unknown = sorted(set(lora) - LORA_KEYS)
    if unknown:
        raise ConfigError(f"model.lora has no setting {', '.join(unknown)}.",
                          hint=f"Its settings: {', '.join(sorted(LORA_KEYS))}.")  # fmt: skip
    if lora and "rank" not in lora:
        raise ConfigError("model.lora.rank is missing.", hint="Add rank = 4 (for example).")
    rank = lora.get("rank", 0)
    if isinstance(rank, bool) or not isinstance(rank, int):
        raise ConfigError(f"model.lora.rank must be a whole number, not {rank!r}.")
    alpha = lora.get("alpha", 0.0)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float):
        raise ConfigError(f"model.lora.alpha must be a number, not {alpha!r}.")
    layers = _names(lora.get("layers", []), "model.lora.layers")
    # each part checked alone first, so that a mistake names its own key
    if train:
        _check(lambda: replace(model, fine_tune=FineTune(cid, train)), "model.train")
    if lora:
        _check(lambda: replace(model, fine_tune=FineTune(cid, (), rank, float(alpha), layers)),
               "model.lora")  # fmt: skip
    found = _check(lambda: replace(model, fine_tune=FineTune(cid, train, rank, float(alpha),
                                                             layers)),
                   "model.train and model.lora")  # fmt: skip
    if tensors is not None:
        found = _check(lambda: found.with_base(tensors), "model.base")
    return found, pretrained


def with_stored_base(model: ModelSpec, blobs: BlobStore) -> ModelSpec:
    """The model with the pretrained tensors its base_cid names, from `blobs`."""
    assert model.fine_tune is not None
    cid = model.fine_tune.base_cid
    if not blobs.has(cid):
        raise ConfigError(f"model.base_cid: this node's store holds no blob {cid}.",
                          hint="Give the pretrained model as a file instead (model.base).")
    try:
        return model.with_base(decode_tensors(blobs.get(cid)))
    except DainError as exc:
        raise ConfigError(f"model.base_cid: {exc.message}", hint=exc.hint) from None


def _check(make: Any, key: str) -> Any:
    try:
        return make()
    except ModelSpecError as exc:
        raise ConfigError(f"{key}: {exc.message}", hint=exc.hint) from None


def _names(value: Any, key: str) -> tuple[str, ...]:
    """Layer numbers (counted from 0) or tensor names, as the spec writes them (text)."""
    if not isinstance(value, list) or not all(
        isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)) for v in value
    ):
        raise ConfigError(f"{key} must be a list of layer numbers (counted from 0) or tensor "
                          f"names, not {value!r}.", hint="For example [9] or [\"9\", "
                          "\"7.bias\"].")  # fmt: skip
    return tuple(str(v) for v in value)


def fine_tune_words(model: ModelSpec) -> str:
    """What voters read about a fine-tuning job: what it starts from, what trains, and what
    each update carries."""
    fine_tune = model.fine_tune
    if fine_tune is None:
        return ""
    parts = []
    if fine_tune.train:
        parts.append(f"{', '.join(fine_tune.train)} as they are")
    if fine_tune.lora_rank:
        parts.append(f"LoRA adapters of rank {fine_tune.lora_rank} (alpha "
                     f"{fine_tune.lora_alpha:g}) on layers {', '.join(model.adapted_layers)}")
    return (f"Fine-tunes the pretrained model {fine_tune.base_cid}, training "
            f"{' and '.join(parts)}; {update_size(model).describe()}.")  # fmt: skip
