"""Amounts of DAIN as people write them ("12.5", "12.5 DAIN") and as the chain keeps them
(base units, 10^18 to the token), converted exactly: a float would turn 0.1 DAIN into
100000000000000005 base units."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation, localcontext

from dain.errors import ConfigError

DECIMALS = 18
TOKEN_UNIT = 10**DECIMALS


def parse_dain(text: str | int | float | Decimal) -> int:
    """Base units of an amount in DAIN: "12.5", "12.5 DAIN", 12, "1_000". Refuses negative
    amounts, more than 18 decimals, and anything that is not a number."""
    raw = str(text).strip()
    if raw.upper().endswith("DAIN"):
        raw = raw[:-4].strip()
    try:
        amount = Decimal(raw.replace("_", "").replace(",", ""))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise ConfigError(
            f"'{text}' is not an amount of DAIN.",
            hint="Write it as a number of DAIN, e.g. 12.5 or '12.5 DAIN'.",
        )
    if amount < 0:
        raise ConfigError(f"An amount cannot be negative ({text}).")
    with localcontext() as context:
        context.prec = 100
        base = amount.scaleb(DECIMALS)
    if base != base.to_integral_value():
        raise ConfigError(f"{text} DAIN has more than {DECIMALS} decimals.",
                          hint="A DAIN has 18 decimals; round the amount.")  # fmt: skip
    return int(base)


def format_dain(amount: int, places: int = 4) -> str:
    """An amount of base units as "12.5 DAIN": trailing zeros dropped, at most `places`
    decimals unless fewer would show a non-zero amount as 0."""
    with localcontext() as context:
        context.prec = 100  # the default 28 digits round large amounts
        value = Decimal(amount).scaleb(-DECIMALS)
        shown = value.quantize(Decimal(1).scaleb(-places)) if value else value
        if amount and not shown:  # dust: show it whole rather than as 0
            shown = value
        text = format(shown.normalize(), "f")
    whole, _, fraction = text.partition(".")
    grouped = f"{int(whole):,}" if whole.lstrip("-").isdigit() else whole
    return f"{grouped}.{fraction} DAIN" if fraction else f"{grouped} DAIN"
