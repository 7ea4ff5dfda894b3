"""Retry policy for venue calls: when to resend, when to look first, when to give up.

The rule that keeps Titan from ever placing an order twice: a create is sent again only after a
lookup by its client order id showed the venue does not have it - unless the venue's answer proves
it refused the request before acting (rate limit, timestamp window), in which case resending the
same client id is safe anyway (the venue would refuse a duplicate). Cancels and queries are
idempotent and are retried with exponential backoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from titan.core.events import ErrorKind
from titan.execution.errors import Classified


class Step(StrEnum):
    RETRY = "retry"  # send the same request again after delay()
    LOOKUP = "lookup"  # find the order by client id before deciding
    RESOLVE = "resolve"  # the order is gone: fetch its final state (cancel of a closed order)
    REJECT = "reject"  # give up: report the failure as an event
    ADOPT = "adopt"  # the lookup found it: report what the venue has
    DOUBT = "doubt"  # cannot tell yet: keep the order in doubt, polling resolves it


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0

    def delay(self, attempt: int) -> float:
        """Backoff before retry number ``attempt`` (1, 2, ...): doubling, capped."""
        return min(self.max_backoff_s, self.backoff_s * (2 ** max(0, attempt - 1)))


def after_create_error(c: Classified, attempt: int, policy: RetryPolicy) -> Step:
    """What to do when create attempt number ``attempt`` (0 = first) raised ``c``."""
    if c.duplicate or c.maybe_processed:
        return Step.LOOKUP
    if c.retryable and attempt < policy.max_retries:
        return Step.RETRY
    return Step.REJECT


def after_lookup(c: Classified, attempt: int, policy: RetryPolicy, *, found: bool | None) -> Step:
    """After a lookup by client id: ``found`` True/False, or None when the lookup itself failed."""
    if found:
        return Step.ADOPT
    if found is None:
        return Step.DOUBT
    if c.duplicate:
        return Step.REJECT  # the venue says the id is taken, yet has no such order for us
    if attempt < policy.max_retries:
        return Step.RETRY
    return Step.REJECT


def after_cancel_error(c: Classified, attempt: int, policy: RetryPolicy) -> Step:
    if c.kind is ErrorKind.NOT_FOUND:
        return Step.RESOLVE
    if (c.retryable or c.maybe_processed) and attempt < policy.max_retries:
        return Step.RETRY
    return Step.REJECT


def after_query_error(c: Classified, attempt: int, policy: RetryPolicy) -> Step:
    if (c.retryable or c.maybe_processed) and attempt < policy.max_retries:
        return Step.RETRY
    return Step.REJECT
