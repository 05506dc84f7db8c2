"""distillsim: an independent, domain-randomised LLM-API traffic generator.

Every behavioural parameter of every account kind is drawn per seed from wide ranges
(:mod:`distillsim.kinds`), so detectors can be evaluated leave-one-kind-out and
across generators. See ``docs/simulator-wide.md``.

>>> from distillsim import WideConfig, generate, write
>>> sim = generate(WideConfig(seed=0, accounts=200, days=1.0))  # doctest: +SKIP
>>> write(sim, "/tmp/wide.jsonl.gz", fmt="litellm")  # doctest: +SKIP
"""

from distillsim.generate import WideConfig, WideSimulation, generate
from distillsim.kinds import DEFAULT_MIX, KINDS
from distillsim.writers import FORMATS, write

__all__ = ["DEFAULT_MIX", "FORMATS", "KINDS", "WideConfig", "WideSimulation", "generate", "write"]
