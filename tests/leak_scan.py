"""Finding credential values in text without printing them: each value is looked for as it is, URL-quoted, and in
base64 (standard and URL-safe) at each of the three alignments it can have inside a longer encoded string.

Values shorter than MIN_LENGTH are not looked for: too short to tell a leak from a chance match. Pure."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote

MIN_LENGTH = 8
PROBE = 8  # how many leading characters of a form the index is keyed by
# The characters of every form: generated values are letters, digits and - _ (and ElastiCache's !&#$^<>);
# base64 adds + / =, URL quoting %.
_RUN = re.compile(r"[A-Za-z0-9_\-+/=%!&#$^<>.~]{" + str(PROBE) + ",}")


def base64_forms(value: str) -> set[str]:
    """What `value` looks like inside any base64 text: for each alignment, the characters encoding only it."""
    raw, out = value.encode(), set()
    for pad in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * pad + raw).decode().rstrip("=")
            start = (pad * 4 + 2) // 3  # characters that mix in the padding bytes
            end = len(encoded) - (1 if (pad + len(raw)) % 3 else 0)  # a last character that mixes in what follows
            if end - start >= MIN_LENGTH:
                out.add(encoded[start:end])
    return out


def forms(value: str) -> set[str]:
    if len(value) < MIN_LENGTH:
        return set()
    return {value, quote(value, safe=""), *base64_forms(value)}


class Index:
    """The forms of many values, keyed by their first PROBE characters, so a text is read once for all of them."""

    def __init__(self, values: Iterable[tuple[str, str]] = ()) -> None:
        """`values`: (value, label), the label naming where the value came from (never the value)."""
        self._by_probe: dict[str, list[tuple[str, str]]] = {}
        self.count = 0
        for value, label in values:
            self.add(value, label)

    def add(self, value: str, label: str) -> None:
        found = forms(value)
        self.count += bool(found)
        for form in found:
            self._by_probe.setdefault(form[:PROBE], []).append((form, label))

    def find(self, text: str) -> Iterator[str]:
        """The labels of the values `text` holds in any form (a label once per text)."""
        seen: set[str] = set()
        probes = self._by_probe
        for run in _RUN.finditer(text):
            token = run.group()
            for i in range(len(token) - PROBE + 1):
                candidates = probes.get(token[i:i + PROBE])
                if not candidates:
                    continue
                for form, label in candidates:
                    if label not in seen and token.startswith(form, i):
                        seen.add(label)
                        yield label
