"""YAML study and sweep files read safely: PyYAML's safe loader, a key given twice refused, every failure one
line naming the file (and the line)."""

from __future__ import annotations

import functools
import re
from collections.abc import Hashable
from pathlib import Path

from relunet_support.errors import ConfigError
from relunet_support.files import NotARegularFile, read_bytes

MAX_BYTES = 1 << 20  # a study or sweep file is a few lines; a larger one is not what was meant


def read_yaml(path, what: str, error: type[ConfigError] = ConfigError):
    """The YAML document in ``path`` (a study or sweep file), parsed but not yet validated; a file that is not a
    regular file of at most ``MAX_BYTES``, or invalid YAML, raises ``error`` naming the file (``what``: e.g.
    'study file')."""
    import yaml

    path = Path(path)
    try:
        text = read_bytes(path, MAX_BYTES).decode()
    except NotARegularFile as failure:  # a FIFO, /dev/zero, a folder: said at once, never read
        raise error(f"{what} {str(path)!r} {failure}") from None
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

    # numbers as YAML 1.2 reads them: PyYAML (YAML 1.1) also reads 1:30 as 90 (base 60), 010 as 8 and 1_0 as 10,
    # which a study file never means; such a value stays text, which TrainConfig then refuses by name
    integer, real = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
    UniqueKeyLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in (integer, real)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    UniqueKeyLoader.add_implicit_resolver(integer, re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789"))
    UniqueKeyLoader.add_implicit_resolver(
        real,
        re.compile(
            r"^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+0123456789."),
    )
    return UniqueKeyLoader
