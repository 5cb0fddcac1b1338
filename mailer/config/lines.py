"""Where each key of a TOML file is written, because tomllib keeps no positions.

Problems must name the real line, so this scanner walks the same text that tomllib already
accepted and records the line of every table header, key and array item, under the same
path tomllib's result uses: ``("rules", 0, "match", "subject", 1)``. Since the text is known
to be valid TOML the scanner can be lenient; it still follows strings, multi-line arrays,
inline tables, dotted keys and ``[[array]]`` headers exactly.
"""

from __future__ import annotations

from collections.abc import Mapping

KeyPath = tuple[str | int, ...]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


def locate_keys(text: str) -> dict[KeyPath, int]:
    """Map every key path in ``text`` to the 1-based line where it is written."""
    return _Scanner(text).run()


def line_of(lines: Mapping[KeyPath, int], path: KeyPath) -> int | None:
    """The line of ``path``, else of its nearest written ancestor (e.g. an inline table)."""
    for end in range(len(path), 0, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return None


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.found: dict[KeyPath, int] = {}
        self.arrays: dict[KeyPath, int] = {}  # array-of-tables path -> index of its last item

    def run(self) -> dict[KeyPath, int]:
        table: KeyPath = ()
        while True:
            self._skip(newlines=True)
            if self.pos >= len(self.text):
                return self.found
            if self.text.startswith("[[", self.pos):
                self.pos += 2
                path = self._resolve(self._key())
                index = self.arrays.get(path, -1) + 1
                self.arrays[path] = index
                self._record(path)
                table = (*path, index)
                self.found[table] = self.line
                self._to_line_end()
            elif self._peek() == "[":
                self.pos += 1
                table = self._resolve(self._key())
                self._record(table)
                self._to_line_end()
            else:
                start = self.pos
                self._pair(table)
                if self.pos == start:  # not TOML after all: never loop forever
                    self._to_line_end()
                    self.pos += 1

    def _resolve(self, keys: list[str]) -> KeyPath:
        """Turn header keys into a concrete path: ``rules.match`` -> ``rules, 3, match``."""
        path: KeyPath = ()
        for i, key in enumerate(keys):
            path = (*path, key)
            if i < len(keys) - 1 and path in self.arrays:
                path = (*path, self.arrays[path])
        return path

    def _record(self, path: KeyPath) -> None:
        for end in range(1, len(path) + 1):
            self.found.setdefault(path[:end], self.line)

    def _pair(self, table: KeyPath) -> None:
        path = (*table, *self._key())
        self._record(path)
        self._skip()
        if self._peek() == "=":
            self.pos += 1
        self._skip()
        self._value(path)

    def _value(self, path: KeyPath) -> None:
        char = self._peek()
        if not char:
            return
        if self.text.startswith('"""', self.pos) or self.text.startswith("'''", self.pos):
            quote = self.text[self.pos : self.pos + 3]
            self._advance(3)
            end = self._multiline_end(quote)
            while self.text.startswith(quote[0], end + 3):  # up to two quotes may end it
                end += 1
            self._advance(end + 3 - self.pos)
        elif char in "\"'":
            self._string()
        elif char == "[":
            self.pos += 1
            index = 0
            while True:
                self._skip(newlines=True)
                if self._peek() in ("]", ""):
                    self.pos += 1
                    return
                self.found.setdefault((*path, index), self.line)
                self._value((*path, index))
                index += 1
                self._skip(newlines=True)
                if self._peek() == ",":
                    self.pos += 1
        elif char == "{":
            self.pos += 1
            while True:
                self._skip(newlines=True)
                if self._peek() in ("}", ""):
                    self.pos += 1
                    return
                self._pair(path)
                self._skip(newlines=True)
                if self._peek() == ",":
                    self.pos += 1
        else:
            while self._peek() not in ("", ",", "]", "}", "#", "\n"):
                self.pos += 1

    def _multiline_end(self, quote: str) -> int:
        """Index of the closing ``quote``, skipping backslash-escaped quotes in basic strings."""
        end = self.pos
        while True:
            end = self.text.find(quote, end)
            if end < 0:
                return len(self.text)
            run = end
            while run > self.pos and self.text[run - 1] == "\\":
                run -= 1
            if quote[0] == "'" or (end - run) % 2 == 0:
                return end
            end += 1

    def _key(self) -> list[str]:
        keys: list[str] = []
        while True:
            self._skip()
            if self._peek() in "\"'" and self._peek():
                keys.append(self._string())
            else:
                start = self.pos
                while self._peek() in _BARE and self._peek():
                    self.pos += 1
                keys.append(self.text[start : self.pos])
            self._skip()
            if self._peek() != ".":
                return keys
            self.pos += 1

    def _string(self) -> str:
        """Read a one-line basic or literal string and return its value."""
        quote = self.text[self.pos]
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text) and self.text[self.pos] not in (quote, "\n"):
            char = self.text[self.pos]
            if char == "\\" and quote == '"':
                code = self.text[self.pos + 1 : self.pos + 2]
                if code in ("u", "U"):
                    width = 4 if code == "u" else 8
                    digits = self.text[self.pos + 2 : self.pos + 2 + width]
                    out.append(chr(int(digits, 16)))
                    self.pos += 2 + width
                    continue
                out.append(_ESCAPES.get(code, code))
                self.pos += 2
                continue
            out.append(char)
            self.pos += 1
        self.pos += 1
        return "".join(out)

    def _skip(self, newlines: bool = False) -> None:
        """Skip blanks and comments, and line ends too when ``newlines``."""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in " \t\r":
                self.pos += 1
            elif char == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            elif char == "\n" and newlines:
                self.pos += 1
                self.line += 1
            else:
                return

    def _to_line_end(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end

    def _advance(self, count: int) -> None:
        self.line += self.text.count("\n", self.pos, self.pos + count)
        self.pos += count

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""
