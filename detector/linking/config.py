"""Thresholds of account linking, in one place.

Every number that decides whether two accounts are linked, how a cluster is scored and
which action it gets lives in :class:`LinkConfig`, so a deployment can tune them and
``docs/linking.md`` can name them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["GENERIC_USER_AGENT", "KINDS", "LinkConfig"]

# The three kinds of evidence; a link needs agreeing evidence of at least two of them.
KINDS: tuple[str, ...] = ("infrastructure", "content", "timing")

# User agents of SDKs, HTTP libraries, gateways and browsers: shared by unrelated
# accounts by construction, so never evidence of a common operator.
GENERIC_USER_AGENT = re.compile(
    r"^(?:Async)?OpenAI/|^openai[-/]|^anthropic|^litellm|^langchain|^llama[-_]?index"
    r"|^python-requests/|^python-httpx/|^python/|^aiohttp|^httpx|^urllib|^Go-http-client/"
    r"|^curl/|^wget/|^okhttp/|^axios/|^node-fetch|^undici|^node|^Apache-HttpClient/"
    r"|^Java/|^reqwest/|^PostmanRuntime/|^insomnia/|^Mozilla/|^Dart/|^got ",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """Parameters of link evidence, guards, communities and cluster scoring.

    Parameters
    ----------
    min_token_share : float
        Smallest share of an account's requests a heavy hitter (prefix, user agent,
        template, system prompt) must carry to be used for blocking and evidence.
    max_exact_items : int
        Exact IP / key / end-user sets larger than this are not used (rotating pools).
    df_floor : int
        Document frequency (accounts holding a token) below which a token is fully
        specific.
    df_cap : int
        Absolute document-frequency cap: tokens held by more accounts are never evidence
        nor blocking keys (a large NAT, a popular template).
    df_cap_share : float
        Relative cap for prefixes, IPs, keys, end users and templates: a token held by
        more than this share of the population is common. Generous, because a campaign
        can be a large share of a small population and may reuse a template across
        campaigns; what guards these tokens is the two-kinds rule.
    common_cap_share : float
        Stricter relative cap for system prompts and user agents, which unrelated
        accounts share by design (a SaaS product's or an SDK's default system prompt, a
        client library).
    ua_df_cap : int
        Absolute document-frequency cap of user agents.
    block_window : int
        Within one blocking key, accounts are paired with their ``block_window`` nearest
        neighbours in onset order and in minute-signature order (all pairs when the
        block is small). Bounds the candidate pairs to ``O(accounts * window)``.
    minhash_bands : int
        LSH bands over the active-minute MinHash (rows per band = slots / bands) used as
        extra blocking keys; 0 (the default) disables them. Every edge needs
        infrastructure or content evidence, whose tokens are blocking keys already, so
        timing bands only add pairs that cannot become edges (at 100k accounts, chance
        collisions of sparse accounts' bands multiply the candidate pairs by ~50). The
        minute signature still orders the holders of large blocks.
    infra_min, content_min : float
        Smallest strength in [0, 1] for infrastructure / content evidence to count as a
        kind of its own.
    minute_min_jaccard : float
        Smallest estimated active-minute Jaccard similarity counted as synchronised.
    minute_alpha : float
        Significance of the binomial test of MinHash slot agreements against the
        agreement expected for independent accounts with the same activity densities.
    onset_s : float
        Largest gap between two accounts' first (or last) requests counted as a
        simultaneous onset (stop); supporting evidence only.
    onset_margin_s : float
        Onsets (stops) this close to the start (end) of the data are not onsets (stops):
        the log just began (ended).
    hourly_min_corr : float
        Smallest correlation of hourly activity (after removing the population's own
        daily rhythm) recorded as supporting evidence.
    hourly_min_hours : int
        Fewest active hours both accounts need for the hourly correlation to count.
    new_model_s : float
        Largest gap between two accounts' first use of a newly released model.
    new_model_margin_s : float
        A model first seen in the population this long after the start of the data is
        "newly released".
    cohort_window_s : float
        Two accounts whose first requests lie within this of each other (a day) started
        together (*synchronous onset*).
    cohort_margin_s : float
        An onset is an account's start only this long after the start of the data ...
    cohort_min_expected : float
        ... and when the account, at its own request rate, would have sent at least this
        many requests between the start of the data and its first one (a quiet account
        that simply had not called yet is not new).
    cohort_min_holders : int
        Fewest holders of a shared template or system prompt that must have started
        within one ``cohort_window_s`` window, both accounts of the pair among them.
    cohort_min_share : float
        Smallest share of the token's holders that started within that window: a
        popular SDK or app template whose users' onsets are spread over the data (or lie
        at its start) gives no cohort.
    cohort_concentration : float
        The cohort's share of the token's holders must reach this multiple of the share
        a window of ``cohort_window_s`` would hold if onsets were spread evenly over the
        data (so in data barely longer than the window, no cohort is found).
    cohort_min_profile : float
        Smallest similarity of topic distribution and behaviour (volume, output length,
        chain-of-thought share) for a synchronous onset on a shared template to count:
        users of one app template differ there, the accounts of one swarm do not.
    platform_end_users : int
        Accounts with at least this many distinct end users are platforms (SaaS back
        ends): their end-user ids and timing are not evidence of coordination.
    min_edge_weight : float
        Smallest edge weight kept (weight = summed strengths of the agreeing kinds).
    min_cluster_size : int
        Smallest community reported as a cluster.
    split_min_size : int
        Connected components at least this large are split into communities by
        weighted label propagation.
    lpa_iterations : int
        Largest number of label-propagation sweeps.
    min_modularity : float
        A component is split into its label-propagation communities only when that
        partition's modularity reaches this (a campaign that is one dense block stays
        whole; two campaigns bridged by a few chance links come apart).
    block_size : int
        Smallest cluster whose members are all blocked when it harvests (``K``).
    block_harvest : float
        Cluster harvest score from which a cluster of ``block_size`` or more is blocked.
    review_harvest : float
        Cluster harvest score from which a cluster is put up for review.
    member_suspicious : float
        Member harvest score from which a member counts as individually suspicious.
    affiliate_share : float
        Share of an unlinked account's traffic on a flagged cluster's defining template
        (skeleton or system prompt) from which it is the campaign's *affiliate*: a late
        joiner or slow member tied to it by content alone (:func:`affiliates`).
    affiliate_core_share : float
        Share of the cluster's members holding a template at ``affiliate_share`` or more
        for it to define the campaign.
    affiliate_max_ratio : float
        A defining template held (at ``affiliate_share``) by more unlinked accounts than
        this times the cluster's size is popular beyond the campaign (an app or SDK frame
        the campaign happens to use): it affiliates no one.
    affiliate_risk : float
        Affiliates receive this fraction of the cluster's risk, at most ``review``.
    """

    min_token_share: float = 0.05
    max_exact_items: int = 64
    df_floor: int = 50
    df_cap: int = 2000
    df_cap_share: float = 0.25
    common_cap_share: float = 0.05
    ua_df_cap: int = 200
    block_window: int = 24
    minhash_bands: int = 0
    infra_min: float = 0.3
    content_min: float = 0.3
    minute_min_jaccard: float = 0.2
    minute_alpha: float = 1e-6
    onset_s: float = 60.0
    onset_margin_s: float = 1800.0
    hourly_min_corr: float = 0.8
    hourly_min_hours: int = 4
    new_model_s: float = 600.0
    new_model_margin_s: float = 3600.0
    cohort_window_s: float = 86_400.0
    cohort_margin_s: float = 6 * 3600.0
    cohort_min_expected: float = 4.0
    cohort_min_holders: int = 3
    cohort_min_share: float = 0.5
    cohort_concentration: float = 2.0
    cohort_min_profile: float = 0.75
    platform_end_users: int = 50
    min_edge_weight: float = 1.0
    min_cluster_size: int = 3
    split_min_size: int = 8
    lpa_iterations: int = 30
    min_modularity: float = 0.3
    block_size: int = 5
    block_harvest: float = 0.5
    review_harvest: float = 0.3
    member_suspicious: float = 0.5
    affiliate_share: float = 0.5
    affiliate_core_share: float = 0.5
    affiliate_max_ratio: float = 1.0
    affiliate_risk: float = 0.8

    def cap(self, n_accounts: int, family: str = "skeleton") -> int:
        """Document-frequency cap of a token family for a population of ``n_accounts``.

        Parameters
        ----------
        n_accounts : int
            Accounts in the population.
        family : str
            Token family (``ip_prefix``, ``user_agent``, ``skeleton``, ``system``...).

        Returns
        -------
        int
            Tokens held by more accounts are neither evidence nor blocking keys.
        """
        common = family in ("system", "user_agent")
        share = self.common_cap_share if common else self.df_cap_share
        cap = min(self.df_cap, share * n_accounts)
        if family == "user_agent":
            cap = min(cap, self.ua_df_cap)
        return int(max(self.df_floor + 1, cap))
