"""The ``distillwatch`` command line.

Each subcommand lives in its own module under :mod:`service.cli` and is imported
lazily, so ``distillwatch --help`` stays fast and one broken extra never breaks the rest.
"""

from __future__ import annotations

import importlib

import click

# subcommand name -> "module:attribute"
_COMMANDS: dict[str, str] = {
    "inspect": "service.cli.inspect_cmd:inspect_cmd",
    "simulate": "service.cli.simulate_cmd:simulate_cmd",
    "audit": "service.cli.audit_cmd:audit_cmd",
    "rules": "service.cli.rules_cmd:rules_cmd",
    "train": "service.cli.train_cmd:train_cmd",
    "ingest": "service.cli.ingest_cmd:ingest_cmd",
    "worker": "service.cli.worker_cmd:worker_cmd",
    "serve": "service.cli.serve_cmd:serve_cmd",
    "sinks": "service.cli.sinks_cmd:sinks_cmd",
    "scorer": "service.cli.scorer_cmd:scorer_cmd",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        return getattr(module, attr)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="distillwatch")
def main() -> None:
    """distillwatch: detect distillation abuse on LLM APIs."""
