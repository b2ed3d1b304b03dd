"""The bundled example runs end to end through the engine."""

from pathlib import Path

from engine import Advisor

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"  # rule sets, templates and districts of the tests' own


def test_bundled_example_recommends_sis_sync() -> None:
    advisor = Advisor.load(FIXTURES / "rules")
    recommendation = advisor.recommend(advisor.read(FIXTURES / "examples/lakeview-unified/answers.yaml"))
    assert recommendation.option == "sis_sync"
    assert recommendation.confidence == "strong"
