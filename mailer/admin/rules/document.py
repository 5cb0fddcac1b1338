"""The ``[[rules]]`` of a TOML file as movable pieces, so an edit changes only what it must.

tomlkit keeps a comment above ``[[rules]]`` in the trailing trivia of whatever precedes it,
so moving its tables around would leave comments behind. Instead each rule is cut out of
the text as written: its leading comment block (comment lines right above its header), the
rule itself, and comments right under it. Blank lines (and comments standing alone between
blank lines, like a section heading) are gaps that stay where they are. The line of each
header comes from ``config_lines`` (the positions tomllib's problems use); tomlkit says
exactly where each rule's trailing trivia starts, whatever multi-line strings hold.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Comment, Item, Key, Table, Whitespace

from mailer.config.lines import KeyPath, locate_keys

_LINE = re.compile(r"[^\n]*\n|[^\n]+$")  # splitlines() would also split on \x0c, \u2028 …


class Unsupported(Exception):
    """The file is valid TOML written in a shape these commands cannot edit safely."""


@dataclass
class RulesText:
    """``head + rule0 + gap0 + rule1 + gap1 + … + tail``: ``gaps[i]`` follows ``rules[i]``."""

    head: str
    rules: list[str]
    gaps: list[str]
    tail: str
    data: list[dict[str, Any]]  # what tomllib read for each rule, in the same order
    newline: str = "\n"
    final_newline: bool = True
    match_indent: str = "  "
    match_blank_line: bool = False
    gap: str = "\n"  # the blank lines this file usually leaves between two rules
    keys: dict[KeyPath, int] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [str(rule.get("name", f"#{i + 1}")) for i, rule in enumerate(self.data)]

    def render(self) -> str:
        body = "".join(rule + gap for rule, gap in zip(self.rules, self.gaps, strict=True))
        text = self.head + body + self.tail
        if not self.final_newline and text.endswith(self.newline):
            text = text[: -len(self.newline)]
        return text

    def remove(self, index: int) -> tuple[str, dict[str, Any]]:
        """Take rule ``index`` out, with its comments; the gaps around it become one."""
        rule, data = self.rules.pop(index), self.data.pop(index)
        last = index == len(self.rules)
        if index == 0:
            gap = self.gaps.pop(0)
            if not _blank(gap):  # a heading for what follows: it stays
                self.head += _drop_blank_lines(gap) if _ends_blank(self.head) else gap
        else:
            before, after = self.gaps[index - 1], self.gaps.pop(index)
            if last:  # the gap before the file's end (or the next table) stays
                merged = after if _blank(before) else before if _blank(after) else before + after
            else:
                merged = before if _blank(after) else after if _blank(before) else before + after
            self.gaps[index - 1] = merged
        return rule, data

    def insert(self, index: int, rule: str, data: dict[str, Any]) -> None:
        """Put ``rule`` (text ending with a newline) at ``index``, the usual gap after it."""
        if not self.rules:
            if not _ends_blank(self.head):
                self.head += self.newline
            self.rules, self.gaps, self.data = [rule], [""], [data]
            return
        self.rules.insert(index, rule)
        self.data.insert(index, data)
        if index == len(self.rules) - 1:  # at the end: between the old last one and it
            self.gaps.insert(index - 1, self.gap)
        else:
            self.gaps.insert(index, self.gap)

    def line_of(self, index: int) -> int:
        """The line of rule ``index``'s ``[[rules]]`` in the text as read."""
        return self.keys[("rules", index)]


def parse(text: str) -> RulesText:
    """Cut ``text`` (valid TOML) into the pieces of ``RulesText``."""
    newline = "\r\n" if "\r\n" in text else "\n"
    final_newline = text.endswith("\n") or not text
    if text and not final_newline:
        text += newline
    raw = tomllib.loads(text).get("rules", [])
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise Unsupported("'rules' is not written as [[rules]] tables")
    keys = locate_keys(text)
    starts = _line_starts(text)
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:  # stricter than tomllib in a few corners
        raise Unsupported(f"tomlkit cannot read it ({exc})") from None
    if not raw:
        return RulesText(text, [], [], "", [], newline, final_newline, keys=keys)
    aot = _the_rules(doc.body, len(raw))
    headers = [keys[("rules", i)] for i in range(len(raw))]
    _refuse_interleaved(keys, headers)
    following = [ln for path, ln in keys.items() if path[0] != "rules" and ln > headers[-1]]
    end = starts[min(following) - 1] if following else len(text)

    at = next(i for i, (key, _) in enumerate(doc.body) if key is not None and key.key == "rules")
    before = _trailing(doc.body[:at])
    cuts = [starts[line - 1] for line in headers] + [end]
    lead = _split(_check(text, cuts[0], before), True)[2]
    head = text[: cuts[0] - len(lead)]
    rules: list[str] = []
    gaps: list[str] = []
    for i, table in enumerate(aot.body):
        has_next = i + 1 < len(raw) or end < len(text)
        trivia = _check(text, cuts[i + 1], _trailing(table.value.body))
        attached, gap, next_lead = _split(trivia, has_next)
        rules.append(lead + text[cuts[i] : cuts[i + 1] - len(trivia)] + attached)
        gaps.append(gap)
        lead = next_lead
    between = [gap for gap in gaps[:-1] if _blank(gap)]
    indent, blank_line = _match_style(text, keys, len(raw))
    return RulesText(
        head, rules, gaps, lead + text[end:], list(raw), newline, final_newline,
        indent, blank_line, Counter(between).most_common(1)[0][0] if between else newline, keys,
    )  # fmt: skip


def _the_rules(body: list[tuple[Key | None, Item]], count: int) -> AoT:
    found = [item for key, item in body if key is not None and key.key == "rules"]
    if len(found) == 1 and not isinstance(found[0], AoT):
        raise Unsupported("'rules' is an inline array; write each rule as a [[rules]] table")
    if len(found) != 1 or not isinstance(found[0], AoT) or len(found[0].body) != count:
        raise Unsupported("the [[rules]] are not written together, one after the other")
    return found[0]


def _refuse_interleaved(keys: dict[KeyPath, int], headers: list[int]) -> None:
    """Another table between two [[rules]]: which rule its comments belong to is a guess."""
    between = sorted(ln for p, ln in keys.items() if p[0] != "rules" and headers[0] < ln)
    if between and between[0] < headers[-1]:
        raise Unsupported(
            f"line {between[0]} puts another table between two [[rules]]; move it above "
            "or below them, then try again"
        )


def _trailing(body: list[tuple[Key | None, Item]]) -> str:
    """The comments and blank lines that end ``body``, however deep its last table is."""
    found: list[str] = []
    for _, item in reversed(body):
        if isinstance(item, Comment | Whitespace):
            found.append(item.as_string())
            continue
        if isinstance(item, Table):
            found.append(_trailing(item.value.body))
        elif isinstance(item, AoT) and item.body:
            found.append(_trailing(item.body[-1].value.body))
        break
    return "".join(reversed(found))


def _check(text: str, cut: int, trivia: str) -> str:
    """``trivia`` as found right before ``cut``, whole lines, or the text is not understood."""
    if not text[:cut].endswith(trivia) or (trivia and not trivia.endswith("\n")):
        line = text.count("\n", 0, cut) + 1
        raise Unsupported(f"cannot tell where the comments above line {line} belong")
    return trivia


def _split(trivia: str, has_next: bool) -> tuple[str, str, str]:
    """Trailing trivia as (comments right under the rule, the gap, the next one's lead)."""
    lines = _LINE.findall(trivia)
    blank = [i for i, line in enumerate(lines) if not line.strip()]
    if not blank:
        return ("", "", trivia) if has_next else (trivia, "", "")
    first, last = blank[0], blank[-1] + 1
    if not has_next:
        last = len(lines)
    return "".join(lines[:first]), "".join(lines[first:last]), "".join(lines[last:])


def _match_style(text: str, keys: dict[KeyPath, int], count: int) -> tuple[str, bool]:
    """How this file writes ``[rules.match]``: its indent, and a blank line above or not."""
    lines = text.split("\n")
    for i in range(count):
        line = keys.get(("rules", i, "match"))
        if line is None or not lines[line - 1].lstrip().startswith("["):
            continue
        header = lines[line - 1]
        indent = header[: len(header) - len(header.lstrip())]
        return indent, line >= 2 and not lines[line - 2].strip()
    return "  ", False


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts += [m.end() for m in re.finditer("\n", text)]
    return starts


def _blank(gap: str) -> bool:
    return not gap.strip()


def _ends_blank(text: str) -> bool:
    """Empty, or its last line is blank: what follows needs no blank line of its own."""
    lines = _LINE.findall(text)
    return not lines or not lines[-1].strip()


def _drop_blank_lines(text: str) -> str:
    lines = _LINE.findall(text)
    while lines and not lines[0].strip():
        lines.pop(0)
    return "".join(lines)
