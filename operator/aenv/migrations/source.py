"""A ConfigMap's data -> ordered migrations with checksums. Pure.

Keys are `<version>_<name>.up.sql` and `<version>_<name>.down.sql`: the version is a number (its digits order
migrations; `0002` and `2` are the same version), the name says what it does. A down is optional: without one a
migration cannot be reverted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

KEY = re.compile(r"^(?P<version>[0-9]{1,18})_(?P<name>[A-Za-z0-9][A-Za-z0-9_-]{0,99})\.(?P<direction>up|down)\.sql$")


class SourceError(ValueError):
    """The migrations' source is malformed; the message names the key."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: str
    down: str | None = None
    stem: str = ""  # `<version>_<name>` as the key spells it: messages name what the user wrote

    @property
    def label(self) -> str:
        return self.stem or f"{self.version}_{self.name}"

    @property
    def checksum(self) -> str:
        """What ran: the up SQL. Line endings are normalised, so a ConfigMap written from Windows matches."""
        return hashlib.sha256(self.up.replace("\r\n", "\n").encode()).hexdigest()


def parse(data: Mapping[str, str], where: str = "the ConfigMap") -> list[Migration]:
    """The migrations in `data`, by version; SourceError names the first wrong key."""
    ups: dict[int, tuple[str, str, str]] = {}  # version -> (key, name, sql)
    downs: dict[int, tuple[str, str, str]] = {}
    for key in sorted(data):
        m = KEY.match(key)
        if m is None:
            raise SourceError(f"{where}: key {key!r} is not <version>_<name>.up.sql or <version>_<name>.down.sql "
                              "(a version of digits, a name of letters, digits, '_' and '-')")
        version, name = int(m["version"]), m["name"]
        side = ups if m["direction"] == "up" else downs
        if version in side:
            raise SourceError(f"{where}: keys {side[version][0]!r} and {key!r} have the same version {version}")
        if not data[key].strip():
            raise SourceError(f"{where}: key {key!r} is empty")
        side[version] = (key, name, data[key])
    for version, (key, name, _) in downs.items():
        if version not in ups:
            raise SourceError(f"{where}: key {key!r} has no {version}_{name}.up.sql")
        if ups[version][1] != name:
            raise SourceError(f"{where}: keys {ups[version][0]!r} and {key!r} have the same version and "
                              "different names")
    return [Migration(v, name, sql, downs[v][2] if v in downs else None, key.removesuffix(".up.sql"))
            for v, (key, name, sql) in sorted(ups.items())]
