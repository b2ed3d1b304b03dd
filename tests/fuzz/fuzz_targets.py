"""Fuzz targets for the answers loader and the rules loader + compiler (atheris).

Any exception other than our own AdvisorError is a finding; a crash of a C extension kills the
process, which is why the tests run this file in a subprocess.

    python tests/fuzz/fuzz_targets.py answers CORPUS_DIR -runs=20000     # a longer local run
    python tests/fuzz/fuzz_targets.py rules CORPUS_DIR -max_total_time=300

`rules` writes the input over one of the rule files (chosen by the first byte) of a copy of the
shipped rules, then loads, compiles and evaluates one district. Distinct valid rule sets each
register a durable_rules ruleset that is never freed, so keep `rules` runs to a few thousand.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout under test

with atheris.instrument_imports():
    from engine import Advisor, AdvisorError
    from engine.evaluate.answers import district_from_document
    from engine.rules.source import decode, load_json, load_yaml
    from engine.rules.rulebook import RULE_FILES, load_rules

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"  # rule sets, templates and districts of the tests' own
RULES = load_rules(FIXTURES / "rules")
WORKDIR = Path(tempfile.mkdtemp(prefix="fuzz-rules-"))
shutil.copytree(FIXTURES / "rules", WORKDIR / "rules")


def answers_target(data: bytes) -> None:
    json_form = data[:1] == b"{"
    try:
        text = decode(data, "fuzz")
        doc = load_json(text, "fuzz.json") if json_form else load_yaml(text, "fuzz.yaml")
        district = district_from_document(doc, RULES)
        ADVISOR.recommend(district)
    except AdvisorError:
        pass


def rules_target(data: bytes) -> None:
    if not data:
        return
    name = RULE_FILES[data[0] % len(RULE_FILES)]
    folder = WORKDIR / "rules"
    original = (FIXTURES / "rules" / f"{name}.yaml").read_bytes()
    (folder / f"{name}.yaml").write_bytes(data[1:])
    try:
        advisor = Advisor.load(folder)
        advisor.recommend({"district": {"name": "Fuzz"}, "answers": {"sis_changing": "no"}, "profile": {"students": 9000}})
    except AdvisorError:
        pass
    finally:
        (folder / f"{name}.yaml").write_bytes(original)


ADVISOR = Advisor(RULES)
TARGETS = {"answers": answers_target, "rules": rules_target}

if __name__ == "__main__":
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()
