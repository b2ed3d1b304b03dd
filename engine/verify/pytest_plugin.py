"""pytest plugin: the example districts are test items (registered as the `pytest11` entry point).

`pytest` collects `examples/<name>/expect.yaml` as one item per example; a failing item shows the
same report as `rostering-advisor test`: expected vs actual, and a unified diff of the golden
document.

The plugin is installed with the package, so it is active in every project of an environment
that has rostering-advisor installed. It collects a file only when it is unmistakably one of our
examples: named `expect.yaml`, beside an answers file, in a folder named `examples` whose parent
holds a rules folder (`rules/manifest.yaml`). Those rules, and that project's `templates/` when
present, are the ones the example runs against. Nothing from the engine is imported until such a
file is found, so other projects pay nothing for the plugin. Disable it with
`-p no:rostering_advisor`.

Each item checks its example with the code `rostering-advisor test` uses (`load_example`,
`check_example`), and reports the rules that fired; at the end of the session the plugin prints
the coverage of each project's rules, computed and worded as `rostering-advisor test` does it
(`coverage`, `coverage_lines`), over the examples pytest ran (and says so when `-k` or a path
selected only some of them). The fired rules travel in the items' reports, so the figure is the
same under pytest-xdist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

ANSWERS_FILES = ("answers.yaml", "answers.yml", "answers.json")  # as engine.paths.ANSWERS_FILES (not imported: see above)


def project_of(file_path: Path) -> Path | None:
    """The project root an `expect.yaml` belongs to, or None if it is not one of our examples."""
    if file_path.name != "expect.yaml":
        return None
    folder = file_path.parent
    if not any((folder / name).is_file() for name in ANSWERS_FILES):
        return None
    examples = folder.parent
    if examples.name != "examples":
        return None
    project = examples.parent
    if not (project / "rules" / "manifest.yaml").is_file():
        return None
    return project


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if project_of(Path(file_path)) is None:
        return None
    return ExampleFile.from_parent(parent, path=Path(file_path))


class _Session:
    """What the items of one pytest session share: an Advisor and a Renderer per project."""

    def __init__(self) -> None:
        self.advisors: dict[Path, Any] = {}
        self.renderers: dict[Path, Any] = {}

    def advisor(self, project: Path) -> Any:
        if project not in self.advisors:
            from engine.evaluate.advisor import Advisor

            self.advisors[project] = Advisor.load(project / "rules")
        return self.advisors[project]

    def renderer(self, project: Path) -> Any:
        if project not in self.renderers:
            from engine.render.documents import Renderer
            from engine.render.formats import TEMPLATES_MARKER

            templates = project / "templates"
            self.renderers[project] = Renderer(templates if (templates / TEMPLATES_MARKER).is_file() else None)
        return self.renderers[project]


_SESSION_KEY = pytest.StashKey[_Session]()
_PROPERTY = "rostering_advisor_fired"  # (project, fired rule ids) in an item's user_properties


class _CoverageReport:
    """Collects the rules each example fired (from the reports, so also from xdist workers) and
    prints each project's coverage at the end of the session."""

    def __init__(self) -> None:
        self.fired: dict[str, set[str]] = {}
        self.examples: dict[str, int] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == _PROPERTY:
                project, fired = cast(tuple[str, list[str]], value)
                self.fired.setdefault(project, set()).update(fired)
                self.examples[project] = self.examples.get(project, 0) + 1

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from engine.errors import AdvisorError
        from engine.rules.rulebook import load_rules
        from engine.verify.regress import coverage, coverage_lines, discover

        for project in sorted(self.fired):
            examples = Path(project) / "examples"
            ran, present = self.examples[project], len(discover(examples))
            scope = f"the {ran} example{'s' if ran != 1 else ''} pytest ran" if ran < present else ""
            terminalreporter.section(f"rostering-advisor examples: {examples}")
            try:
                lines = coverage_lines(coverage(load_rules(Path(project) / "rules"), self.fired[project], scope))
            except AdvisorError as error:
                lines = str(error).splitlines()
            for line in lines:
                terminalreporter.write_line(line)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_CoverageReport(), "rostering_advisor_coverage")


def _shared(config: pytest.Config) -> _Session:
    if _SESSION_KEY not in config.stash:
        config.stash[_SESSION_KEY] = _Session()
    return config.stash[_SESSION_KEY]


class ExampleFile(pytest.File):
    """An example's expect.yaml: one item, named after the example's folder."""

    def collect(self):  # type: ignore[override]
        yield ExampleItem.from_parent(self, name=self.path.parent.name)


class ExampleFailure(Exception):
    """Raised by an item whose example does not match; carries the readable report."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class ExampleItem(pytest.Item):
    def runtest(self) -> None:
        from engine.errors import AdvisorError
        from engine.verify.regress import check_example, load_example

        project = project_of(self.path)
        assert project is not None
        shared = _shared(self.config)
        try:
            advisor = shared.advisor(project)
            example = load_example(self.path.parent, advisor.rules)
            recommendation = advisor.recommend(example.district)
            result = check_example(example, recommendation, shared.renderer(project))
        except AdvisorError as error:  # bad input: show its file:line:col lines, not a traceback
            raise ExampleFailure(str(error)) from None
        self.user_properties.append((_PROPERTY, (str(project), sorted(result.fired))))
        if not result.passed:
            raise ExampleFailure(result.failure_text())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, ExampleFailure):
            return f"example {self.name} ({self.path.parent}):\n{excinfo.value.text}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"example district {self.name}"
