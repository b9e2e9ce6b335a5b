"""Synthetic data for the mission's other users, generated locally and reproducibly.

- smart_city_load: hourly electricity load per city district (a regression task: the next
  hour's load from the time of day, weekday, temperature and the last hours' load). Each
  district is a natural data owner, and districts differ (non-IID by construction).
- card_fraud: card transactions of which about 1% are fraud (imbalanced classification),
  from amount, hour, merchant category, distance from home, recent velocity and flags."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dain.data.datasets import Dataset
from dain.data.errors import DatasetError


def smart_city_load(
    districts: int = 12, days: int = 56, seed: int = 0
) -> tuple[Dataset, np.ndarray]:
    """The dataset and each row's district (0..districts-1), to partition by district."""
    city = _city(districts, days, seed)
    hour_of_day, weekend, temperature = city.hour_of_day, city.weekend, city.temperature
    rows, groups = [], []
    for district, (load, commercial) in enumerate(zip(city.loads, city.commercial, strict=True)):
        for t in range(24, hour_of_day.size - 1):
            rows.append([
                np.sin(2 * np.pi * hour_of_day[t] / 24), np.cos(2 * np.pi * hour_of_day[t] / 24),
                weekend[t], temperature[t], load[t], load[t - 1], load[t - 23], commercial,
                load[t + 1],
            ])  # fmt: skip
            groups.append(district)
    table = np.asarray(rows, dtype=np.float32)
    features = ("hour_sin", "hour_cos", "weekend", "temperature_c", "load_mw", "load_mw_1h_ago",
                "load_mw_23h_ago", "commercial_share")  # fmt: skip
    data = Dataset(
        "smart_city_load", table[:, :-1], table[:, -1], features, "next_hour_load_mw", ()
    )
    return data, np.asarray(groups)


SERIES_FEATURES = ("hour_sin", "hour_cos", "weekend", "temperature_c", "load_mw")


def smart_city_series(districts: int = 12, days: int = 56, seed: int = 0) -> list[Dataset]:
    """The same city as `smart_city_load`, as each district's own hourly series (rows in
    time order, target `load_mw`, which is also a feature: its past): what a district's
    sensors record, to be cut into windows for forecasting."""
    city = _city(districts, days, seed)
    hours = city.hour_of_day
    clock = [np.sin(2 * np.pi * hours / 24), np.cos(2 * np.pi * hours / 24), city.weekend,
             city.temperature]  # fmt: skip
    found = []
    for district, load in enumerate(city.loads):
        x = np.column_stack([*clock, load]).astype(np.float32)
        found.append(Dataset(f"district_{district + 1}", x, x[:, -1].copy(), SERIES_FEATURES,
                             "load_mw", ()))  # fmt: skip
    return found


@dataclass(frozen=True)
class _City:
    hour_of_day: np.ndarray
    weekend: np.ndarray
    temperature: np.ndarray
    loads: list[np.ndarray]
    commercial: list[float]


def _city(districts: int, days: int, seed: int) -> _City:
    if districts < 1 or days < 2:
        raise DatasetError("A city needs at least one district and two days of readings.")
    rng = np.random.default_rng(seed)
    hours = np.arange(days * 24)
    hour_of_day, day = hours % 24, hours // 24
    weekend = (day % 7 >= 5).astype(np.float32)
    temperature = 12 + 8 * np.sin(2 * np.pi * (hour_of_day - 9) / 24) + rng.normal(0, 2, hours.size)
    loads, shares = [], []
    for _ in range(districts):
        base = rng.uniform(20, 80)  # MW: residential to industrial districts
        commercial = rng.uniform(0, 1)  # share of offices: daytime weekday peaks
        daily = 1 + 0.35 * np.sin(2 * np.pi * (hour_of_day - 14) / 24) * (0.5 + commercial)
        workday = 1 - 0.25 * weekend * commercial
        heating = 0.02 * np.maximum(0, 16 - temperature)
        load = base * daily * workday * (1 + heating) + rng.normal(0, 0.02 * base, hours.size)
        loads.append(load)
        shares.append(float(commercial))
    return _City(hour_of_day, weekend, temperature, loads, shares)


def card_fraud(transactions: int = 20_000, fraud_rate: float = 0.01, seed: int = 0) -> Dataset:
    """Labels: 0 legitimate, 1 fraud; about `fraud_rate` of rows are fraud."""
    if transactions < 100 or not 0 < fraud_rate < 0.5:
        raise DatasetError("Ask for at least 100 transactions and a fraud rate below 50%.")
    rng = np.random.default_rng(seed)
    n = transactions
    amount = rng.lognormal(3.5, 1.0, n)
    hour = rng.integers(0, 24, n)
    category = rng.integers(0, 8, n)  # groceries, fuel, travel, online, ...
    distance = rng.exponential(10, n)  # km from the card holder's home
    velocity = rng.poisson(1.0, n)  # transactions in the last hour
    foreign = (rng.random(n) < 0.05).astype(float)
    present = (rng.random(n) < 0.7).astype(float)
    night = ((hour < 6) | (hour >= 23)).astype(float)
    risk = (0.9 * np.log1p(amount) + 1.2 * night + 0.03 * distance + 0.6 * velocity
            + 1.5 * foreign - 1.3 * present + 0.5 * (category == 3))  # fmt: skip
    # pick the intercept that gives the asked-for fraud rate
    low, high = -40.0, 40.0
    for _ in range(60):
        mid = (low + high) / 2
        if (1 / (1 + np.exp(-(risk + mid)))).mean() > fraud_rate:
            high = mid
        else:
            low = mid
    fraud = (rng.random(n) < 1 / (1 + np.exp(-(risk + low)))).astype(np.int64)
    x = np.column_stack([np.log1p(amount), np.sin(2 * np.pi * hour / 24),
                         np.cos(2 * np.pi * hour / 24), np.eye(8)[category], distance, velocity,
                         foreign, present]).astype(np.float32)  # fmt: skip
    features = ("log_amount", "hour_sin", "hour_cos", *(f"category_{i}" for i in range(8)),
                "distance_km", "velocity_1h", "foreign", "card_present")  # fmt: skip
    return Dataset("card_fraud", x, fraud, features, "fraud", ("legitimate", "fraud"))
