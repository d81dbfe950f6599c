"""Text from elsewhere (the config, the runs' provenance, the sources' published tables) in markdown and
reStructuredText, escaped so that it shows as written: no tag, link, emphasis or table cell of its own.

This module is the one place each format is escaped. report.readme's Jinja environment passes every value of its
markdown templates through `markdown_text` (table cells through `markdown_cell`); a value that is markdown already,
written by this code, is a `Markdown` and goes through as is, text from elsewhere escaped into it by its `format` and
`join`. HTML is escaped by Jinja's autoescape (the tables' pages, which show a Markdown's `plain` text) and by
itables (runs.html). report.html's captions are reStructuredText that snakemake renders with config values inserted
as they are: the rules hand the captions their config text through `rst_text` instead.
"""

import re
from collections.abc import Iterable
from urllib.parse import quote


class Markdown(str):
    """Markdown written by this code: shown as markdown, not escaped. Anything `format`, `join` or `+` put into it
    is escaped first, unless it is a Markdown too.

    `plain` is the same text with what was put into it as it was, for a page that is not markdown (the tables' HTML
    shows it, escaped as HTML): the markup written here stays, as written.
    """

    plain: str

    def __new__(cls, markdown: str = "", plain: str | None = None) -> "Markdown":
        text = super().__new__(cls, markdown)
        text.plain = str(markdown) if plain is None else plain
        return text

    def format(self, *args, **kwargs) -> "Markdown":
        args, kwargs = [markdown_text(a) for a in args], {key: markdown_text(v) for key, v in kwargs.items()}
        return Markdown(
            super().format(*args, **kwargs),
            self.plain.format(*(a.plain for a in args), **{key: v.plain for key, v in kwargs.items()}),
        )

    def join(self, parts: Iterable) -> "Markdown":
        parts = [markdown_text(part) for part in parts]
        return Markdown(super().join(parts), self.plain.join(part.plain for part in parts))

    def __add__(self, other) -> "Markdown":
        other = markdown_text(other)
        return Markdown(str.__add__(self, other), self.plain + other.plain)

    def __radd__(self, other) -> "Markdown":
        other = markdown_text(other)
        return Markdown(str.__add__(other, self), other.plain + self.plain)


# Characters of HTML: as entities, which every markdown renderer shows as the character (a backslash before `<` is
# not an escape in all of them).
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Inline markup, backslash-escaped: the escape character itself, code spans, emphasis, links and images, headings'
# closing marks, strikethrough (GitHub's, with one tilde too) and math (GitHub's dollars).
_INLINE = set("\\`*[]#~$")
# What starts a block where a line starts (`#` and `*` are escaped anywhere): a list item (`- `, `+ `, `1. `, `1) `),
# a thematic break or a setext heading's underline (`---`, `===`). `-0.5` starts none.
_BLOCK_START = re.compile(r"^(\s*)([-+](?=\s|$)|[-=](?=[-=\s]*$)|\d{1,9}(?=[.)](?:\s|$)))")
_LINE_BREAK = re.compile(r"\r\n?|\n")


def _one_line(text: str) -> str:
    """Line breaks as spaces: a value is inline text, and a new line could start a block (or end a table row)."""
    return _LINE_BREAK.sub(" ", text)


def _inline(text: str) -> str:
    out = []
    for i, char in enumerate(text):
        if char in _ENTITIES:
            out.append(_ENTITIES[char])
        # An underscore between letters or digits (pin_memory) emphasises nothing; elsewhere it may.
        elif char in _INLINE or (
            char == "_" and not (0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum())
        ):
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def markdown_text(value) -> Markdown:
    """A value as markdown that shows it as written, wherever it lands (in a line, at its start, in a list item); a
    Markdown as it is."""
    if isinstance(value, Markdown):
        return value
    escaped = _inline(_one_line(str(value)))
    # `- x` or `1. x` at the start of a line would be a list item; the backslash is not shown.
    escaped = _BLOCK_START.sub(lambda m: m[1] + (m[2] + "\\" if m[2][0].isdigit() else "\\" + m[2]), escaped)
    return Markdown(escaped, str(value))


def markdown_cell(value) -> Markdown:
    """A value as a cell of a markdown table row: as written (a cell holds inline text only, so no list item can
    start there), with its pipes, its own or those of a Markdown, escaped so that it stays one cell."""
    text = value if isinstance(value, Markdown) else _inline(_one_line(str(value)))
    return Markdown(text.replace("|", "\\|"))


def markdown_row(cells: Iterable) -> Markdown:
    """A markdown table row of these cells."""
    return Markdown("| " + " | ".join(map(markdown_cell, cells)) + " |")


def markdown_code(value) -> Markdown:
    """A value as a code span, shown as written: fenced by more backticks than it holds in a row, and padded where
    it starts or ends with a backtick or a space (a renderer strips one space from each end)."""
    text = _one_line(str(value))
    if not text:
        return Markdown("")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    return Markdown(f"{fence}{pad}{text}{pad}{fence}", f"`{value}`")


def markdown_url(path) -> Markdown:
    """A relative path as a link or image destination: percent-encoded, so that no bracket, space or parenthesis
    ends it."""
    return Markdown(quote(str(path), safe="/"))


def rst_text(value) -> str:
    """A value as reStructuredText that shows it as written, in running text or inside a ``:literal:`` role: every
    ASCII punctuation character backslash-escaped (docutils shows an escaped character as itself), line breaks as
    spaces (a new line could start a directive such as `.. raw::`). docutils escapes the HTML itself."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", _one_line(str(value)))
