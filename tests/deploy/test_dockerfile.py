"""Structural checks of deploy/Dockerfile and .dockerignore.

CI has no Docker daemon, so the image is never built here: these tests read the
Dockerfile's instructions and check what a build would rely on (base image, non-root user,
entry point, health check, every COPY source present and let in by .dockerignore).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: upper-cased keyword and its raw argument text."""

    keyword: str
    args: str


def parse_dockerfile(path: Path) -> list[list[Instruction]]:
    """Instructions of ``path`` grouped by build stage (one list per ``FROM``).

    Parameters
    ----------
    path : pathlib.Path
        The Dockerfile.

    Returns
    -------
    list of list of Instruction
        Stage by stage; each stage starts with its ``FROM``.
    """
    logical: list[str] = []
    buf = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    assert not buf, "Dockerfile ends inside a continued line"
    stages: list[list[Instruction]] = []
    for text in logical:
        keyword, _, args = text.partition(" ")
        ins = Instruction(keyword.upper(), args.strip())
        if ins.keyword == "FROM":
            stages.append([])
        assert stages, f"instruction before FROM: {text}"
        stages[-1].append(ins)
    return stages


def env_of(stage: list[Instruction]) -> dict[str, str]:
    """``ENV`` assignments of one stage (``KEY=value`` form)."""
    env: dict[str, str] = {}
    for ins in stage:
        if ins.keyword == "ENV":
            for key, value in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)", ins.args):
                env[key] = value.strip("\"'")
    return env


@pytest.fixture(scope="module")
def stages() -> list[list[Instruction]]:
    return parse_dockerfile(DOCKERFILE)


def _all(stage: list[Instruction], keyword: str) -> list[str]:
    return [i.args for i in stage if i.keyword == keyword]


def test_multi_stage_on_python_slim(stages: list[list[Instruction]]) -> None:
    assert len(stages) >= 2, "expected a build stage and a runtime stage"
    for stage in stages:
        image = stage[0].args.split()[0]
        assert image == "python:3.11-slim", image


def test_runtime_runs_as_non_root_user_10001(stages: list[list[Instruction]]) -> None:
    runtime = stages[-1]
    users = _all(runtime, "USER")
    assert users, "runtime stage has no USER: the image would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"0", "root"}
    assert user in {"10001", "distillwatch"}
    # the account really is created with that uid
    run_text = " ".join(_all(runtime, "RUN"))
    assert re.search(r"useradd\b[^&]*--uid 10001", run_text), run_text
    # and USER comes after the last RUN (nothing runs as root after the switch)
    keywords = [i.keyword for i in runtime]
    assert keywords.index("USER") > max(n for n, k in enumerate(keywords) if k == "RUN")


def test_runtime_layout_entrypoint_and_ports(stages: list[list[Instruction]]) -> None:
    runtime = stages[-1]
    assert _all(runtime, "WORKDIR")[-1] == "/app"
    exposed = {p.split("/")[0] for args in _all(runtime, "EXPOSE") for p in args.split()}
    assert {"8000", "9100"} <= exposed
    assert json.loads(_all(runtime, "ENTRYPOINT")[-1]) == ["distillwatch"]
    assert json.loads(_all(runtime, "CMD")[-1]) == ["serve"]


def test_runtime_environment_defaults(stages: list[list[Instruction]]) -> None:
    env = env_of(stages[-1])
    expected = {
        "DISTILLWATCH_HOST": "0.0.0.0",
        "DISTILLWATCH_METRICS_HOST": "0.0.0.0",
        "DISTILLWATCH_METRICS_PORT": "9100",
        "DISTILLWATCH_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }
    for key, value in expected.items():
        assert env.get(key) == value, f"{key}={env.get(key)!r}, want {value!r}"


def test_healthcheck_uses_python_not_curl(stages: list[list[Instruction]]) -> None:
    checks = _all(stages[-1], "HEALTHCHECK")
    assert len(checks) == 1
    check = checks[0]
    assert "curl" not in check and "wget" not in check  # neither is in the slim image
    cmd = json.loads(check[check.index("CMD") + 3 :].strip())
    assert cmd[:2] == ["python", "-c"]
    assert "urllib.request" in cmd[2] and "/healthz" in cmd[2]
    compile(cmd[2], "<healthcheck>", "exec")  # the probe is valid Python


def test_runtime_installs_the_wheel_built_in_the_build_stage(
    stages: list[list[Instruction]],
) -> None:
    build, runtime = stages[0], stages[-1]
    assert any(re.search(r"pip wheel\b.*--wheel-dir /wheels \.$", r) for r in _all(build, "RUN"))
    assert any(a.startswith("--from=build /wheels") for a in _all(runtime, "COPY"))
    assert any(
        "pip install --no-index --find-links=/wheels distillwatch" in r
        for r in _all(runtime, "RUN")
    )


def _copy_sources(stage: list[Instruction]) -> list[str]:
    sources: list[str] = []
    for args in _all(stage, "COPY"):
        parts = [p for p in args.split() if not p.startswith("--")]
        if any(p.startswith("--from") for p in args.split()):
            continue
        sources.extend(parts[:-1])
    return sources


def test_build_stage_copies_everything_the_wheel_needs(stages: list[list[Instruction]]) -> None:
    sources = set(_copy_sources(stages[0]))
    for src in sources:
        assert (ROOT / src).exists(), f"COPY source {src} missing from the repository"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # every package setuptools looks for, and the files pyproject.toml names
    for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert pattern.rstrip("*") in sources, f"package {pattern} not copied"
    assert {"pyproject.toml", project["project"]["readme"]} <= sources
    # detector/rules/builtin is a symlink: its target must be copied too, or the wheel
    # ships no rules
    builtin = ROOT / "detector" / "rules" / "builtin"
    if builtin.is_symlink():
        target = (builtin.parent / builtin.readlink()).resolve().relative_to(ROOT)
        assert str(target) in sources, f"symlink target {target} not copied"


def _dockerignore_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + "$")


def dockerignored(path: str, lines: list[str]) -> bool:
    """Whether Docker leaves ``path`` out of the build context under ``lines``.

    Parameters
    ----------
    path : str
        Path relative to the context root, ``/``-separated.
    lines : list of str
        The ``.dockerignore`` lines; the last pattern matching the path or one of its
        parent directories decides (``!`` re-includes).

    Returns
    -------
    bool
    """
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        rx = _dockerignore_regex(line.lstrip("!").strip("/"))
        if any(rx.match(p) for p in prefixes):
            ignored = not negate
    return ignored


def test_dockerignore_semantics_helper() -> None:
    lines = ["*", "!detector", "**/__pycache__"]
    assert dockerignored(".venv/bin/python", lines)
    assert not dockerignored("detector/rules/engine.py", lines)
    assert dockerignored("detector/__pycache__/x.pyc", lines)


def test_dockerignore_lets_in_every_copy_source_and_keeps_out_the_rest(
    stages: list[list[Instruction]],
) -> None:
    lines = DOCKERIGNORE.read_text().splitlines()
    for src in _copy_sources(stages[0]):
        assert not dockerignored(src, lines), f"{src} is excluded by .dockerignore"
        base = ROOT / src
        if base.is_dir():
            for f in list(base.rglob("*.py"))[:50] + list(base.rglob("*.yml"))[:50]:
                if "__pycache__" in f.parts:
                    continue
                rel = f.relative_to(ROOT).as_posix()
                assert not dockerignored(rel, lines), f"{rel} is excluded by .dockerignore"
    for private in (".venv/bin/python", ".git/config", "tests/conftest.py", "demo_out/x"):
        assert dockerignored(private, lines), f"{private} would be sent to the build"
