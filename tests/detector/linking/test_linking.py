"""Account linking end to end: campaigns linked and scored, look-alikes left alone."""

from __future__ import annotations

import re

import numpy as np
import orjson
import pytest

from detector.aggregates import AccountState
from detector.alerts import ALERTNAME_CLUSTER, fingerprint
from detector.linking import LinkConfig, cluster_id, link_accounts
from detector.linking.synthetic import AccountSpec, build_states
from tests.detector.linking.helpers import DAY, T0, background, background_long, hydra, swarm

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _link(specs: list[AccountSpec], config: LinkConfig | None = None):
    return link_accounts(build_states(specs), config=config)


def _flagged_members(result) -> set[str]:
    return {m for c in result.flagged() for m in c.members}


def test_hydra_campaign_is_linked_scored_and_blocked() -> None:
    rng = np.random.default_rng(1)
    campaign = hydra(rng, 25)
    result = _link(background(rng, 300) + campaign)
    ids = {s.account_id for s in campaign}
    assert len(result.flagged()) == 1
    cluster = result.flagged()[0]
    assert set(cluster.members) == ids
    assert cluster.action == "block"
    assert cluster.risk >= 0.9
    assert cluster.features["size"] == 25
    assert cluster.features["cot_share"] > 0.8
    assert cluster.features["suspicious_member_share"] == 1.0
    # every edge carries agreeing evidence of at least two kinds, named in words
    for _a, _b, weight, evidence in cluster.edges:
        assert weight >= 1.0
        text = " | ".join(evidence)
        assert "203.0.113.0/24" in text
        assert "same template skeleton 1a2b3c4d5e6f" in text
    verdicts = result.account_verdicts()
    assert set(verdicts) == ids
    v = verdicts[campaign[0].account_id]
    assert v["action"] == "block" and v["cluster_id"] == cluster.cluster_id
    assert v["reason"].startswith(f"member of cluster {cluster.cluster_id} (25 accounts sharing")
    assert "203.0.113.0/24" in v["reason"] and "CoT share 0.85" in v["reason"]
    assert any("synchronised active minutes" in line for line in cluster.evidence)


def test_corporate_nat_of_unrelated_accounts_is_not_linked() -> None:
    rng = np.random.default_rng(2)
    office = []
    for i in range(40):
        day_start = T0 + 8 * 3600
        t = np.sort(day_start + rng.uniform(0, 9 * 3600, int(rng.integers(10, 60))))
        office.append(
            AccountSpec(
                f"corp-{i:02d}",
                t,
                ["198.51.100.7", "198.51.100.8"],  # the company's NAT: same IPs, same /24
                "OpenAI/Python 1.54.4",
                [int(rng.integers(1, 2**62))],
                None,
                cot_share=0.05,
            )
        )
    result = _link(background(rng, 200) + office)
    corp = {s.account_id for s in office}
    assert not any(result.cluster_of(a) for a in corp)
    assert not _flagged_members(result)


def test_popular_sdk_user_agent_is_not_evidence() -> None:
    rng = np.random.default_rng(3)

    def group(user_agent: str) -> list[AccountSpec]:
        out = []
        for i in range(12):
            t = np.sort(rng.uniform(T0, T0 + DAY, 30))
            out.append(
                AccountSpec(
                    f"ua-{i:02d}",
                    t,
                    [f"81.{i}.{rng.integers(256)}.9"],  # different networks
                    user_agent,
                    [0x5151515151515151],  # one shared template
                    None,
                    cot_share=0.9,
                    completion_mean=1800.0,
                )
            )
        return out

    sdk = _link(background(rng, 200) + group("OpenAI/Python 1.54.4"))
    assert not any(c.members[0].startswith("ua-") for c in sdk.clusters)
    # the same accounts with a rare, custom client: user agent + template now agree
    custom = _link(background(rng, 200) + group("harvest-kit/0.3"))
    linked = [c for c in custom.clusters if c.members[0].startswith("ua-")]
    assert len(linked) == 1 and linked[0].size == 12
    assert any("same user agent 'harvest-kit/0.3'" in ev for e in linked[0].edges for ev in e[3])


@pytest.mark.parametrize(
    ("shared", "linked"),
    [
        ({"content"}, False),
        ({"infrastructure"}, False),  # /24 and exact IPs: two items, one kind
        ({"timing"}, False),
        ({"infrastructure", "content"}, True),
        ({"infrastructure", "timing"}, True),
        ({"content", "timing"}, True),
    ],
)
def test_a_link_needs_two_kinds_of_evidence(shared: set[str], linked: bool) -> None:
    rng = np.random.default_rng(4)
    together = T0 + 3600 + np.sort(rng.uniform(0, 10 * 3600, 40))
    group = []
    for i in range(8):
        t = together + rng.uniform(0, 5) if "timing" in shared else None
        if t is None:
            start = rng.uniform(T0, T0 + DAY)
            t = np.sort(rng.uniform(start, start + 6 * 3600, 40))
        ip = "192.0.2.50" if "infrastructure" in shared else f"90.{i}.{rng.integers(256)}.3"
        skeleton = 0x7E7E7E7E7E7E7E7E if "content" in shared else int(rng.integers(1, 2**62))
        group.append(
            AccountSpec(
                f"pair-{i}", np.sort(t), [ip], "OpenAI/JS 4.77.0", [skeleton], None, cot_share=0.9
            )
        )
    result = _link(background(rng, 150) + group)
    members = {m for c in result.clusters for m in c.members if m.startswith("pair-")}
    assert (members == {s.account_id for s in group}) is linked
    if not linked:
        assert not members


@pytest.mark.parametrize("harness", ["multiple-choice", "greedy chain-of-thought"])
def test_coordinated_but_benign_cluster_is_not_flagged(harness: str) -> None:
    """An evaluation team: several accounts, one network, one harness, run together."""
    rng = np.random.default_rng(5)
    team = hydra(rng, 8, "evalteam", user_agent="lm-eval/0.4")
    for spec in team:
        if harness == "multiple-choice":
            spec.cot_share, spec.mcq_share, spec.completion_mean = 0.5, 0.9, 40.0
        else:  # "let's think step by step" at temperature 0, moderate outputs
            spec.cot_share, spec.temp0_share, spec.completion_mean = 1.0, 1.0, 300.0
    result = _link(background(rng, 150) + team)
    cluster = result.cluster_of("evalteam-000")
    assert cluster is not None and cluster.size == 8
    assert cluster.action == "allow" and cluster.risk == 0.0
    assert not result.alerts()


def test_cluster_ids_are_stable() -> None:
    rng = np.random.default_rng(6)
    specs = background(rng, 100) + hydra(rng, 12)
    first = _link(specs)
    states = build_states(specs)
    shuffled = {k: states[k] for k in reversed(list(states))}
    second = link_accounts(shuffled)
    assert [(c.cluster_id, c.members) for c in first] == [(c.cluster_id, c.members) for c in second]
    members = first.clusters[0].members
    assert first.clusters[0].cluster_id == cluster_id(list(reversed(members)))
    assert re.fullmatch(r"c-[0-9a-f]{10}", first.clusters[0].cluster_id)


def test_cluster_alerts_are_well_formed() -> None:
    rng = np.random.default_rng(7)
    result = _link(background(rng, 100) + hydra(rng, 30))
    alerts = result.alerts()
    assert len(alerts) == 1
    alert = alerts[0]
    labels = alert["labels"]
    assert labels == {
        "alertname": ALERTNAME_CLUSTER,
        "cluster_id": result.clusters[0].cluster_id,
        "severity": "critical",
    }
    assert alert["fingerprint"] == fingerprint(labels)
    ann = alert["annotations"]
    assert ann["member_count"] == "30"
    assert ann["members"].endswith("(+10 more; 30 in all)")
    assert ann["members"].count(",") == 19
    assert ann["recommended_action"].startswith("block all 30 member accounts")
    assert "203.0.113.0/24" in ann["evidence"]
    assert "Detection alerts" in ann["runbook"]
    assert ann["runbook_url"].endswith("/docs/runbook.md#detection-alerts")
    assert orjson.loads(ann["features"])["size"] == 30
    assert RFC3339.match(alert["startsAt"])
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert set(alert) == {
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
    }


def test_platform_end_users_and_timing_are_not_evidence() -> None:
    """SaaS back ends: many end users each; a shared prefix and busy timing are not enough."""
    rng = np.random.default_rng(8)
    busy = T0 + np.sort(rng.uniform(0, 2 * DAY, 3000))
    saas = [
        AccountSpec(
            f"saas-{i}",
            busy + rng.uniform(0, 30, busy.size),
            ["34.100.200.10"],
            "AsyncOpenAI/Python 1.63.2",
            [int(rng.integers(1, 2**62))],
            None,
            end_users=300,
            cot_share=0.3,
        )
        for i in range(6)
    ]
    result = _link(background(rng, 100) + saas)
    assert not any(result.cluster_of(s.account_id) for s in saas)


def test_two_campaigns_bridged_by_chance_are_separate_clusters() -> None:
    rng = np.random.default_rng(9)
    one = hydra(rng, 15, "alpha", net="203.0.113", skeleton=0x1111111111111111)
    two = hydra(rng, 15, "beta", net="198.18.0", skeleton=0x2222222222222222, onset=T0 + DAY)
    # one account of each side shares the other side's network too
    one[0].ips.append("198.18.0.15")
    two[0].ips.append("203.0.113.15")
    two[0].skeletons.append(0x1111111111111111)
    result = _link(background(rng, 100) + one + two)
    flagged = result.flagged()
    assert len(flagged) == 2
    for cluster in flagged:
        sides = {m.split("-")[0] for m in cluster.members}
        assert len(sides) == 1


def test_frame_and_stats() -> None:
    rng = np.random.default_rng(10)
    result = _link(background(rng, 50) + hydra(rng, 6))
    frame = result.frame()
    assert list(frame.columns) == ["account_id", "cluster_id", "cluster_size", "risk", "action"]
    assert len(frame) == 6
    assert result.stats["accounts"] == 56
    assert result.stats["edges"] >= 5
    cluster = result.clusters[0]
    assert cluster["members"] == cluster.members  # templates read items by key
    assert cluster.to_dict()["size"] == 6


def test_empty_and_featureless_populations() -> None:
    empty = link_accounts({})
    assert empty.clusters == [] and empty.alerts() == [] and empty.account_verdicts() == {}
    bare = link_accounts({"a": AccountState(), "b": AccountState()})
    assert bare.stats["candidate_pairs"] == 0 and not bare.clusters


def test_content_swarm_links_on_template_and_synchronous_onset() -> None:
    """No shared IP, key or UA: one skeleton + onset on one day + similar profile."""
    rng = np.random.default_rng(21)
    crowd = swarm(rng, 40)
    result = _link(background_long(rng, 300) + crowd)
    ids = {s.account_id for s in crowd}
    clusters = [c for c in result.clusters if set(c.members) & ids]
    linked = {m for c in clusters for m in c.members}
    assert len(linked & ids) >= 36
    assert linked <= ids
    assert all(c.action == "block" and c.risk >= 0.9 for c in clusters)
    text = " ".join(" ".join(c.evidence) for c in clusters) + clusters[0].reason
    assert "started together" in text and "synchronous onset" in text
    edge = clusters[0].edges[0]
    assert any("started together on day 2" in e for e in edge[3])
    assert any("similar profile" in e for e in edge[3])


@pytest.mark.parametrize("variant", ["spread onsets", "onsets at the start", "profiles differ"])
def test_app_template_users_are_not_linked(variant: str) -> None:
    """Many accounts of one app template: onsets spread, at the data start, or unalike."""
    rng = np.random.default_rng(22)
    users = swarm(rng, 40, "app")
    for k, spec in enumerate(users):
        if variant == "spread onsets":
            spec.times = np.sort(spec.times - spec.times[0] + rng.uniform(T0, T0 + 2.5 * DAY))
        elif variant == "onsets at the start":
            spec.times = np.sort(spec.times - spec.times[0] + T0 + rng.uniform(0, 3600))
        else:
            spec.cot_share = float(rng.uniform(0, 1))
            spec.completion_mean = float(rng.lognormal(5, 1.2))
            spec.topics = list(np.eye(3)[k % 3])
            spec.times = spec.times[: int(rng.integers(3, spec.times.size))]
    result = _link(background_long(rng, 300) + users)
    app = [c for c in result.clusters if any(m.startswith("app-") for m in c.members)]
    if variant == "profiles differ":
        # users of one topic with alike behaviour stay linkable (a known gap: a subgroup
        # harvesting alike is a swarm to these aggregates); the behaviour guard keeps
        # the users from one large cluster
        assert all(c.size < 0.5 * len(users) for c in app)
    else:
        assert not app


def test_stock_prompts_are_never_evidence() -> None:
    """A swarm-shaped crowd on a stock CoT suffix or default system prompt is not linked."""
    from detector.linking.generic import generic_fingerprints

    rng = np.random.default_rng(23)
    kojima = min(generic_fingerprints()["skeleton"])
    crowd = swarm(rng, 30, "stock", skeleton=kojima)
    result = _link(background_long(rng, 200) + crowd)
    assert not any(m.startswith("stock-") for c in result.clusters for m in c.members)


def _slow_members(rng: np.random.Generator, n: int, tag: str, skeleton: int) -> list[AccountSpec]:
    """Swarm stragglers: the campaign's template, one or two requests, a later day."""
    out = []
    for j in range(n):
        t = np.sort(T0 + 2.6 * DAY + rng.uniform(0, 6 * 3600, int(rng.integers(1, 3))))
        out.append(
            AccountSpec(
                f"{tag}-{j:03d}",
                t,
                [f"81.{rng.integers(256)}.{j}.{j + 1}"],
                f"Mozilla/5.0 (Macintosh) Safari/{600 + j}",
                [skeleton],
                None,
                cot_share=0.9,
                completion_mean=1500.0,
                distinct_prompt_ratio=1.0,
                topics=[0.6, 0.3, 0.1],
            )
        )
    return out


def test_slow_members_of_a_flagged_swarm_are_affiliated_by_its_template() -> None:
    """Too few requests and another day: no second kind of evidence, but the campaign's
    defining template makes them affiliates (review at most, a fraction of the risk)."""
    rng = np.random.default_rng(31)
    crowd = swarm(rng, 40)
    slow = _slow_members(rng, 6, "late", 0x5A5A5A5A12345678)
    result = _link(background_long(rng, 300) + crowd + slow)
    core = [c for c in result.flagged() if set(c.members) & {s.account_id for s in crowd}]
    assert core and core[0].action == "block"
    late = {s.account_id for s in slow}
    assert not late & {m for c in result.clusters for m in c.members}  # not linked
    assert late <= set(core[0].affiliates)
    verdicts = result.account_verdicts()
    for a in late:
        v = verdicts[a]
        assert v["affiliate"] and v["cluster_id"] == core[0].cluster_id
        assert v["action"] == "review"
        assert v["risk"] == pytest.approx(core[0].risk * LinkConfig().affiliate_risk, abs=1e-4)
        assert "defining template" in v["reason"]
    assert core[0].to_dict()["affiliates"] == sorted(late)
    # no background account is an affiliate
    assert not any(v.get("affiliate") and a.startswith("bg") for a, v in verdicts.items())


@pytest.mark.parametrize(("outsiders", "affiliated"), [(5, True), (25, False)])
def test_a_template_popular_beyond_the_campaign_affiliates_no_one(
    outsiders: int, affiliated: bool
) -> None:
    """A campaign linked by network and template (10 accounts): 5 outside holders of its
    template are affiliates; 25 (more than the campaign) make it an app frame it shares."""
    rng = np.random.default_rng(32)
    skeleton = 0x3C3C3C3C3C3C3C3C
    campaign = hydra(rng, 10, "alpha", net="203.0.113", skeleton=skeleton)
    users = _slow_members(rng, outsiders, "user", skeleton)
    result = _link(background(rng, 300) + campaign + users)
    flagged = [c for c in result.flagged() if set(c.members) == {s.account_id for s in campaign}]
    assert flagged
    ids = {s.account_id for s in users}
    if affiliated:
        assert set(flagged[0].affiliates) == ids
    else:
        assert not any(c.affiliates for c in result.clusters)
        assert not any(v.get("affiliate") for v in result.account_verdicts().values())


def test_unflagged_clusters_affiliate_no_one() -> None:
    """A cohort that harvests nothing (short answers, no reasoning requests) may be linked
    but is not flagged: its template affiliates no one."""
    rng = np.random.default_rng(33)
    crowd = swarm(rng, 40)
    slow = _slow_members(rng, 5, "late", 0x5A5A5A5A12345678)
    for spec in crowd + slow:
        spec.cot_share, spec.completion_mean = 0.0, 120.0
    result = _link(background_long(rng, 300) + crowd + slow)
    assert any(set(c.members) & {s.account_id for s in crowd} for c in result.clusters)
    assert not result.flagged()
    assert not any(c.affiliates for c in result.clusters)
    assert not any(v.get("affiliate") for v in result.account_verdicts().values())
