"""The bundled example runs end to end through the engine."""

from pathlib import Path

from engine import Advisor

ROOT = Path(__file__).resolve().parent.parent


def test_bundled_example_recommends_sis_sync() -> None:
    advisor = Advisor.load(ROOT / "rules")
    recommendation = advisor.recommend(advisor.read(ROOT / "examples/lakeview-unified/answers.yaml"))
    assert recommendation.option == "sis_sync"
    assert recommendation.confidence == "strong"
