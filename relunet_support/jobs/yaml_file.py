"""YAML study and sweep files read safely: PyYAML's safe loader, a key given twice refused, every failure one
line naming the file (and the line)."""

from __future__ import annotations

import functools
from collections.abc import Hashable
from pathlib import Path

from relunet_support.errors import ConfigError


def read_yaml(path, what: str, error: type[ConfigError] = ConfigError):
    """The YAML document in ``path`` (a study or sweep file), parsed but not yet validated; an unreadable
    file or invalid YAML raises ``error`` naming the file (``what``: e.g. 'study file')."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as failure:
        raise error(f"{what} {str(path)!r} cannot be read: {failure.strerror}") from None
    except UnicodeDecodeError:
        raise error(f"{what} {str(path)!r} is not UTF-8 text (is it the YAML file you meant?)") from None
    try:
        values = yaml.load(text, Loader=_unique_key_loader())
    except _DuplicateKey as duplicate:
        raise error(f"{what} {str(path)!r}: {duplicate}") from None
    except yaml.YAMLError as failure:  # said on one line: where, and what is wrong there
        mark = getattr(failure, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(
            f"{what} {str(path)!r} is not valid YAML{where}: {getattr(failure, 'problem', None) or failure}"
        ) from None
    return values if values is not None else {}


class _DuplicateKey(ConfigError):
    """A YAML mapping that gives one key twice."""


@functools.cache
def _unique_key_loader():
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (PyYAML keeps the last)."""
    import yaml

    def source(node) -> str:  # the YAML text of a node, on one line
        text = " ".join(node.start_mark.buffer[node.start_mark.index : node.end_mark.index].split())
        return f"line {node.start_mark.line + 1}: {text if len(text) <= 40 else text[:39] + '…'}"

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen: dict = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # '<<: *base' merges keys that may be overridden
                    continue
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, Hashable) and key in seen:
                    raise _DuplicateKey(
                        f"{key!r} is given twice in one mapping ({source(seen[key])}; {source(value_node)}): "
                        "YAML allows each key once"
                    )
                seen[key] = value_node
            return super().construct_mapping(node, deep)

    return UniqueKeyLoader
