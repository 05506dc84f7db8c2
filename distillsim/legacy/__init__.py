"""Traffic simulator: a provider's LLM-API logs over N days, with ground truth per account.

Benign kinds (chat, SaaS back ends, batch jobs, eval harnesses, coding agents,
researchers) and distillation kinds (CoT / logprob / math harvesting, logit-bias
probing, hydra campaigns, mixed accounts, reseller proxies), rendered as LiteLLM
``StandardLoggingPayload`` records, OpenAI request/response pairs or canonical events.

Modules: :mod:`.corpora` (prompt pools), :mod:`.traces` (timing and token shapes),
:mod:`.infra` (IPs, user agents, headers), :mod:`.profiles` (account kinds and their
planners), :mod:`.generate` (the engine), :mod:`.writers` (output formats),
:mod:`.build_data` (rebuilds the bundled ``data/`` pack). CLI: ``distillwatch simulate``.
"""
