"""A job's declared input: what its model reads, whatever form the owners' data takes.

The schema is part of the job spec members vote on, and the spec's content id is its
hash, so `to_dict` writes a plain table schema exactly as it always has; the keys of the
other kinds appear only when they differ from a table's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from dain.data.errors import DatasetError

Kind = Literal["table", "image", "array", "series"]
KINDS: tuple[str, ...] = get_args(Kind)
MAX_LOOKBACK = 100_000  # a window longer than this is a mistake, not a time series


@dataclass(frozen=True)
class InputSchema:
    """What a job reads. Every kind names its `target` and, for classification, may fix
    the `classes` (their order numbers the labels); `regression` means numeric targets.

    - table: rows with exactly these `features` columns (a CSV or Parquet file).
    - series: a time-ordered table cut into windows of `lookback` rows, each predicting
      the target `horizon` rows after its last; `features` may name the target itself,
      to give the model the target's past.
    - image: examples of `shape` (channels, height, width); images of another size are
      resized, another channel count is refused.
    - array: examples of exactly `shape`.
    """

    features: tuple[str, ...]
    target: str
    regression: bool = False
    classes: tuple[str, ...] = ()
    kind: Kind = "table"
    shape: tuple[int, ...] = ()  # one example's shape (image, array)
    lookback: int = 0  # rows per window (series)
    horizon: int = 0  # rows from a window's last to the value it predicts (series)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DatasetError(
                f"Unknown input kind '{self.kind}'.", hint=f"Choose one of: {', '.join(KINDS)}."
            )
        if self.kind == "series":
            if self.lookback < 1 or self.horizon < 1 or self.lookback > MAX_LOOKBACK:
                raise DatasetError(
                    f"A series input needs a lookback (1 to {MAX_LOOKBACK}) and a horizon of "
                    f"at least 1, not {self.lookback} and {self.horizon}.",
                    hint="lookback: rows each window holds; horizon: how many rows ahead "
                    "of its last row it predicts (1: the next).",
                )
            if not self.regression:
                raise DatasetError(
                    "A series input forecasts a number: it must be a regression.",
                    hint="Leave out the classes.",
                )
        elif self.lookback or self.horizon:
            raise DatasetError(f"lookback and horizon belong to a series input, not {self.kind}.")
        if self.kind in ("image", "array"):
            if not self.shape or any(d < 1 for d in self.shape):
                raise DatasetError(
                    f"An {self.kind} input needs the shape of one example, not {self.shape}.",
                    hint="For example [1, 8, 8]: one channel of 8 x 8 pixels.",
                )
            if self.kind == "image" and (len(self.shape) != 3 or self.shape[0] not in (1, 3)):
                raise DatasetError(
                    f"An image input's shape is [channels, height, width] with 1 (grayscale) "
                    f"or 3 (RGB) channels, not {list(self.shape)}."
                )
        elif self.shape:
            raise DatasetError(f"shape belongs to an image or array input, not {self.kind}.")

    def check(self, path: Path, header: list[str]) -> None:
        """A table's header holds exactly the schema's columns."""
        expected = {*self.features, self.target}
        missing = [c for c in dict.fromkeys((*self.features, self.target)) if c not in header]
        extra = [c for c in header if c not in expected]
        duplicated = sorted({c for c in header if header.count(c) > 1})
        if missing or extra or duplicated:
            problems = []
            if missing:
                problems.append(f"missing {', '.join(missing)}")
            if extra:
                problems.append(f"unexpected {', '.join(extra)}")
            if duplicated:
                problems.append(f"repeated {', '.join(duplicated)}")
            columns = dict.fromkeys((*self.features, self.target))
            raise DatasetError(
                f"{path} does not match the schema: {'; '.join(problems)}.",
                hint=f"The columns must be: {', '.join(columns)}.",
            )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form a job spec holds; a table's is what it was before other kinds."""
        out: dict[str, Any] = {
            "features": list(self.features),
            "target": self.target,
            "regression": self.regression,
            "classes": list(self.classes),
        }
        if self.kind != "table":
            out["kind"] = self.kind
        if self.shape:
            out["shape"] = list(self.shape)
        if self.lookback:
            out["lookback"] = self.lookback
        if self.horizon:
            out["horizon"] = self.horizon
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> InputSchema:
        """The inverse of `to_dict`; anything malformed is a DatasetError naming the key."""
        try:
            known = {"features", "target", "regression", "classes", "kind", "shape",
                     "lookback", "horizon"}  # fmt: skip
            unknown = sorted(set(raw) - known)
            if unknown:
                raise DatasetError(
                    f"The input schema has unknown key(s) {', '.join(unknown)}.",
                    hint=f"Known keys: {', '.join(sorted(known))}.",
                )
            return cls(
                features=tuple(_text(f, "features") for f in raw["features"]),
                target=_text(raw["target"], "target"),
                regression=_flag(raw["regression"], "regression"),
                classes=tuple(_text(c, "classes") for c in raw["classes"]),
                kind=_text(raw.get("kind", "table"), "kind"),  # type: ignore[arg-type]
                shape=tuple(_whole(d, "shape") for d in raw.get("shape", ())),
                lookback=_whole(raw.get("lookback", 0), "lookback"),
                horizon=_whole(raw.get("horizon", 0), "horizon"),
            )
        except KeyError as exc:
            raise DatasetError(f"The input schema lacks '{exc.args[0]}'.") from None
        except TypeError as exc:
            raise DatasetError(f"The input schema is malformed ({exc}).") from None


CsvSchema = InputSchema  # its name from when every input was a CSV table


def _text(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise DatasetError(f"The input schema's '{key}' must hold text, not {value!r}.")
    return value


def _flag(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise DatasetError(f"The input schema's '{key}' must be true or false, not {value!r}.")
    return value


def _whole(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DatasetError(f"The input schema's '{key}' must hold whole numbers, not {value!r}.")
    return value
