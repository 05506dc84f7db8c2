"""Timing and token-length shapes, derived from public serving traces.

``data/traces.json`` (built by :mod:`distillsim.legacy.build_data`) holds quantile
tables (201 points) of

* Azure LLM inference trace 2023: context / generated tokens of the *code* and
  *conversation* services, and inter-arrival gaps normalised by their mean;
* Mooncake conversation trace: input / output token lengths;
* Alibaba ServeGen: per-client and per-window coefficient of variation of
  inter-arrival times, mean per-client rates, and per-client diurnal profiles
  (10-minute bins, averaged over 14 days, mean 1).

Every function takes the random generator explicitly; none reads the clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

__all__ = [
    "TraceShapes",
    "gamma_renewal",
    "human_profile",
    "intensity_grid",
    "load_traces",
    "session_arrivals",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
GRID_S = 60.0  # resolution of intensity grids, seconds


@dataclass(frozen=True, slots=True)
class TraceShapes:
    """Quantile tables and diurnal profiles from the bundled trace summaries."""

    grid: np.ndarray
    quantiles: dict[str, np.ndarray]
    diurnal_total: np.ndarray
    diurnal_clients: np.ndarray

    def sample(
        self, rng: np.random.Generator, table: str, size: int | tuple[int, ...]
    ) -> np.ndarray:
        """Draw values from quantile table ``table`` by inverse-CDF interpolation.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        table : str
            Name of a quantile table, e.g. ``azure_conv_generated``.
        size : int or tuple
            Output shape.

        Returns
        -------
        numpy.ndarray
            float64 values.
        """
        return np.interp(rng.random(size), self.grid, self.quantiles[table])

    def quantile(self, table: str, p: float | np.ndarray) -> np.ndarray:
        """Return the ``p`` quantile(s) of ``table``."""
        return np.interp(p, self.grid, self.quantiles[table])


@cache
def load_traces(path: str | None = None) -> TraceShapes:
    """Load (once per process) the bundled trace summaries.

    Parameters
    ----------
    path : str, optional
        Another ``traces.json``; the bundled one by default.

    Returns
    -------
    TraceShapes
    """
    src = Path(path) if path else DATA_DIR / "traces.json"
    raw = json.loads(src.read_text(encoding="utf-8"))
    return TraceShapes(
        grid=np.asarray(raw["grid"], dtype=np.float64),
        quantiles={k: np.asarray(v, dtype=np.float64) for k, v in raw["quantiles"].items()},
        diurnal_total=np.asarray(raw["diurnal_total"], dtype=np.float64),
        diurnal_clients=np.asarray(raw["diurnal_clients"], dtype=np.float64),
    )


def human_profile(hour_local: np.ndarray, evening: float = 0.6, night: float = 0.04) -> np.ndarray:
    """Relative activity of a person by local hour of day (peak ~1).

    Low at night, rising from 07:00, plateau during working hours, a second
    (``evening``-high) bump in the evening.

    Parameters
    ----------
    hour_local : numpy.ndarray
        Local time of day in hours, [0, 24).
    evening : float
        Height of the evening bump relative to the working-hours plateau.
    night : float
        Floor during the night.

    Returns
    -------
    numpy.ndarray
    """
    h = np.asarray(hour_local, dtype=np.float64) % 24.0
    day = 1.0 / (1.0 + np.exp(-(h - 8.0) * 1.6)) * 1.0 / (1.0 + np.exp((h - 18.0) * 1.4))
    eve = evening * np.exp(-0.5 * ((h - 21.0) / 1.4) ** 2)
    return night + (1.0 - night) * np.maximum(day, eve)


def intensity_grid(t0: float, t1: float) -> np.ndarray:
    """Return the left edges of ``GRID_S``-second bins covering ``[t0, t1]`` (inclusive end)."""
    n = max(1, int(np.ceil((t1 - t0) / GRID_S)))
    return t0 + GRID_S * np.arange(n + 1, dtype=np.float64)


def gamma_renewal(
    rng: np.random.Generator,
    edges: np.ndarray,
    rate: np.ndarray,
    cv: float,
) -> np.ndarray:
    """Arrivals of a renewal process with gamma gaps and a time-varying rate.

    Gaps are drawn in *operational time* (where the process has unit rate) with
    coefficient of variation ``cv`` (gamma shape ``1/cv**2``), then mapped back
    through the cumulative intensity, so the local rate follows ``rate`` while the
    regularity follows ``cv`` (``cv`` < 1: clock-like, 1: Poisson, > 1: bursty).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    edges : numpy.ndarray
        Bin edges (``len(rate) + 1`` times, seconds).
    rate : numpy.ndarray
        Requests per second in each bin (>= 0).
    cv : float
        Coefficient of variation of the gaps in operational time.

    Returns
    -------
    numpy.ndarray
        Sorted arrival times within ``[edges[0], edges[-1])``.
    """
    widths = np.diff(edges)
    cum = np.concatenate(([0.0], np.cumsum(np.maximum(rate, 0.0) * widths)))
    total = cum[-1]
    if total <= 0:
        return np.empty(0)
    cv = float(max(cv, 0.05))
    shape = 1.0 / (cv * cv)
    n_draw = int(total + 6.0 * np.sqrt(total + 1.0) * max(cv, 1.0) + 16)
    gaps = rng.gamma(shape, 1.0 / shape, size=n_draw)
    ops = np.cumsum(gaps) - gaps[0] * rng.random()
    while ops[-1] < total:  # rare: extend
        more = rng.gamma(shape, 1.0 / shape, size=n_draw)
        ops = np.concatenate((ops, ops[-1] + np.cumsum(more)))
    ops = ops[(ops >= 0) & (ops < total)]
    return np.interp(ops, cum, edges)


def session_arrivals(
    rng: np.random.Generator,
    starts: np.ndarray,
    turns_mean: float,
    gap_median_s: float,
    gap_sigma: float = 0.8,
    max_turns: int = 40,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand session start times into request times (bursts of turns).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    starts : numpy.ndarray
        Session start times (seconds).
    turns_mean : float
        Mean number of requests per session (geometric, at least 1).
    gap_median_s : float
        Median gap between turns inside a session (lognormal).
    gap_sigma : float
        Lognormal sigma of within-session gaps.
    max_turns : int
        Cap on turns per session.

    Returns
    -------
    times, session, turn : numpy.ndarray
        Request times, the session index of each request and its turn number (0-based).
    """
    n_sess = len(starts)
    if n_sess == 0:
        return np.empty(0), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    p = 1.0 / max(turns_mean, 1.0)
    turns = np.minimum(rng.geometric(p, size=n_sess), max_turns)
    total = int(turns.sum())
    session = np.repeat(np.arange(n_sess), turns)
    first = np.concatenate(([0], np.cumsum(turns)[:-1]))
    turn = np.arange(total) - np.repeat(first, turns)
    gaps = rng.lognormal(np.log(gap_median_s), gap_sigma, size=total)
    gaps[turn == 0] = 0.0
    csum = np.cumsum(gaps)
    offset = csum - np.repeat(csum[first], turns)
    return starts[session] + offset, session, turn
