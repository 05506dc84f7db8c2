"""The words every part of distillwatch shares: actions, rule levels, alert severities,
risk bands.

One definition, imported by fusion, rules, linking, request signals, alerts, reports,
evaluation, the API (as enums in its schema) and the dashboard (``GET /v1/vocabulary``),
so that a new action or a moved threshold cannot drift between them.

>>> Action.BLOCK > Action.REVIEW
True
>>> stricter("review", "throttle")
'throttle'
>>> [b.name for b in risk_bands()]
['review', 'block']
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "ACTIONS",
    "ACTIONS_DESCENDING",
    "ACTION_RANK",
    "ALERT_ACTIONS",
    "LEVELS",
    "LEVEL_RANK",
    "SEVERITY_OF_ACTION",
    "Action",
    "RiskBand",
    "flagged",
    "rank",
    "risk_bands",
    "stricter",
    "vocabulary",
]


class Action(StrEnum):
    """What distillwatch recommends for an account, from the mildest to the strictest.

    *Flagged* means any action other than ``allow``: a ``review`` on a legitimate account
    is a false positive in the analyst's queue.
    """

    ALLOW = "allow"
    REVIEW = "review"
    THROTTLE = "throttle"
    BLOCK = "block"

    # ordered by the ladder, not alphabetically (str's own comparisons are replaced)
    def __lt__(self, other: object) -> bool:
        return rank(self.value) < rank(str(other))

    def __le__(self, other: object) -> bool:
        return rank(self.value) <= rank(str(other))

    def __gt__(self, other: object) -> bool:
        return rank(self.value) > rank(str(other))

    def __ge__(self, other: object) -> bool:
        return rank(self.value) >= rank(str(other))


#: every action, mildest first
ACTIONS: tuple[str, ...] = tuple(a.value for a in Action)
#: every action, strictest first (tables and reports list the worst first)
ACTIONS_DESCENDING: tuple[str, ...] = tuple(reversed(ACTIONS))
#: position of each action on the ladder (allow 0 ... block 3)
ACTION_RANK: dict[str, int] = {a: i for i, a in enumerate(ACTIONS)}
#: the actions that raise an alert (and that a rule may recommend), strictest first
ALERT_ACTIONS: tuple[str, ...] = ("block", "throttle", "review")
#: rule levels, ascending severity
LEVELS: tuple[str, ...] = ("low", "medium", "high", "critical")
#: position of each level (low 1 ... critical 4)
LEVEL_RANK: dict[str, int] = {lvl: i + 1 for i, lvl in enumerate(LEVELS)}
#: Alertmanager ``severity`` label of an account alert with each action
SEVERITY_OF_ACTION: dict[str, str] = {
    "block": "critical",
    "throttle": "warning",
    "review": "info",
    "allow": "none",
}


def rank(action: str) -> int:
    """Position of ``action`` on the ladder; an unknown action ranks as ``allow`` (0)."""
    return ACTION_RANK.get(action, 0)


def stricter(a: str, b: str) -> str:
    """The stricter of two actions (``a`` on a tie)."""
    return b if rank(b) > rank(a) else a


def flagged(action: str) -> bool:
    """True for every action but ``allow``."""
    return rank(action) > 0


@dataclass(frozen=True, slots=True)
class RiskBand:
    """A band of the continuous risk, from ``lo`` (inclusive) upwards.

    Parameters
    ----------
    name : str
        The action the fusion recommends from ``lo`` on without any rule or link.
    lo : float
        Lower edge of the band.
    """

    name: str
    lo: float


def risk_bands(config: Any = None) -> list[RiskBand]:
    """The risk thresholds of the fusion (:class:`detector.fusion.FusionConfig`): from
    ``review_risk`` an account is reviewed, from ``block_risk`` blocked. The dashboard
    shades its risk charts with these."""
    if config is None:
        from detector.fusion import FusionConfig

        config = FusionConfig()
    return [
        RiskBand("review", float(config.review_risk)),
        RiskBand("block", float(config.block_risk)),
    ]


def vocabulary(config: Any = None) -> dict[str, Any]:
    """Everything above as one JSON-ready dict (what ``GET /v1/vocabulary`` answers)."""
    return {
        "actions": list(ACTIONS),
        "alert_actions": list(ALERT_ACTIONS),
        "levels": list(LEVELS),
        "severity_of_action": dict(SEVERITY_OF_ACTION),
        "risk_bands": [{"name": b.name, "lo": b.lo} for b in risk_bands(config)],
    }
