"""Arithmetic of numbers in templates (charts): the sandbox's fast path for two numbers gives what
its checked path gives, and still refuses an integer past `Limits.max_int_bits`."""

from __future__ import annotations

import pytest
from jinja2 import DictLoader
from jinja2.exceptions import SecurityError

from engine.render.formats import DOCUMENTS
from engine.render.sandbox import DocumentSandbox, Limits


@pytest.fixture(scope="module", params=sorted(DOCUMENTS))
def env(request: pytest.FixtureRequest) -> DocumentSandbox:
    return DocumentSandbox(DictLoader({}), DOCUMENTS[request.param], Limits(max_int_bits=64))


@pytest.mark.parametrize(
    ("source", "printed"),
    [
        ("{{ 3 * 17 }}", "51"),
        ("{{ -3 * 17 }}", "-51"),
        ("{{ 4294967295 * 4294967295 }}", str(4294967295**2)),  # 32 + 32 bits: at the cap, allowed
        ("{{ 17 % 5 }}", "2"),
        ("{{ -17 % 5 }}", "3"),
        ("{{ 2.5 * 4 }}", "10.0"),
        ("{{ 7 + 0.5 }}", "7.5"),
        ("{{ 6 * 7 + 4 % 3 }}", "43"),
    ],
)
def test_arithmetic_of_numbers(env: DocumentSandbox, source: str, printed: str) -> None:
    assert env.from_string(source).render() == printed


@pytest.mark.parametrize("source", ["{{ 4294967295 * 8589934591 }}", "{% set n = 4294967296 %}{{ n * -n }}"])
def test_a_product_past_the_bit_cap_is_refused(env: DocumentSandbox, source: str) -> None:
    with pytest.raises(SecurityError, match="'\\*' would compute a number of more than 64 bits"):
        env.from_string(source).render()


def test_a_remainder_by_zero_fails_as_python_does(env: DocumentSandbox) -> None:
    with pytest.raises(ZeroDivisionError):
        env.from_string("{{ 5 % 0 }}").render()
