"""Account kinds: one module per kind, each with a frozen parameters dataclass, ``draw(rng)``
sampling its ranges per seed, and ``build(world, params, n, key)`` creating ``n`` accounts.

:data:`MODULES` maps kind name to module, in a fixed order (the order fixes the random
streams, so do not reorder; append new kinds at the end). :data:`DEFAULT_MIX` gives the
share of accounts per kind before per-seed jitter.
"""

from __future__ import annotations

from types import ModuleType

from distillsim.kinds import (
    agentic_harvest,
    batch_job,
    capability_harvest,
    chat,
    coding_agent,
    content_swarm,
    cot_harvest,
    eval_harness,
    infra_hydra,
    logit_bias_probe,
    logprob_harvest,
    mixed,
    rag_app,
    researcher,
    reseller,
    saas_backend,
    sampling_eval,
    short_answer_grader,
    slow_harvest,
    translation_service,
    tutoring_platform,
)

__all__ = ["DEFAULT_MIX", "KINDS", "MODULES"]

MODULES: dict[str, ModuleType] = {
    m.KIND: m
    for m in (
        chat,
        eval_harness,
        sampling_eval,
        short_answer_grader,
        tutoring_platform,
        translation_service,
        batch_job,
        saas_backend,
        coding_agent,
        researcher,
        rag_app,
        cot_harvest,
        agentic_harvest,
        content_swarm,
        infra_hydra,
        capability_harvest,
        logprob_harvest,
        logit_bias_probe,
        mixed,
        reseller,
        slow_harvest,
    )
}
KINDS: dict[str, str] = {k: m.LABEL for k, m in MODULES.items()}

DEFAULT_MIX: dict[str, float] = {
    "chat": 0.660,
    "eval_harness": 0.008,
    "sampling_eval": 0.007,
    "short_answer_grader": 0.006,
    "tutoring_platform": 0.007,
    "translation_service": 0.010,
    "batch_job": 0.014,
    "saas_backend": 0.013,
    "coding_agent": 0.027,
    "researcher": 0.024,
    "rag_app": 0.020,
    "cot_harvest": 0.008,
    "agentic_harvest": 0.005,
    "content_swarm": 0.040,
    "infra_hydra": 0.020,
    "capability_harvest": 0.006,
    "logprob_harvest": 0.005,
    "logit_bias_probe": 0.005,
    "mixed": 0.012,
    "reseller": 0.0015,
    "slow_harvest": 0.0025,
}
