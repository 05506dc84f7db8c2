"""The dashboard in a real browser (Playwright + Debian's chromium) on the replayed state.

Signs in, opens every page, acknowledges alerts in bulk, marks a false positive and
confirms a block with notes (and sees the status and the trail change), watches a live
update arrive by server-sent events, and signs out. Screenshots go to
``test-artifacts/ui/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from service.store import alerts as alert_store
from tests.service.api.conftest import TOKENS, Populated
from tests.service.ui.conftest import LiveServer

pytestmark = [pytest.mark.redis, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "ui"
VIEWPORT = {"width": 1366, "height": 768}
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless chromium (skips only when /usr/bin/chromium is absent)."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A fresh browser context (no cookies) at 1366x768; fails on script errors."""
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    p.on(
        "console",
        lambda msg: (
            errors.append(f"console: {msg.text}")
            if msg.type == "error" and "401" not in msg.text
            else None
        ),
    )
    # nothing may come from anywhere but the service itself
    outside: list[str] = []
    p.on(
        "request",
        lambda req: (
            outside.append(req.url)
            if not req.url.startswith((live_server.url, "data:", "about:"))
            else None
        ),
    )
    yield p
    context.close()
    assert not outside, f"requests outside the service: {outside}"
    assert not errors, errors


def sign_in(page: Any, role: str = "analyst", start: str = "/ui/") -> None:
    """Open ``start``, land on the sign-in form, sign in and wait for the page's data."""
    page.goto(start)
    page.wait_for_url(re.compile(r"/ui/login\?next="))
    page.get_by_label("API token").fill(TOKENS[role])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/ui/(?!login)"))
    wait_ready(page)


def wait_ready(page: Any) -> None:
    """Wait until the page's script rendered its first data."""
    page.wait_for_selector("body[data-ready='1']")


def shot(page: Any, name: str, full: bool = True) -> Path:
    """Save a screenshot under test-artifacts/ui/."""
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full)
    return path


def firing_alerts(populated: Populated, n: int) -> list[dict[str, Any]]:
    """``n`` firing alerts of distinct accounts from the replayed state, riskiest first."""
    page = alert_store.list_alerts(
        populated.client(), populated.scorer.keys, status="firing", limit=500
    )
    return page["items"][:n]


# -- tests --------------------------------------------------------------------------------------
def test_sign_in_and_every_page(page: Any, ui_populated: Populated) -> None:
    page.goto("/ui/alerts")
    page.wait_for_url(re.compile(r"/ui/login\?next=%2Fui%2Falerts"))
    assert page.get_by_role("heading", name="Sign in").is_visible()
    page.get_by_label("API token").fill("wrong-token")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "That token is not valid."
    shot(page, "01-login-error")
    page.get_by_label("API token").fill(TOKENS["analyst"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/ui/alerts$"))
    wait_ready(page)

    # overview
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Overview").click()
    wait_ready(page)
    assert page.get_by_role("heading", name="Alerts by severity and status").is_visible()
    firing = int(page.locator("#ov-firing").inner_text().replace(",", ""))
    assert firing > 0
    assert page.locator("#ov-risk svg rect.bar").count() == 10
    assert page.locator("#ov-accounts tbody tr").count() == 10
    assert page.locator("#ov-ingest dd").first.inner_text() != ""
    assert page.get_by_text("population-fit@").count() >= 1
    page.wait_for_selector("body[data-live='on']")
    shot(page, "02-overview")

    # alert queue: filter, sort, paginate
    page.get_by_role("link", name="Alert queue").click()
    wait_ready(page)
    rows = page.locator("#alert-rows tr")
    assert rows.count() > 0
    page.get_by_label("Severity").select_option("critical")
    expect(page.locator("#queue-range")).to_contain_text("alerts match")
    page.wait_for_url(re.compile(r"severity=critical"))
    # the URL changes before the filtered rows replace the old ones: wait for the table
    page.wait_for_function(
        """() => {
          const cells = [...document.querySelectorAll('#alert-rows tr td:nth-child(2)')];
          return cells.length > 0 && cells.every((td) => td.innerText.trim() === 'Critical');
        }""",
        timeout=10_000,
    )
    sev = page.locator("#alert-rows tr td:nth-child(2)").all_inner_texts()
    assert sev and all(s.strip() == "Critical" for s in sev)
    assert "severity=critical" in (page.locator("#csv-link").get_attribute("href") or "")
    page.get_by_label("Sort by").select_option("last_seen")
    page.wait_for_url(re.compile(r"sort=last_seen"))
    shot(page, "03-alert-queue")
    page.get_by_role("button", name="Clear").click()
    page.wait_for_url(re.compile(r"/ui/alerts$"))

    # accounts by risk, then the riskiest account
    page.get_by_role("link", name="Accounts").click()
    wait_ready(page)
    assert page.locator("#acct-rows tr").count() > 0
    first = page.locator("#acct-rows tr th a").first
    account = first.inner_text()
    first.click()
    page.wait_for_url(re.compile(r"/ui/accounts/"))
    wait_ready(page)
    assert page.locator("#acct-id").inner_text() == account
    assert page.locator("#acct-risk-chart svg").count() == 1
    assert page.locator("#acct-features figure").count() >= 6
    assert page.locator("#acct-why li").count() >= 1
    shot(page, "04-account")

    # clusters list and one cluster
    client = ui_populated.client()
    clusters = [c.decode() for c in client.hkeys(ui_populated.scorer.keys.clusters)]
    client.close()
    page.get_by_role("link", name="Clusters").click()
    wait_ready(page)
    if clusters:
        assert page.locator("#cl-rows tr").count() == len(clusters)
        page.locator("#cl-rows tr th a").first.click()
        page.wait_for_url(re.compile(r"/ui/clusters/c-"))
        wait_ready(page)
        n = page.locator("#cl-members tbody tr").count()
        assert n >= 2
        assert page.locator("#cl-graph svg a.node-link").count() == min(n, 150)
        assert page.locator("#cl-graph svg line.edge").count() >= 1
        assert "requests" in page.locator("#cl-volume").inner_text()
        assert page.locator("#cl-links tbody tr").count() >= 1
        # keyboard: a graph node is focusable and named
        page.locator("#cl-graph svg a.node-link").first.focus()
        shot(page, "05-cluster", full=False)
        page.locator("#cl-graph").screenshot(path=str(ARTIFACTS / "05b-cluster-graph.png"))


def test_triage_bulk_false_positive_and_block(page: Any, ui_populated: Populated) -> None:
    picked = firing_alerts(ui_populated, 4)
    assert len(picked) == 4, "the sample state should have at least four firing alerts"
    bulk, fp_alert, block_alert = picked[:2], picked[2], picked[3]

    # bulk acknowledge two alerts from the queue (filtered to each account in turn is
    # slower; the risk-sorted first page holds them)
    sign_in(page, start="/ui/alerts?status=firing")
    for a in bulk:
        page.locator(f"#alert-{a['fingerprint']} input[type=checkbox]").check()
    assert page.locator("#bulk-count").inner_text() == "2 selected"
    page.get_by_label("Note for the selected alerts").fill("bulk triage from the browser test")
    page.get_by_role("button", name="Acknowledge selected").click()
    expect(page.locator("#toast")).to_contain_text("2 acknowledged")
    # the status filter is firing: the two acknowledged alerts left the page
    for a in bulk:
        page.wait_for_selector(f"#alert-{a['fingerprint']}", state="detached")
    page.get_by_label("Status").select_option("acknowledged")
    page.wait_for_url(re.compile(r"status=acknowledged"))
    for a in bulk:
        row = page.locator(f"#alert-{a['fingerprint']}")
        assert row.locator(".status-cell").inner_text() == "Acknowledged"
    shot(page, "06-queue-after-bulk-ack")

    # mark a false positive with a note on the account page
    page.goto(f"/ui/accounts/{fp_alert['account_id']}")
    wait_ready(page)
    assert page.locator("#acct-alert-status").inner_text() == "firing"
    page.get_by_label("Note (recorded in the trail)").fill("known research lab, ticket T-123")
    page.get_by_role("button", name="Mark false positive").click()
    expect(page.locator("#triage-status")).to_contain_text("Mark false positive: done")
    assert page.locator("#acct-alert-status").inner_text() == "false positive"
    trail = page.locator("#trail-list")
    assert "marked it a false positive" in trail.inner_text()
    assert "known research lab, ticket T-123" in trail.inner_text()
    assert "test-analyst" in trail.inner_text()
    assert page.get_by_role("button", name="Mark false positive").is_disabled()
    shot(page, "07-account-false-positive")

    # confirm a block with a note on another account
    page.goto(f"/ui/accounts/{block_alert['account_id']}")
    wait_ready(page)
    page.get_by_label("Note (recorded in the trail)").fill("harvesting confirmed by hand")
    page.get_by_role("button", name="Confirm block").click()
    page.wait_for_selector("#acct-decision")
    assert "Block confirmed" in page.locator("#acct-decision").inner_text()
    assert "harvesting confirmed by hand" in page.locator("#acct-decision").inner_text()
    assert "confirmed the block" in page.locator("#trail-list").inner_text()
    assert page.get_by_role("button", name="Confirm block").is_disabled()
    shot(page, "08-account-block-confirmed")

    # what the browser did is what the API holds
    client = ui_populated.client()
    keys = ui_populated.scorer.keys
    assert client.hget(keys.alert(bulk[0]["fingerprint"]), "status") == b"acknowledged"
    assert client.hget(keys.alert(fp_alert["fingerprint"]), "status") == b"false_positive"
    assert client.hget(keys.decision(block_alert["account_id"]), "action") == b"block"
    assert client.hget(keys.decision(block_alert["account_id"]), "by") == b"test-analyst"
    client.close()


def test_live_updates_by_server_sent_events(page: Any, ui_populated: Populated) -> None:
    client = ui_populated.client()
    keys = ui_populated.scorer.keys
    target = firing_alerts(ui_populated, 1)[0]

    sign_in(page, start="/ui/alerts?status=firing")
    page.wait_for_selector("body[data-live='on']")
    row = page.locator(f"#alert-{target['fingerprint']}")
    assert row.locator(".status-cell").inner_text() == "Firing"

    # another analyst acknowledges it through the API: the row changes in place
    alert_store.transition(
        client,
        keys,
        target["fingerprint"],
        "acknowledge",
        "someone-else",
        "seen on another screen",
        ttl=3600,
        maxlen=1000,
    )
    page.wait_for_function(
        "fp => document.querySelector('#alert-' + fp + ' .status-cell')"
        "?.textContent === 'Acknowledged'",
        arg=target["fingerprint"],
    )
    expect(page.locator("#announcer")).to_contain_text("Acknowledged")

    # a new alert fires (a lifecycle entry on the alerts stream): the banner offers it
    client.xadd(
        keys.alerts,
        {
            "fingerprint": "0123456789abcdef",
            "status": "firing",
            "account_id": "live-test-account",
            "severity": "critical",
            "action": "block",
            "risk": "0.97",
        },
    )
    page.wait_for_selector("#live-banner:not([hidden])")
    assert "1 new alert" in page.locator("#live-banner-text").inner_text()
    expect(page.locator("#announcer")).to_contain_text("live-test-account")
    shot(page, "09-live-update", full=False)

    # the overview refreshes itself on the next transition
    page.get_by_role("link", name="Overview").click()
    wait_ready(page)
    page.wait_for_selector("body[data-live='on']")
    loads_before = int(page.locator("body").get_attribute("data-overview-loads") or "0")
    count_before = int(page.locator("body").get_attribute("data-live-events") or "0")
    other = firing_alerts(ui_populated, 1)[0]
    alert_store.transition(
        client, keys, other["fingerprint"], "resolve", "someone-else", None, ttl=3600, maxlen=1000
    )
    page.wait_for_function(
        "n => Number(document.body.dataset.liveEvents || 0) > n", arg=count_before
    )
    # a refresh counter, not the "Updated hh:mm:ss" text: two loads can fall in one second
    page.wait_for_function(
        "n => Number(document.body.dataset.overviewLoads || 0) > n", arg=loads_before
    )
    client.close()


def test_sign_out(page: Any) -> None:
    sign_in(page)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/ui/login$"))
    assert not [c for c in page.context.cookies() if c["name"] == "dw_session"]
    page.goto("/ui/alerts")
    page.wait_for_url(re.compile(r"/ui/login\?next="))
    # the JSON APIs refuse the browser too
    status = page.evaluate("fetch('/v1/alerts').then(r => r.status)")
    assert status == 401
