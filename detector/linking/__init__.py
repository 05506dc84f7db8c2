"""Account linking: coordinated clusters that no single account reveals.

Hydra campaigns spread harvesting over many small accounts, each below any
per-account threshold, tied together by shared infrastructure, shared prompt templates
and synchronised timing. This package finds them from the mergeable aggregates alone:

* :mod:`~detector.linking.profiles` - the population as arrays (tokens, MinHash, hourly);
* :mod:`~detector.linking.blocking` - candidate pairs from shared keys, never all pairs;
* :mod:`~detector.linking.evidence` - link evidence of three kinds, guards, edge weights;
* :mod:`~detector.linking.graph` / :mod:`~detector.linking.communities` - the weighted
  link graph and its communities;
* :mod:`~detector.linking.scoring` - cluster features, risk and action;
* :mod:`~detector.linking.result` - clusters, member verdicts and cluster alerts.

See ``docs/linking.md``.
"""

from detector.linking.config import LinkConfig
from detector.linking.linker import cluster_id, link_accounts
from detector.linking.result import Cluster, LinkResult

__all__ = ["Cluster", "LinkConfig", "LinkResult", "cluster_id", "link_accounts"]
