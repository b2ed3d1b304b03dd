"""A product manager's edit of the shipped content needs no programmer: after `test --update`, the
content checks pass.

The test copies the repository's rules/, templates/ and examples/ into a temporary folder and
makes the edits a product manager makes in a release: a new question wired to a factor, a new
override that reads two answers, a weight changed, a rationale reworded, a changelog line with a
colon, the version bumped, and a new example folder with only answers.yaml. Then
`rostering-advisor test --update` and the checks CI runs on content (`test`, `validate`) pass.

The edits are made by structure (what the files hold now), not by exact text, so the test keeps
working whatever the content says. The weight change is one that changes no example's expected
advice: a change that does is meant to fail `test` until a person updates expect.yaml.

The same edit can be made in a real checkout, to try the whole suite on it:

    python tests/test_content_edit.py .        # then: rostering-advisor test --update && pytest
    git checkout rules examples && git clean -fd examples    # undo
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "sis_vendor_support_contract"
OVERRIDE = "vendor_contract_without_staff"
EXAMPLE = "juniper-flats"


def bump(version: str) -> str:
    major, minor, _ = (int(part) for part in re.match(r"(\d+)\.(\d+)\.(\d+)", version).groups())  # type: ignore[union-attr]
    return f"{major}.{minor + 1}.0"


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


def edit_without_weight(root: Path) -> str:
    """Every edit but the weight change, made in `root`'s rules/ and examples/; the new version.
    (A second edit of the same content, say after running this script on a checkout, uses new ids.)"""
    rules = root / "rules"
    questions = yaml.safe_load((rules / "questions.yaml").read_text(encoding="utf-8"))
    taken = sum(q["id"].startswith(QUESTION) for q in questions["questions"])
    suffix = f"_{taken + 1}" if taken else ""
    question, override, example = QUESTION + suffix, OVERRIDE + suffix, EXAMPLE + suffix.replace("_", "-")
    theme = questions["themes"][0]["id"]
    other = questions["questions"][0]["id"]
    append(
        rules / "questions.yaml",
        f"\n  - id: {question}\n"
        "    text: Does your SIS vendor offer a support contract that covers the Clever connection?\n"
        "    help: >-\n"
        "      Answer yes if the vendor will help when a sync fails: a support plan, a help desk or an\n"
        "      account manager who knows the Clever connection.\n"
        f"    theme: {theme}\n",
    )
    append(
        rules / "factors.yaml",
        f"\n  - question: {question}\n"
        "    yes:\n      favours: sis_sync\n      weight: 1\n"
        "      rationale: With the vendor's help, a failed sync is fixed quickly.\n"
        "    no:\n      favours: user_import\n      weight: 1\n"
        "      rationale: Without the vendor's help, the district fixes a failed sync on its own.\n",
    )
    append(
        rules / "overrides.yaml",
        f"\n  - id: {override}\n    priority: 990\n    when:\n      all:\n"
        f"        - {{answer: {question}, is: yes}}\n        - {{answer: {other}, is: no}}\n"
        "    effect: {flag: review}\n"
        "    reason: >-\n"
        "      The vendor's support contract helps, but check with the vendor what it covers before\n"
        "      relying on it.\n",
    )
    factors = rules / "factors.yaml"
    text = factors.read_text(encoding="utf-8")
    factors.write_text(re.sub(r"(\n +rationale: )(.+)", r"\1Put simply, \2", text, count=1), encoding="utf-8")
    manifest = rules / "manifest.yaml"
    text = manifest.read_text(encoding="utf-8")
    old = yaml.safe_load(text)["version"]
    new = bump(str(old))
    entry = (
        f"  - version: {new}\n    date: 2026-12-07\n    changes:\n"
        f'      - "New question: does the SIS vendor offer a support contract ({question})."\n'
        "      - Reworded a rationale and changed one weight.\n"
    )
    text = re.sub(r"(?m)^version: .*$", f"version: {new}", text, count=1)
    manifest.write_text(text.replace("changelog:\n", "changelog:\n" + entry, 1), encoding="utf-8")
    folder = root / "examples" / example
    folder.mkdir()
    (folder / "answers.yaml").write_text(
        "# yaml-language-server: $schema=../answers.schema.json\n"
        "district:\n  name: Juniper Flats Unified School District\n  id: \"0699001\"\n"
        f"answers:\n  {question}: yes\n  {other}: no\n  sis_changing: no\n",
        encoding="utf-8",
    )
    return new


def change_a_weight(root: Path, candidate: int) -> bool:
    """Add one to the weight of the `candidate`-th factor rule; False when there is none."""
    factors = root / "rules" / "factors.yaml"
    text = factors.read_text(encoding="utf-8")
    weights = list(re.finditer(r"(\n +weight: )(\d+)\b", text))
    if candidate >= len(weights) or int(weights[candidate].group(2)) >= 10:
        return False
    match = weights[candidate]
    factors.write_text(text[: match.start(2)] + str(int(match.group(2)) + 1) + text[match.end(2) :], encoding="utf-8")
    return True


def expected_advice(root: Path) -> dict[str, tuple]:
    from engine import Advisor
    from engine.verify.regress import discover, load_example, outcome_fields

    advisor = Advisor.load(root / "rules")
    examples = [load_example(folder, advisor.rules) for folder in discover(root / "examples") if (folder / "expect.yaml").exists()]
    return {
        e.name: tuple(map(str, outcome_fields(rec).values()))
        for e, rec in zip(examples, advisor.recommend_many([e.district for e in examples]))
    }


def apply_pm_edit(root: Path) -> str:
    """The whole edit in `root`: a weight change that leaves every example's expected advice as it
    is (the first of the factor rules that does), then the rest; the new version."""
    before = expected_advice(root)
    original = (root / "rules" / "factors.yaml").read_text(encoding="utf-8")
    for candidate in range(12):
        if change_a_weight(root, candidate) and expected_advice(root) == before:
            break
        (root / "rules" / "factors.yaml").write_text(original, encoding="utf-8")
    else:
        raise AssertionError("no weight change among the first factor rules keeps every example's advice")
    return edit_without_weight(root)


def test_a_product_managers_edit_passes_the_content_checks_after_test_update(tmp_path) -> None:
    from engine.cli import main

    for name in ("rules", "templates", "examples"):
        shutil.copytree(ROOT / name, tmp_path / name)
    version = apply_pm_edit(tmp_path)
    common = ["--rules", str(tmp_path / "rules"), "--templates", str(tmp_path / "templates"), "--examples", str(tmp_path / "examples")]
    assert main(["test", *common]) == 2  # the new example has no expect.yaml yet
    assert main(["test", *common, "--update"]) == 0
    (example,) = [f for f in (tmp_path / "examples").iterdir() if f.name.startswith(EXAMPLE) and not (ROOT / "examples" / f.name).exists()]
    assert (example / "expect.yaml").read_text(encoding="utf-8").count("needs_review: true") == 1
    assert main(["test", *common]) == 0
    assert main(["validate", str(tmp_path / "rules")]) == 0
    assert version in (example / "advice.md").read_text(encoding="utf-8")
    # where an example's expected advice really differs, --update does not paper over it
    expect = example / "expect.yaml"
    options = [o["id"] for o in yaml.safe_load((tmp_path / "rules" / "options.yaml").read_text(encoding="utf-8"))["options"]]
    current = yaml.safe_load(expect.read_text(encoding="utf-8"))["option"]
    other = next(o for o in options if o != current)
    expect.write_text(expect.read_text(encoding="utf-8").replace(f"option: {current}", f"option: {other}"), encoding="utf-8")
    assert main(["test", *common, "--update"]) == 1


if __name__ == "__main__":
    print(f"edited {sys.argv[1]}: rules version {apply_pm_edit(Path(sys.argv[1]))}")
