"""The one YAML reader for files users hand us (run configs, device profiles): safe, strict and bounded.

- a ``SafeLoader`` (no Python objects), duplicate keys rejected, ``1e-3`` read as a float (YAML 1.1 wants
  ``1.0e-3``);
- anchors and aliases are allowed, but the document they expand to is bounded: an alias bomb (``&a [*b, *b, ...]``
  nested a few levels) is refused from the parsed node graph, before anything is built from it;
- files larger than ``MAX_BYTES`` are refused unread;
- every problem is one ``FqssError`` line naming the file, never an echo of the input.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from fqss_edge.errors import FqssError

__all__ = ["MAX_BYTES", "MAX_NODES", "load_yaml_file", "load_yaml_text", "short_repr"]

MAX_BYTES = 1 << 20  # a config or device profile is a few hundred bytes; 1 MiB is generous
MAX_NODES = 100_000  # scalars + collections after alias expansion (a run config has about 60)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys, reads ``1e-3`` as a float and bounds alias expansion."""

    def construct_document(self, node: yaml.Node) -> Any:
        _check_expanded_size(node)
        return super().construct_document(node)


def _check_expanded_size(root: yaml.Node) -> None:
    """Refuse a node graph whose tree (aliases expanded) has more than ``MAX_NODES`` nodes.

    Sizes are memoised per node, so this costs one visit per distinct node however large the expansion is."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in on_path:  # a recursive alias (&a [*a]) expands forever
            raise yaml.constructor.ConstructorError(None, None, "recursive alias", node.start_mark)
        on_path.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        on_path.discard(key)
        if total > MAX_NODES:
            raise yaml.constructor.ConstructorError(
                None, None, f"aliases expand to more than {MAX_NODES} values (an alias bomb?)", node.start_mark)
        sizes[key] = total
        return total

    size(root)


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:  # an unhashable key (a list or mapping used as a key)
            raise yaml.constructor.ConstructorError(None, None, "a key must be a plain value, not a list or mapping",
                                                    key_node.start_mark) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {short_repr(key)}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr`` cut to ``limit`` characters: error messages never echo a large input."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


def _yaml_error(source: str, e: yaml.YAMLError) -> FqssError:
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or (str(e).splitlines() or [type(e).__name__])[0]
    problem = " ".join(str(problem).split())[:200]
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return FqssError(f"{source}: invalid YAML: {problem}{where}")


def load_yaml_text(text: str, source: str) -> Any:
    """Parse one YAML document (``source`` names it in errors)."""
    if len(text) > MAX_BYTES:
        raise FqssError(f"{source}: {len(text)} characters; a YAML file here is at most {MAX_BYTES} bytes")
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        raise _yaml_error(source, e) from None
    except RecursionError:
        raise FqssError(f"{source}: invalid YAML: nested too deeply") from None


def load_yaml_file(path: str | Path, what: str = "YAML file") -> Any:
    """Read and parse a YAML file; ``FqssError`` (one line naming the file) if missing, too large or invalid."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise IsADirectoryError
        if size > MAX_BYTES:
            raise FqssError(f"{p}: {size} bytes; a {what} is at most {MAX_BYTES} bytes")
        with p.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)  # /proc-like files report size 0
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise FqssError(f"{p}: {what} not found") from None
    except IsADirectoryError:
        raise FqssError(f"{p}: is a folder, not a {what}") from None
    except UnicodeDecodeError:
        raise FqssError(f"{p}: not a text file (not UTF-8)") from None
    except OSError as e:
        raise FqssError(f"{p}: cannot read {what} ({e.strerror or type(e).__name__})") from None
    return load_yaml_text(text, str(p))
