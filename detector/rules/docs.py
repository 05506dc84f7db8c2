"""Generate ``docs/rules.md``: the rule format reference and the list of shipped rules.

Run ``python -m detector.rules.docs > docs/rules.md`` after changing a rule (a test
checks the file is current). ``--rules-dir DIR`` documents another directory.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from detector.features.schema import FAMILIES
from detector.rules.condition import fmt_number, outline
from detector.rules.defaults import BENIGN_DEFAULTS
from detector.rules.engine import check_directory
from detector.rules.model import ACTIONS, LEVELS, STATUSES, Rule

__all__ = ["render"]

_EXAMPLE = """\
id: 9b0c3f5e-2d4a-4c1e-8f7a-6b5d4c3b2a10        # python -c 'import uuid; print(uuid.uuid4())'
title: Chain-of-thought harvesting at sustained volume
status: experimental                             # experimental | test | stable | deprecated
level: high                                      # low | medium | high | critical
action: block                                    # recommended: review | throttle | block
family: harvest                                  # a FAMILIES key of the feature schema
description: >
  What the rule detects and why it indicates distillation.
references:
  - https://www.anthropic.com/news/detecting-and-preventing-distillation-attacks
falsepositives:
  - >-
    Evaluation harnesses ("let's think step by step" on benchmarks): MCQ or
    short-answer items; excluded by mcq_share / short_answer_share.
author: your name
date: 2026-11-28
tags: [distillation.cot]                         # optional; `modified:` is optional too
condition:
  all:
    - {feature: cot_share, op: ">=", value: 0.6}
    - {feature: mean_completion_tokens, op: ">=", value: 800}
    - {feature: n_events, op: between, value: [300, 1000000]}
    - not:
        any:
          - {feature: mcq_share, op: ">=", value: 0.3}
          - {feature: short_answer_share, op: ">=", value: 0.4}
tests:
  - name: blatant harvester
    expect: match
    features: {cot_share: 0.92, mean_completion_tokens: 1800, n_events: 2400}
  - name: eval harness with step-by-step MCQ
    expect: no_match
    features: {cot_share: 0.95, mean_completion_tokens: 900, n_events: 3000, mcq_share: 0.85}
"""

_STATUSES = " / ".join(f"`{s}`" for s in STATUSES)
_LEVELS = " / ".join(f"`{s}`" for s in LEVELS)
_ACTIONS = " / ".join(f"`{s}`" for s in ACTIONS)
_FAMILIES = ", ".join(f"`{f}`" for f in FAMILIES)

_FORMAT = f"""\
## Rule files

One YAML file per rule in `rules/` (file names are free; the shipped ones start with
the family). Inspired by [Sigma](https://github.com/SigmaHQ/sigma-specification), but
the condition is a structured tree over the per-account features of
`detector/features/schema.py` ([features.md](features.md)), never an expression that
gets evaluated.

```yaml
{_EXAMPLE}```

| key | required | meaning |
|---|---|---|
| `id` | yes | canonical lower-case uuid4, unique across all rule files |
| `title` | yes | one line, shown in alerts |
| `status` | yes | {_STATUSES}; `deprecated` rules load and are tested, never evaluated |
| `level` | yes | {_LEVELS} (fusion weighs hits by level) |
| `action` | yes | recommended: {_ACTIONS} (capped at `review` when allowlisted) |
| `family` | yes | one of {_FAMILIES} |
| `description` | yes | what the rule detects and why |
| `references` | yes | list of URLs (may be empty) |
| `falsepositives` | yes | non-empty list: legitimate look-alikes and *how the rule spares them* |
| `author`, `date` | yes | `date` is `YYYY-MM-DD` |
| `condition` | yes | the tree below |
| `tests` | yes | inline tests, at least one `match` and one `no_match` |
| `tags`, `modified` | no | list of strings; date |

Unknown keys are rejected, as are duplicate keys inside a file (typos would otherwise
silently drop a condition).

## Conditions

Inner nodes: `{{all: [...]}}` (every child holds), `{{any: [...]}}` (at least one holds),
`{{not: {{...}}}}`; nest them freely. Leaves:

| op | `value` | holds when |
|---|---|---|
| `>` `>=` `<` `<=` `==` `!=` | a number | `feature op value` |
| `between` | `[low, high]` | `low <= feature <= high` |
| `in` | list of numbers | `feature` equals one of them |

A comparison leaf may compare two features instead:
`{{feature: distinct_ip_prefixes, op: ">=", feature_ref: distinct_ips, scale: 0.8}}` holds
when `distinct_ip_prefixes >= 0.8 * distinct_ips` (`scale` defaults to 1).

Values are checked against the feature's range: every feature is non-negative, shares
(`*_share`, `distinct_prompt_ratio`) lie in [0, 1] (write `0.5`, not `50`) and
`hours_of_day_active` in [0, 24].

**Missing values (NaN).** Conditions use three-valued logic, as SQL does: a leaf on a
NaN feature is *unknown*; `not` of unknown is unknown; `all` is false as soon as one
child is false, `any` true as soon as one child is true; a rule matches only when its
condition is *true*. NaN therefore never satisfies a comparison, and a missing
exclusion feature cannot make a rule fire through a `not` either.

**Evidence.** For a matching account the engine reports the leaves that held with the
account's values, e.g. `cot_share 0.92 >= 0.6`; under a `not` it reports the negation
that held (`mcq_share 0.02 < 0.3`), and for feature pairs
`distinct_ip_prefixes 380 >= 0.8 x distinct_ips 400 (= 320)`.

## Inline tests

`tests` is a list of `{{name, features, expect}}` with `expect` `match` or `no_match`.
A test names only the features it is about; every other feature takes the neutral
default below, a *typical benign chat user* over a one- to two-day window
(`detector/rules/defaults.py`; no shipped rule may match it). `null` means missing.
Write the negative tests as the legitimate look-alikes listed in `falsepositives`, so
each exclusion is exercised.
"""

_VALIDATION = """\
## What the validator rejects

Each problem is reported with the file and the path inside it
(`rules/x.yml: condition.all[2].op: unknown operator '=>' ...`), all at once:

- invalid YAML, several documents in one file, a duplicate key;
- missing required keys, unknown keys;
- an `id` that is not a canonical uuid4, or an `id` already used by another file;
- unknown `status`, `level`, `action` or `family`;
- unknown feature names (in conditions and in tests, with a "did you mean" hint);
- unknown operators, a value of the wrong type for the operator (a number for
  comparisons, `[low, high]` with low <= high for `between`, a non-empty list for `in`),
  both or neither of `value` / `feature_ref`, a value outside the feature's range;
- empty `all` / `any` lists, group nodes with extra keys;
- `falsepositives` empty; tests without both a `match` and a `no_match` case, duplicate
  test names, non-numeric test values;
- a failing inline test (the message says which leaves held instead, or which features
  were missing).

## Writing and testing a rule

1. Pick the family and the behaviour; list the legitimate look-alikes first (evaluation
   harnesses, nightly batch jobs, SaaS back ends with many end users, coding agents,
   researchers using logprobs at low volume, ...).
2. Write the condition: the harvesting signal, a volume floor (`n_events`) so there is
   enough data, and one `not` clause per look-alike, using the `legit` family features
   (`mcq_share`, `short_answer_share`, `tools_share`, `json_format_share`, ...) and the
   shape features (`peak_hour_share` for bounded bursts, `end_user_share` /
   `distinct_end_users` for SaaS).
3. Add a positive test and one negative test per look-alike.
4. Run `distillwatch rules test` (or `pytest tests/rules`); `-v` lists every test.
5. Regenerate this page: `python -m detector.rules.docs > docs/rules.md`.

Thresholds live only in the YAML files, never in code. The shipped values are
defaults for a feature window of one to two days; calibrate them against the
generated sample logs (`make sample-logs`, `distillwatch audit`) and your own traffic.
Per-account floors are deliberately modest: campaigns spread traffic over thousands of
small accounts, which the account-linking stage ties together.

First-pass check (not a calibration): on two simulated two-day populations
(`distillsim.legacy`, seeds 7 and 11, 400 and 600 accounts), the shipped rules flagged
none of the 740 benign accounts (chat, SaaS, batch, evaluation, coding agents,
researchers) and 209 of the 260 distillation accounts: every CoT and math harvester,
130 of 150 hydra members, most logprob, logit_bias and reseller accounts, and no
low-volume "mixed" account (left to linking and the anomaly model).

## Reloading

Rules are data. `RuleSet.load(directory)` reads, validates and tests every file and
returns a new immutable set; the service calls it again on reload (admin role) and
keeps the running set when the new files fail. `RuleSet.version` is a hash of the
files' names and contents.

## Allowlists

`rules/allowlists/*.yml` (shipped: `accounts.yml`, `partners.yml`) hold
`entries: [{account_id, reason, added_by, expires?, added?, partner?, programme?,
ticket?, contact?}]`. An entry applies up to and including its `expires` date.
Allowlisted accounts are still scored, alerted and reported, but their action is
capped at `review` (`Allowlist.load(dir)`, `is_allowed(account_id, as_of_date)`,
`allowed_mask(ids, as_of)`, `cap(action, account_id, as_of)`, `cap_action(action,
allowed)`). `distillwatch rules test` validates them too.

## Python API

```python
from detector.rules import RuleSet, Allowlist, cap_action

rules = RuleSet.load("rules")            # raises RuleValidationError listing every problem
matches = rules.evaluate(features)       # bool DataFrame, accounts x active rule ids
hits = rules.hits(features)              # {account_id: [RuleHit, ...]} for matching accounts
for hit in rules.hits_for(features.loc["acct-42"]):
    print(hit.rule_id, hit.title, hit.level, hit.action, hit.evidence)
allow = Allowlist.load("rules/allowlists")
action = cap_action("block", allow.is_allowed("acct-42", as_of))
```

Evaluation is vectorised with numpy (each feature column converted once, one array
comparison per leaf): 100,000 accounts x 20 rules take well under a tenth of a second.

## Command line

- `distillwatch rules test [--rules-dir DIR] [-v]`: validate, run the inline tests,
  check the allowlists; prints a table and exits 1 on any problem.
- `distillwatch rules list [--rules-dir DIR] [--json]`: id, level, action, family,
  status, title.

Without `--rules-dir`, `./rules` is used when present, else the copy shipped in the
package (`detector/rules/builtin`, a link to the repository's `rules/`).
"""


def _defaults_table() -> list[str]:
    lines = ["| feature | default |", "|---|---|"]
    lines += [f"| `{k}` | {fmt_number(float(v))} |" for k, v in BENIGN_DEFAULTS.items()]
    return lines


def _rule_section(rule: Rule) -> list[str]:
    rel = Path(rule.source).name
    lines = [
        f"### {rule.title}",
        "",
        f"`{rule.id}` · file `rules/{rel}` · family **{rule.family}** · level "
        f"**{rule.level}** · action **{rule.action}** · status {rule.status}",
        "",
        rule.description,
        "",
        "Condition:",
        "",
        *outline(rule.condition),
        "",
        "False positives:",
        "",
        *(f"- {fp}" for fp in rule.falsepositives),
        "",
    ]
    if rule.references:
        lines += ["References: " + ", ".join(f"<{r}>" for r in rule.references), ""]
    return lines


def render(rules_dir: Path | str = "rules") -> str:
    """The Markdown of ``docs/rules.md``.

    Parameters
    ----------
    rules_dir : path
        Directory whose rules are listed.

    Returns
    -------
    str
    """
    base = Path(rules_dir)
    report = check_directory(base, run_tests=False)
    if report.problems:
        raise SystemExit("\n".join(str(p) for p in report.problems))
    rules = sorted(report.rules, key=lambda r: (list(FAMILIES).index(r.family), r.title))
    lines = [
        "# Rules",
        "",
        "Generated by `python -m detector.rules.docs > docs/rules.md` from "
        "`detector/rules/docs.py` and the files in `rules/`; do not edit by hand.",
        "",
        "Rules are one of the three scorers (with the isolation forest and account",
        "linking): readable, reviewable conditions over the per-account features, each",
        "with the legitimate look-alikes it spares and tests that prove it.",
        "",
        _FORMAT,
        *_defaults_table(),
        "",
        _VALIDATION,
        f"## Shipped rules ({len(rules)})",
        "",
        "| id | family | level | action | title |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| `{r.id[:8]}` | {r.family} | {r.level} | {r.action} | {r.title} |" for r in rules]
    lines.append("")
    for rule in rules:
        lines += _rule_section(rule)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    """Print the page (``--rules-dir`` to document another directory)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rules-dir", default="rules")
    args = parser.parse_args(argv)
    print(render(args.rules_dir), end="")


if __name__ == "__main__":
    main()
