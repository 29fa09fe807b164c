"""A plain-text table with a two-line header: the column names, and under them their units."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

GAP = "  "


@dataclass
class Column:
    """One column: its header, its unit (shown under the header) and a text per row."""

    name: str
    unit: str = ""
    cells: list[str] = field(default_factory=list)
    left: bool = False  # names and states read better left-aligned, numbers right-aligned

    def width(self) -> int:
        return max(len(self.name), len(self.unit), *(len(c) for c in self.cells))

    def fit(self, text: str, width: int) -> str:
        return text.ljust(width) if self.left else text.rjust(width)


def render_table(columns: Sequence[Column]) -> list[str]:
    """Header, units and one line per row; every column as wide as its widest text."""
    widths = [c.width() for c in columns]
    rows = max((len(c.cells) for c in columns), default=0)

    def line(texts: Sequence[str]) -> str:
        return GAP.join(c.fit(t, w) for c, t, w in zip(columns, texts, widths, strict=True))

    lines = [line([c.name for c in columns]), line([c.unit for c in columns])]
    lines += [line([c.cells[i] if i < len(c.cells) else "" for c in columns]) for i in range(rows)]
    return [ln.rstrip() for ln in lines]
