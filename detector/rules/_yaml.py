"""Strict YAML loading shared by rule and allowlist files.

``yaml.safe_load`` silently keeps the last of two equal mapping keys; a rule file with
two ``condition:`` blocks would then lose one without a word. This loader refuses it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["YamlError", "load_yaml"]


class YamlError(ValueError):
    """A file that is not valid YAML, holds several documents or repeats a key."""


class _StrictLoader(yaml.SafeLoader):
    """Safe loader that rejects duplicate mapping keys."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            line = key_node.start_mark.line + 1
            raise YamlError(f"line {line}: duplicate key {key!r}")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: Path) -> Any:
    """Parse one single-document YAML file.

    Parameters
    ----------
    path : pathlib.Path
        File to read (UTF-8).

    Returns
    -------
    Any
        The document (``None`` for an empty file).

    Raises
    ------
    YamlError
        Invalid YAML, more than one document, or a duplicate mapping key.
    """
    text = path.read_text(encoding="utf-8")
    try:
        docs = list(yaml.load_all(text, Loader=_StrictLoader))
    except YamlError:
        raise
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {exc}") from exc
    if len(docs) > 1:
        raise YamlError(f"{len(docs)} YAML documents; one per file")
    return docs[0] if docs else None
