"""Structured rule conditions: parse, evaluate (vectorised and per row) and explain.

A condition is a tree. Inner nodes are ``{all: [...]}``, ``{any: [...]}`` and
``{not: {...}}``; leaves compare one feature with a constant (``{feature, op, value}``)
or with another feature times a scale (``{feature, op, feature_ref, scale}``). Nothing is
ever ``eval``'d.

Missing values use three-valued (Kleene) logic, as SQL does: a leaf whose feature is NaN
is *unknown*; ``not`` of unknown is unknown; ``all`` is false as soon as one child is
false, ``any`` true as soon as one child is true; a rule matches only when its condition
is *true*. So NaN never makes a comparison hold, and a missing value can never make a
rule fire through a ``not`` either.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

from detector.features.schema import FEATURE_NAMES

__all__ = [
    "COMPARISONS",
    "OPS",
    "AllOf",
    "AnyOf",
    "Evidence",
    "Leaf",
    "Node",
    "NotOf",
    "collect_evidence",
    "describe",
    "feature_bounds",
    "fmt_number",
    "iter_leaves",
    "outline",
    "parse_condition",
    "truth",
    "truth_vector",
    "unknown_leaves",
]

COMPARISONS: tuple[str, ...] = (">", ">=", "<", "<=", "==", "!=")
OPS: tuple[str, ...] = (*COMPARISONS, "between", "in")
_NEGATED: dict[str, str] = {
    ">": "<=",
    ">=": "<",
    "<": ">=",
    "<=": ">",
    "==": "!=",
    "!=": "==",
    "between": "not between",
    "in": "not in",
}
_LEAF_KEYS = frozenset({"feature", "op", "value", "feature_ref", "scale"})
_GROUP_KEYS = ("all", "any", "not")


@dataclass(frozen=True, slots=True)
class Leaf:
    """One comparison.

    Parameters
    ----------
    feature : str
        Schema feature on the left-hand side.
    op : str
        One of :data:`OPS`.
    value : float or tuple of float or None
        Constant right-hand side: a number for comparisons, ``(lo, hi)`` for ``between``
        (inclusive), the allowed numbers for ``in``; ``None`` when ``feature_ref`` is set.
    feature_ref : str or None
        Feature on the right-hand side (comparisons only): ``feature op scale * feature_ref``.
    scale : float
        Multiplier of ``feature_ref``.
    """

    feature: str
    op: str
    value: float | tuple[float, ...] | None = None
    feature_ref: str | None = None
    scale: float = 1.0


@dataclass(frozen=True, slots=True)
class AllOf:
    """True when every child is true."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """True when at least one child is true."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class NotOf:
    """Negation of its child (unknown stays unknown)."""

    item: Node


Node: TypeAlias = Leaf | AllOf | AnyOf | NotOf


# --------------------------------------------------------------------------- parsing


def feature_bounds(name: str) -> tuple[float, float]:
    """Range of values a feature can take.

    Every feature is non-negative; shares (``*_share``) and ``distinct_prompt_ratio`` lie
    in [0, 1] and ``hours_of_day_active`` in [0, 24]. The validator uses this to catch
    thresholds written as percentages (``cot_share >= 50``).

    Parameters
    ----------
    name : str
        Feature name.

    Returns
    -------
    tuple of float
        ``(low, high)``, inclusive.
    """
    if name.endswith("_share") or name == "distinct_prompt_ratio":
        return 0.0, 1.0
    if name == "hours_of_day_active":
        return 0.0, 24.0
    return 0.0, math.inf


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and not math.isnan(v)


def _check_feature(name: Any, where: str, problems: list[str]) -> bool:
    if not isinstance(name, str):
        problems.append(f"{where}: feature name must be a string, got {name!r}")
        return False
    if name not in FEATURE_NAMES:
        hint = _closest(name)
        problems.append(
            f"{where}: unknown feature {name!r}"
            + (f" (did you mean {hint!r}?)" if hint else "")
            + " - see detector/features/schema.py"
        )
        return False
    return True


def _closest(name: str) -> str | None:
    import difflib

    found = difflib.get_close_matches(name, FEATURE_NAMES, n=1)
    return found[0] if found else None


def _check_range(feature: str, values: Sequence[float], where: str, problems: list[str]) -> None:
    lo, hi = feature_bounds(feature)
    for v in values:
        if math.isfinite(v) and not lo <= v <= hi:
            what = "a share in [0, 1], not a percentage" if hi == 1.0 else f"range [{lo:g}, {hi:g}]"
            problems.append(f"{where}: value {v!r} is outside {feature}'s {what}")


def _parse_leaf(data: Mapping[str, Any], where: str, problems: list[str]) -> Leaf | None:
    before = len(problems)
    extra = sorted(set(data) - _LEAF_KEYS, key=str)
    if extra:
        problems.append(
            f"{where}: unknown key(s) {', '.join(map(repr, extra))} in a leaf "
            f"(allowed: {', '.join(sorted(_LEAF_KEYS))})"
        )
    feature = str(data.get("feature") or "")  # a missing feature is a problem, reported here
    feature_ok = _check_feature(data.get("feature"), f"{where}.feature", problems)
    op = data.get("op")
    if "op" not in data:
        problems.append(f"{where}: missing 'op'")
        return None
    if op not in OPS:
        problems.append(f"{where}.op: unknown operator {op!r} (expected one of {', '.join(OPS)})")
        return None
    has_value, has_ref = "value" in data, "feature_ref" in data
    if has_value == has_ref:
        problems.append(f"{where}: give exactly one of 'value' or 'feature_ref'")
        return None
    if "scale" in data and not has_ref:
        problems.append(f"{where}.scale: only allowed together with 'feature_ref'")
    if has_ref:
        if op not in COMPARISONS:
            problems.append(
                f"{where}: 'feature_ref' works with {', '.join(COMPARISONS)}, not {op!r}"
            )
            return None
        ref = data["feature_ref"]
        _check_feature(ref, f"{where}.feature_ref", problems)
        scale = data.get("scale", 1.0)
        if not _is_number(scale) or not math.isfinite(scale):
            problems.append(f"{where}.scale: must be a finite number, got {scale!r}")
        if len(problems) > before:
            return None
        return Leaf(feature=feature, op=op, feature_ref=ref, scale=float(scale))
    value = data["value"]
    parsed: float | tuple[float, ...]
    if op in COMPARISONS:
        if not _is_number(value):
            problems.append(f"{where}.value: operator {op!r} needs a number, got {value!r}")
            return None
        parsed = float(value)
        checked: Sequence[float] = (parsed,)
    elif op == "between":
        ok = isinstance(value, list) and len(value) == 2 and all(map(_is_number, value))
        if not ok:
            problems.append(f"{where}.value: 'between' needs a list [low, high], got {value!r}")
            return None
        if value[0] > value[1]:
            problems.append(f"{where}.value: 'between' low {value[0]!r} > high {value[1]!r}")
            return None
        parsed = (float(value[0]), float(value[1]))
        checked = parsed
    else:  # in
        ok = isinstance(value, list) and bool(value) and all(map(_is_number, value))
        if not ok:
            problems.append(f"{where}.value: 'in' needs a non-empty list of numbers, got {value!r}")
            return None
        parsed = tuple(float(v) for v in value)
        checked = parsed
    if feature_ok:
        _check_range(feature, checked, f"{where}.value", problems)
    if len(problems) > before:
        return None
    return Leaf(feature=feature, op=op, value=parsed)


def parse_condition(data: Any, where: str = "condition") -> tuple[Node | None, list[str]]:
    """Parse and validate a condition tree from its YAML form.

    Parameters
    ----------
    data : Any
        The ``condition`` value of a rule file.
    where : str
        Path used in problem messages (``condition.all[2].op``).

    Returns
    -------
    node : Node or None
        The tree, or ``None`` when there were problems.
    problems : list of str
        Human-readable problems, each prefixed with its path.
    """
    problems: list[str] = []
    node = _parse_node(data, where, problems)
    return (node if not problems else None), problems


def _parse_node(data: Any, where: str, problems: list[str]) -> Node | None:
    if not isinstance(data, Mapping):
        problems.append(
            f"{where}: expected a mapping ({{all: [...]}}, {{any: [...]}}, {{not: ...}} "
            f"or {{feature, op, value}}), got {type(data).__name__}"
        )
        return None
    groups = [k for k in _GROUP_KEYS if k in data]
    if not groups:
        if "feature" in data or "op" in data:
            return _parse_leaf(data, where, problems)
        problems.append(
            f"{where}: expected one of 'all', 'any', 'not' or a leaf with 'feature', "
            f"got keys {sorted(map(str, data))}"
        )
        return None
    if len(data) != 1:
        problems.append(
            f"{where}: a group node holds exactly one key ({'/'.join(_GROUP_KEYS)}), "
            f"got {sorted(map(str, data))}"
        )
        return None
    key = groups[0]
    body = data[key]
    if key == "not":
        child = _parse_node(body, f"{where}.not", problems)
        return NotOf(child) if child is not None else None
    if not isinstance(body, list) or not body:
        problems.append(f"{where}.{key}: expected a non-empty list of conditions")
        return None
    items = [_parse_node(item, f"{where}.{key}[{i}]", problems) for i, item in enumerate(body)]
    if any(item is None for item in items):
        return None
    parsed = tuple(item for item in items if item is not None)
    return AllOf(parsed) if key == "all" else AnyOf(parsed)


def iter_leaves(node: Node) -> Iterator[Leaf]:
    """Every leaf of a tree, depth first."""
    if isinstance(node, Leaf):
        yield node
    elif isinstance(node, NotOf):
        yield from iter_leaves(node.item)
    else:
        for item in node.items:
            yield from iter_leaves(item)


# --------------------------------------------------------------------------- evaluation


def _compare(op: str, x: Any, rhs: Any) -> Any:
    """``x op rhs`` for numpy arrays or Python floats (``between``/``in`` take tuples)."""
    if op == ">":
        return x > rhs
    if op == ">=":
        return x >= rhs
    if op == "<":
        return x < rhs
    if op == "<=":
        return x <= rhs
    if op == "==":
        return x == rhs
    if op == "!=":
        return x != rhs
    if op == "between":
        return (x >= rhs[0]) & (x <= rhs[1])
    if op == "in":
        if isinstance(x, np.ndarray):
            return np.isin(x, np.asarray(rhs, dtype=np.float64))
        return x in rhs
    raise ValueError(f"unknown operator {op!r}")  # pragma: no cover - validated on load


def truth_vector(node: Node, column: Callable[[str], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate a tree over many accounts at once.

    Parameters
    ----------
    node : Node
        Condition tree.
    column : callable
        Feature name -> ``float64`` array (one value per account; NaN = missing).

    Returns
    -------
    true, false : numpy.ndarray
        Boolean masks of accounts where the condition is true, resp. false; where
        neither is set the value is unknown (a NaN decided it).
    """
    if isinstance(node, Leaf):
        x = column(node.feature)
        if node.feature_ref is not None:
            rhs: Any = node.scale * column(node.feature_ref)
            known = ~(np.isnan(x) | np.isnan(rhs))
        else:
            rhs = node.value
            known = ~np.isnan(x)
        with np.errstate(invalid="ignore"):
            cmp = _compare(node.op, x, rhs)
        return known & cmp, known & ~cmp
    if isinstance(node, NotOf):
        t, f = truth_vector(node.item, column)
        return f, t
    parts = [truth_vector(item, column) for item in node.items]
    ts = [p[0] for p in parts]
    fs = [p[1] for p in parts]
    if isinstance(node, AllOf):
        return np.logical_and.reduce(ts), np.logical_or.reduce(fs)
    return np.logical_or.reduce(ts), np.logical_and.reduce(fs)


def _value(row: Mapping[str, float], name: str) -> float:
    v = row[name]
    return math.nan if v is None else float(v)


def truth(node: Node, row: Mapping[str, float]) -> bool | None:
    """Evaluate a tree on one account (the reference semantics of :func:`truth_vector`).

    Parameters
    ----------
    node : Node
        Condition tree.
    row : mapping
        Feature name -> value (``None`` or NaN = missing).

    Returns
    -------
    bool or None
        ``None`` when the value is unknown because of missing features.
    """
    if isinstance(node, Leaf):
        x = _value(row, node.feature)
        rhs: Any = node.value
        if node.feature_ref is not None:
            rhs = node.scale * _value(row, node.feature_ref)
            if math.isnan(rhs):
                return None
        if math.isnan(x):
            return None
        return bool(_compare(node.op, x, rhs))
    if isinstance(node, NotOf):
        v = truth(node.item, row)
        return None if v is None else not v
    vals = [truth(item, row) for item in node.items]
    if isinstance(node, AllOf):
        if any(v is False for v in vals):
            return False
        return True if all(v is True for v in vals) else None
    if any(v is True for v in vals):
        return True
    return False if all(v is False for v in vals) else None


# --------------------------------------------------------------------------- explanation


def fmt_number(x: float | None) -> str:
    """Short human form of a feature value or threshold (``0.92``, ``1500``, ``2.5e+06``)."""
    if x is None:
        return "NaN"
    x = float(x)
    if x != x:
        return "NaN"
    ax = abs(x)
    if ax < 1e7 and x.is_integer():
        return str(int(x))
    if ax == math.inf:
        return "inf" if x > 0 else "-inf"
    if 100 <= ax < 1e7:
        return f"{x:.1f}"
    return f"{x:.3g}"


def _fmt_rhs(op: str, value: Any) -> str:
    if op.endswith("between"):
        return f"[{fmt_number(value[0])}, {fmt_number(value[1])}]"
    if op.endswith("in"):
        return "[" + ", ".join(fmt_number(v) for v in value) + "]"
    return fmt_number(value)


@dataclass(frozen=True, slots=True)
class Evidence:
    """A leaf condition that held for an account, with the actual values.

    Attributes
    ----------
    feature : str
        Feature compared.
    op : str
        Operator as it held; under a ``not`` the negation (``<`` for a failed ``>=``,
        ``not in``, ``not between``).
    actual : float
        The account's value of ``feature``.
    value : float or tuple or None
        The constant threshold, when the leaf has one.
    feature_ref, ref_actual, scale
        The right-hand feature, its value and multiplier, for feature-to-feature leaves.
    """

    feature: str
    op: str
    actual: float
    value: float | tuple[float, ...] | None = None
    feature_ref: str | None = None
    ref_actual: float | None = None
    scale: float = 1.0

    @property
    def text(self) -> str:
        """One line an analyst reads, e.g. ``cot_share 0.92 >= 0.5``."""
        left = f"{self.feature} {fmt_number(self.actual)} {self.op}"
        if self.feature_ref is None:
            return f"{left} {_fmt_rhs(self.op, self.value)}"
        ref = f"{self.feature_ref} {fmt_number(self.ref_actual)}"
        if self.scale == 1.0:
            return f"{left} {ref}"
        scaled = fmt_number(self.scale * (self.ref_actual or 0.0))
        return f"{left} {fmt_number(self.scale)} x {ref} (= {scaled})"

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (adds ``text``)."""
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {
            "feature": self.feature,
            "op": self.op,
            "actual": self.actual,
            "value": value,
            "feature_ref": self.feature_ref,
            "ref_actual": self.ref_actual,
            "scale": self.scale,
            "text": self.text,
        }


def _evidence(leaf: Leaf, row: Mapping[str, float], negated: bool) -> Evidence:
    ref = _value(row, leaf.feature_ref) if leaf.feature_ref is not None else None
    return Evidence(
        feature=leaf.feature,
        op=_NEGATED[leaf.op] if negated else leaf.op,
        actual=_value(row, leaf.feature),
        value=leaf.value,
        feature_ref=leaf.feature_ref,
        ref_actual=ref,
        scale=leaf.scale,
    )


def collect_evidence(node: Node, row: Mapping[str, float], want: bool = True) -> list[Evidence]:
    """The leaves that make ``node`` evaluate to ``want`` on ``row``.

    For a matching rule (``want=True``) this is the evidence: every leaf of an ``all``,
    the true branches of an ``any``, and, under a ``not``, the negated leaves that made
    the excluded pattern false (``mcq_share 0.05 < 0.3``). With ``want=False`` it explains
    why a rule did not match. One pass over the tree.

    Parameters
    ----------
    node : Node
        Condition tree.
    row : mapping
        Feature name -> value.
    want : bool
        The truth value to explain.

    Returns
    -------
    list of Evidence
        Empty when ``node`` does not evaluate to ``want``.
    """
    value, if_true, if_false = _explain(node, row)
    if value is not want:
        return []
    return if_true if want else if_false


def _explain(
    node: Node, row: Mapping[str, float]
) -> tuple[bool | None, list[Evidence], list[Evidence]]:
    """Truth value, and the evidence for it being true resp. false (bottom-up)."""
    if isinstance(node, Leaf):
        value = truth(node, row)
        if value is None:
            return None, [], []
        ev = _evidence(node, row, negated=not value)
        return value, ([ev] if value else []), ([] if value else [ev])
    if isinstance(node, NotOf):
        value, if_true, if_false = _explain(node.item, row)
        return (None if value is None else not value), if_false, if_true
    parts = [_explain(item, row) for item in node.items]
    values = [p[0] for p in parts]
    if isinstance(node, AllOf):
        if any(v is False for v in values):
            value = False
        else:
            value = True if all(v is True for v in values) else None
        if_true = [e for p in parts for e in p[1]]
        if_false = [e for p in parts if p[0] is False for e in p[2]]
    else:
        if any(v is True for v in values):
            value = True
        else:
            value = False if all(v is False for v in values) else None
        if_true = [e for p in parts if p[0] is True for e in p[1]]
        if_false = [e for p in parts for e in p[2]]
    return value, if_true, if_false


def unknown_leaves(node: Node, row: Mapping[str, float]) -> list[Leaf]:
    """Leaves whose inputs are missing (NaN) on ``row``."""
    return [leaf for leaf in iter_leaves(node) if truth(leaf, row) is None]


# --------------------------------------------------------------------------- rendering


def _leaf_text(leaf: Leaf) -> str:
    if leaf.feature_ref is not None:
        scale = "" if leaf.scale == 1.0 else f"{fmt_number(leaf.scale)} x "
        return f"{leaf.feature} {leaf.op} {scale}{leaf.feature_ref}"
    return f"{leaf.feature} {leaf.op} {_fmt_rhs(leaf.op, leaf.value)}"


def describe(node: Node) -> str:
    """One-line form, e.g. ``cot_share >= 0.5 AND NOT (mcq_share >= 0.3 OR ...)``."""
    if isinstance(node, Leaf):
        return _leaf_text(node)
    if isinstance(node, NotOf):
        inner = describe(node.item)
        return f"NOT {inner}" if isinstance(node.item, Leaf | NotOf) else f"NOT ({inner})"
    joiner = " AND " if isinstance(node, AllOf) else " OR "
    parts = []
    for item in node.items:
        text = describe(item)
        nested = isinstance(item, AllOf | AnyOf) and len(item.items) > 1
        parts.append(f"({text})" if nested else text)
    return joiner.join(parts)


def outline(node: Node, indent: int = 0) -> list[str]:
    """Markdown nested-list lines of a tree (used by the generated docs)."""
    pad = "  " * indent
    if isinstance(node, Leaf):
        return [f"{pad}- `{_leaf_text(node)}`"]
    if isinstance(node, NotOf):
        if isinstance(node.item, Leaf):
            return [f"{pad}- NOT `{_leaf_text(node.item)}`"]
        return [f"{pad}- NOT:", *outline(node.item, indent + 1)]
    head = "all of:" if isinstance(node, AllOf) else "any of:"
    lines = [f"{pad}- {head}"]
    for item in node.items:
        lines.extend(outline(item, indent + 1))
    return lines
