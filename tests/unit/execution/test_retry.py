"""The retry policy never resends a create that might exist, and backs off boundedly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from titan.core.events import ErrorKind
from titan.execution.errors import Classified
from titan.execution.retry import (
    RetryPolicy,
    Step,
    after_cancel_error,
    after_create_error,
    after_lookup,
    after_query_error,
)

classified = st.builds(
    Classified, kind=st.sampled_from(list(ErrorKind)), maybe_processed=st.booleans(),
    duplicate=st.booleans(), not_modified=st.just(False),
)
policies = st.builds(RetryPolicy, max_retries=st.integers(0, 6), backoff_s=st.floats(0.01, 2.0),
                     max_backoff_s=st.floats(2.0, 60.0))


@given(classified, st.integers(0, 10), policies)
def test_a_create_that_may_exist_is_looked_up_never_resent(c, attempt, policy):
    step = after_create_error(c, attempt, policy)
    if c.maybe_processed or c.duplicate:
        assert step is Step.LOOKUP
    elif step is Step.RETRY:  # only a definite refusal that may pass later
        assert c.kind in (ErrorKind.TEMPORARY, ErrorKind.RATE_LIMITED) and attempt < policy.max_retries
    else:
        assert step is Step.REJECT


@given(classified, st.integers(0, 10), policies, st.sampled_from([True, False, None]))
def test_resend_only_after_a_lookup_showed_absence(c, attempt, policy, found):
    step = after_lookup(c, attempt, policy, found=found)
    if step is Step.RETRY:
        assert found is False and not c.duplicate and attempt < policy.max_retries
    if found:
        assert step is Step.ADOPT
    if found is None:
        assert step is Step.DOUBT  # cannot tell: neither resend nor reject


@given(classified, st.integers(0, 10), policies)
def test_cancels_and_queries_retry_boundedly(c, attempt, policy):
    for step in (after_cancel_error(c, attempt, policy), after_query_error(c, attempt, policy)):
        if step is Step.RETRY:
            assert attempt < policy.max_retries
    if c.kind is ErrorKind.NOT_FOUND:
        assert after_cancel_error(c, attempt, policy) is Step.RESOLVE


@given(policies, st.integers(1, 40))
def test_backoff_doubles_and_is_capped(policy, attempt):
    d = policy.delay(attempt)
    assert 0 < d <= policy.max_backoff_s
    assert policy.delay(attempt + 1) >= d
    if policy.backoff_s * 2 ** attempt <= policy.max_backoff_s:
        assert policy.delay(attempt + 1) == 2 * d
