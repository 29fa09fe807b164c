"""Flux expressions that mix `and` and `or` without parentheses (tests/fluxnames.py holds
every dashboard query to it).

Flux's `and` binds tighter than `or`, so `r._measurement == "m" and r._field == "a" or
r._field == "b"` reads field `b` of every measurement. A query must say which it means with
parentheses: `a and (b or c)` or `(a and b) or c`. Strings, regex literals and comments are
masked first, keeping their length so that a finding points at the query's own line.
"""

from __future__ import annotations

import re

_LITERAL = re.compile(r'"(?:\\.|[^"\\])*"|[=!]~\s*/(?:\\/|[^/\n])*/|//[^\n]*')
_TOKEN = re.compile(r"[(\[{]|[)\]}]|[,\n]|=>|\b(?:and|or|if|then|else)\b")
#: tokens that end one operand list and start another at the same depth
_SEPARATORS = frozenset({",", "=>", "if", "then", "else"})


def _masked(flux: str) -> str:
    """The query with the inside of each string, regex and comment blanked, same length."""
    return _LITERAL.sub(lambda m: m.group(0)[0] + "_" * (len(m.group(0)) - 1), flux)


def mixed_logic(flux: str) -> list[str]:
    """The lines of `flux` where `and` and `or` meet in one parenthesis level, stripped."""
    masked = _masked(flux)
    found: list[str] = []
    # the operators seen in the current operand list of each open bracket (0: top level)
    levels: list[set[str]] = [set()]
    for token in _TOKEN.finditer(masked):
        word = token.group(0)
        if word in "([{":
            levels.append(set())
        elif word in ")]}":
            if len(levels) > 1:
                levels.pop()
        elif word in _SEPARATORS or (word == "\n" and len(levels) == 1):
            levels[-1] = set()  # a new argument, branch, lambda body or statement
        elif word in ("and", "or"):
            levels[-1].add(word)
            if levels[-1] == {"and", "or"}:
                start = flux.rfind("\n", 0, token.start()) + 1
                end = flux.find("\n", token.end())
                line = flux[start : end if end >= 0 else len(flux)].strip()
                if line not in found:
                    found.append(line)
    return found
