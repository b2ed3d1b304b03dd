"""Numbers reach the rules engine as they are: durable_rules misreads JSON numbers written with an
exponent and no fraction (`1e+16`, `1e-7`), which made a district of 1e16 students an internal
error ("the rules reached no decision"). Any finite number now gives advice, compared correctly."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine import Advisor


@settings(max_examples=200, deadline=None)
@given(students=st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(10**29), 10**29)))
@example(students=1e16)
@example(students=1e-7)
@example(students=5e-324)
@example(students=1e300)
@example(students=4999.999999999999)
def test_any_finite_enrolment_is_compared_with_the_threshold(advisor: Advisor, students: float) -> None:
    """The tests' rules derive `over_5000_students` from `students >= 5000` (or `< 5000`)."""
    rec = advisor.recommend({"district": {"name": "A"}, "profile": {"students": students}, "answers": {"sis_changing": "no"}})
    assert rec.outcome.answers["over_5000_students"] == ("yes" if students >= 5000 else "no")
