"""Generate ``docs/features.md`` from the feature schema.

Run ``python -m detector.features.docs > docs/features.md``; a test checks the file is current.
"""

from __future__ import annotations

from detector.features.schema import FAMILIES, FEATURES, schema_hash

__all__ = ["render"]


def render() -> str:
    """The Markdown page listing every feature by family."""
    lines = [
        "# Features",
        "",
        "Generated from `detector/features/schema.py` by `python -m detector.features.docs`;",
        "do not edit by hand. Every feature is computed from mergeable per-account aggregates",
        "(`detector/aggregates.py`), so the offline audit and the streaming workers agree.",
        "",
        f"Schema hash: `{schema_hash()}` (stored with every model; a mismatch refuses the model).",
        "",
    ]
    for family, blurb in FAMILIES.items():
        rows = [f for f in FEATURES if f.family == family]
        lines += [f"## {family}", "", blurb[0].upper() + blurb[1:] + ".", ""]
        lines += ["| name | dtype | unit | meaning |", "|---|---|---|---|"]
        lines += [f"| `{f.name}` | {f.dtype} | {f.unit} | {f.meaning} |" for f in rows]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
