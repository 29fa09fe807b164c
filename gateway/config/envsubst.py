"""`${VAR}` substitution in the string values of a tag map.

    ${VAR}            the value of VAR; a problem when VAR is not set
    ${VAR:-default}   the value of VAR, or `default` when VAR is unset or empty
    $$                one literal `$`

A `$` followed by anything else is kept as it is. Only values are substituted, never keys.
Substitution runs before validation, so `unit_id: ${UNIT}` validates as a number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from gateway.config.yamlsource import DataPath

_REFERENCE = re.compile(r"\$(?:(\$)|\{([^}]*)\}|(\{))")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: called with the path of a value and the message of a problem in it
Report = Callable[[DataPath, str], None]


def substitute(data: Any, env: Mapping[str, str], report: Report, path: DataPath = ()) -> Any:
    """Return `data` with every string value substituted; problems go to `report`.

    Containers are changed in place (the loader owns them), so a large map is never copied.
    """
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, dict | list) or (isinstance(value, str) and "$" in value):
                data[key] = substitute(value, env, report, (*path, key))
        return data
    if isinstance(data, list):
        for i, item in enumerate(data):
            if isinstance(item, dict | list) or (isinstance(item, str) and "$" in item):
                data[i] = substitute(item, env, report, (*path, i))
        return data
    if isinstance(data, str) and "$" in data:
        return expand(data, env, lambda message: report(path, message))
    return data


def expand(text: str, env: Mapping[str, str], report: Callable[[str], None]) -> str:
    """Substitute the references in one string."""

    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return "$"
        if match.group(3):
            report("`${` without a closing `}`")
            return match.group(0)
        return _resolve(match.group(2), env, report)

    return _REFERENCE.sub(replace, text)


def _resolve(inner: str, env: Mapping[str, str], report: Callable[[str], None]) -> str:
    name, has_default, default = inner.partition(":-")
    if not _NAME.match(name):
        report(f"${{{inner}}} is not a variable reference (use ${{NAME}} or ${{NAME:-default}})")
        return ""
    if "${" in default:
        report(f"${{{inner}}}: a default cannot contain another ${{...}}")
        return ""
    value = env.get(name)
    if has_default:
        return value if value else default
    if value is None:
        report(f"environment variable {name} is not set")
        return ""
    return value
