"""Exceptions that carry a diagnosis rather than a crash."""

from __future__ import annotations


class UsageError(Exception):
    """The invocation itself is unusable (exit 2, one line, no traceback)."""


class ResourceUnavailable(Exception):
    """A resource list could not be read. The runner turns it into a result.

    ``kind`` is one of ``forbidden`` (403), ``unauthorized`` (401), ``credentials``
    (the kubeconfig's exec credential plugin is missing, failed or timed out),
    ``not-served`` (CRD or API group not installed: the check skips),
    ``unreachable`` (connection refused, timeout) or ``error`` (anything else).
    """

    def __init__(self, kind: str, message: str, *, status: int | None = None, hint: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.hint = hint

    def __reduce__(self):  # keep picklable for xdist / snapshots
        return (_rebuild, (self.kind, self.message, self.status, self.hint))


def _rebuild(kind, message, status, hint):
    return ResourceUnavailable(kind, message, status=status, hint=hint)
