"""Keeps passwords out of asyncua's debug log: its client logs every request it sends,
and over SecurityPolicy None an ActivateSession request carries the password in clear."""

from __future__ import annotations

import logging

# the loggers of asyncua's client side that print requests or their parameters
_LOGGERS = (
    "asyncua.client.ua_client.UASocketProtocol",
    "asyncua.client.ua_client.UaClient",
    "asyncua.client.client",
)
_MASK = "**********"


class _Redactor(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            text = record.getMessage()
        except (TypeError, ValueError):
            return True  # a broken record is logging's business, not ours
        if any(secret in text for secret in self.secrets):
            for secret in self.secrets:
                text = text.replace(secret, _MASK)
            record.msg, record.args = text, None
        return True


_REDACTOR = _Redactor()


def hide(secret: str) -> None:
    """From now on, mask `secret` in every record of asyncua's client loggers."""
    if not secret:
        return
    if not _REDACTOR.secrets:
        for name in _LOGGERS:
            logging.getLogger(name).addFilter(_REDACTOR)
    _REDACTOR.secrets.add(secret)
