"""`rostering-advisor serve` through Starlette's test client: every route, bad input of each kind,
the downloads (the answers file loads in `recommend` with byte-identical advice), and `--reload`
with a valid and an invalid edit. Runs on the tests' own rules, templates and examples."""

from __future__ import annotations

import html.parser
import json
import re
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from engine.cli import main
from engine.errors import control_character
from engine.evaluate.answers import read_district
from engine.web import server
from engine.web.app import create_app
from engine.web.forms import answers_yaml, district_from_form, form_fields
from engine.errors import InputError
from engine.web.workspace import CONFIG_VARIABLE, ServeConfig

from .conftest import FIXTURES

NAME = "Lakeside <script>alert('x')</script> Schools"
ANSWERS = {"district_name": NAME, "profile.students": "7300", "profile.sis": "PowerSchool", "profile.uses_clever": "yes",
           "answer.mobile_population": "yes", "answer.sis_changing": "no", "answer.teachers_resist_layout_change": "yes",
           "notes": "Two schools share one SIS.\n\nLine two: <b>bold</b>"}  # fmt: skip


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = create_app(ServeConfig(str(FIXTURES / "rules"), str(FIXTURES / "templates"), str(FIXTURES / "examples")))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795000000")


class _Form(html.parser.HTMLParser):
    """The controls, labels, fieldsets and legends of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str]] = []
        self.labels: set[str] = set()
        self.fieldsets = self.legends = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append(a)
        elif tag == "label":
            self.labels.add(a.get("for", ""))
        elif tag == "fieldset":
            self.fieldsets += 1
        elif tag == "legend":
            self.legends += 1


def _parse(text: str) -> _Form:
    form = _Form()
    form.feed(text)
    return form


def test_questionnaire_labels_every_control_and_asks_in_the_plans_order(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    form = _parse(page.text)
    assert form.controls and all(c["id"] in form.labels for c in form.controls)
    assert form.fieldsets == form.legends
    order = client.get("/api/questions").json()["order"]
    positions = [page.text.index(f'id="q-{q}"') for q in order]
    assert positions == sorted(positions)
    assert page.text.count('value="unknown" checked') == len(order)  # "not sure" until answered
    assert 'role="status" aria-live="polite"' in page.text


def test_every_response_carries_a_policy_that_allows_only_our_script_and_style(client: TestClient) -> None:
    for response in (client.get("/"), client.get("/healthz"), client.get("/static/app.js"), client.post("/advice", data=ANSWERS)):
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe" not in policy and "default-src 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"


def test_the_form_post_keeps_the_answers_and_shows_the_standing(client: TestClient) -> None:
    page = client.post("/", data={"district_name": "", "answer.sis_changing": "yes"})
    assert page.status_code == 200
    assert 'id="a-sis_changing-yes" name="answer.sis_changing" value="yes" checked' in page.text
    assert "Settled." in page.text  # the fixture rules' deciding override: no answer left changes it
    open_page = client.post("/", data={"district_name": "Somewhere"})
    assert "could still change it" in open_page.text and "Settled." not in open_page.text


def test_standing_fragment_follows_the_answers(client: TestClient) -> None:
    leaning = client.post("/standing", data={"answer.sis_changing": "no"})
    settled = client.post("/standing", data={"answer.sis_changing": "yes"})
    assert "could still change it" in leaning.text and "Settled." in settled.text
    bad = client.post("/standing", data={"profile.students": "many"})
    assert "form: students must be a number, got &#39;many&#39; (at profile.students)" in bad.text


def test_advice_page_escapes_the_district_and_embeds_the_document_with_its_style_hashed(client: TestClient) -> None:
    page = client.post("/advice", data=ANSWERS)
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "&lt;script&gt;alert" in page.text
    assert "<b>bold" not in page.text
    assert "'sha256-" in page.headers["content-security-policy"]
    assert '<iframe class="document" title="Advice document for' in page.text and " sandbox srcdoc=" in page.text


def test_advice_with_bad_input_returns_to_the_questionnaire_with_located_messages(client: TestClient) -> None:
    page = client.post("/advice", data={"district_name": " ", "profile.students": "lots"})
    assert page.status_code == 422
    assert "form: name must not be empty (at district.name)" in page.text
    assert "form: students must be a number" in page.text
    unknown = client.post("/advice", data={"district_name": "A", "answer.sis_chaning": "yes"})
    assert unknown.status_code == 422 and "did you mean &#39;sis_changing&#39;" in unknown.text


def test_downloaded_answers_load_in_recommend_with_byte_identical_advice(
    client: TestClient, epoch: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fields = _hidden_fields(client.post("/advice", data=ANSWERS).text)
    answers = client.post("/download/answers.yaml", data=fields)
    assert answers.headers["content-disposition"] == 'attachment; filename="answers.yaml"'
    path = tmp_path / "answers.yaml"
    path.write_bytes(answers.content)
    for name, args in (("advice.md", ["--format", "md"]), ("advice.html", ["--format", "html"]), ("advice.json", ["--format", "json"])):
        assert main(["recommend", str(path), *args]) == 0
        assert capsys.readouterr().out.encode() == client.post(f"/download/{name}", data=fields).content, name
    assert client.post("/download/secrets.txt", data=fields).status_code == 404


def test_api_recommend_is_the_json_of_recommend(client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = {"district": {"name": NAME, "id": "0601"}, "profile": {"students": 900}, "answers": {"sftp_daily": "no"}}
    path = tmp_path / "d.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert main(["recommend", str(path), "--format", "json"]) == 0
    response = client.post("/api/recommend", content=json.dumps(document))
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.text == capsys.readouterr().out


def test_api_plan_and_questions(client: TestClient, advisor: Any) -> None:
    document = {"district": {"name": "A"}, "answers": {"sis_changing": "no"}}
    plan = client.post("/api/plan", content=json.dumps(document))
    assert plan.status_code == 200 and plan.json() == advisor.plan(document).to_dict()
    questions = client.get("/api/questions").json()
    assert sorted(questions["order"]) == sorted(q["id"] for q in questions["questions"])
    assert questions["answers"] == ["yes", "no", "unknown"]
    assert {f["field"]: f["kind"] for f in questions["profile"]} == advisor.rules.profile_fields()


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"district": {"name": "A"', "request:1:26: invalid JSON: Expecting ',' delimiter"),
        (b'{"district": {"name": "A"}, "answers": {"sis_chaning": "no"}}', "request:1:41: unknown question 'sis_chaning' (did you mean 'sis_changing'?) (at answers)"),
        (b'{"district": {"name": "A"}, "answers": {"sis_changing": "perhaps"}}', "request:1:57: the answer to 'sis_changing' must be yes, no or unknown, got 'perhaps'"),
        (b"[1, 2]", "request:1:1: expected an answers document"),
        (b"\xff\xfe", "request:1:1: the file is not valid UTF-8 text"),
    ],
)  # fmt: skip
def test_api_bad_input_is_422_with_located_messages(client: TestClient, body: bytes, message: str) -> None:
    for route in ("/api/recommend", "/api/plan"):
        response = client.post(route, content=body)
        assert response.status_code == 422
        (error,) = response.json()["errors"]
        assert error.startswith(message), error


def test_bodies_over_64_kb_are_refused_with_413(client: TestClient) -> None:
    big = json.dumps({"district": {"name": "A"}, "notes": "x" * 70_000})
    assert client.post("/api/recommend", content=big).status_code == 413
    streamed = client.post("/api/recommend", content=iter([big[:40_000].encode(), big[40_000:].encode()]))  # no length
    assert streamed.status_code == 413 and streamed.json()["errors"][0].startswith("request: the body is larger")
    assert client.post("/advice", data={"district_name": "A", "notes": "y" * 70_000}).status_code == 413


def test_upload_continues_from_an_answers_file_or_names_its_problem(client: TestClient) -> None:
    good = "district: {name: Cedar Ridge, id: '0042'}\nprofile: {students: 1200, region: North}\nanswers:\n  sftp_daily: yes\n"
    page = client.post("/upload", files={"answers_file": ("cedar.yaml", good.encode(), "application/yaml")})
    assert page.status_code == 200
    assert 'value="Cedar Ridge"' in page.text and 'value="0042"' in page.text and 'value="1200"' in page.text
    assert 'name="profile_json.region" value="&#34;North&#34;"' in page.text  # kept, though no rule reads it
    assert 'id="a-sftp_daily-yes" name="answer.sftp_daily" value="yes" checked' in page.text
    bad = "district: {name: A}\nanswers:\n  sftp_daily: perhaps\n"
    page = client.post("/upload", files={"answers_file": ("../../etc/a.yaml", bad.encode(), "application/yaml")})
    assert page.status_code == 422 and "a.yaml:3:15: the answer to &#39;sftp_daily&#39;" in page.text
    assert client.post("/upload", data={"x": "y"}).status_code == 422


def test_playground_shows_recommendation_trace_and_document(client: TestClient) -> None:
    page = client.get("/playground", params={"example": "lakeview-unified"})
    assert page.status_code == 200
    assert 'option value="lakeview-unified" selected' in page.text
    assert re.search(r"<code>mobile_population\.yes</code></td><td>vote</td><td><code>rules/factors\.yaml:\d+</code>", page.text)
    assert "srcdoc=" in page.text
    flipped = client.get("/playground", params={"example": "lakeview-unified", "answer.sis_changing": "yes"})
    assert _option(flipped.text) != _option(page.text)
    assert re.search(r"<code>rules/overrides\.yaml:\d+</code>", flipped.text)
    blank = client.get("/playground")
    assert blank.status_code == 200 and "Blank district" in blank.text


def test_playground_never_opens_a_path_from_the_request(client: TestClient) -> None:
    for name in ("../rules", "/etc/passwd", "lakeview-unified/../../rules", "."):
        page = client.get("/playground", params={"example": name})
        assert page.status_code == 404 and "no example district named" in page.text
    assert client.get("/playground", params={"answer.nope": "yes"}).status_code == 422


def test_healthz(client: TestClient, advisor: Any) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["digest"] == advisor.rules.digest and health["problems"] == []


def test_reload_serves_a_valid_edit_and_keeps_the_last_good_rules_on_an_invalid_one(tmp_path: Path) -> None:
    rules = shutil.copytree(FIXTURES / "rules", tmp_path / "rules")
    templates = shutil.copytree(FIXTURES / "templates", tmp_path / "templates")
    with TestClient(create_app(ServeConfig(str(rules), str(templates), None, reload=True))) as client:
        before = client.get("/healthz").json()
        manifest = rules / "manifest.yaml"
        text = manifest.read_text(encoding="utf-8")
        manifest.write_text(text.replace(f"version: {before['version']}", "version: 9.9.9", 1), encoding="utf-8")
        valid = client.get("/healthz").json()
        assert valid["version"] == "9.9.9" and valid["digest"] != before["digest"] and valid["problems"] == []
        assert "9.9.9" in client.get("/playground").text

        manifest.write_text(text.replace(f"version: {before['version']}", "version: [9", 1), encoding="utf-8")
        invalid = client.get("/healthz").json()
        assert invalid["status"] == "stale" and invalid["digest"] == valid["digest"]
        (problem,) = invalid["problems"]
        line = 1 + text[: text.index(f"version: {before['version']}")].count("\n")
        assert problem.startswith(f"{manifest}:{line + 1}:") or problem.startswith(f"{manifest}:{line}:"), problem
        page = client.get("/playground")
        assert "the last good rules keep serving" in page.text and "9.9.9" in page.text

        manifest.write_text(text, encoding="utf-8")
        (templates / "advice.html.j2").write_text("{% if %}", encoding="utf-8")
        (problem,) = client.get("/healthz").json()["problems"]
        assert problem.startswith(f"{templates / 'advice.html.j2'}:1: syntax error"), problem
        shutil.copy(FIXTURES / "templates" / "advice.html.j2", templates / "advice.html.j2")
        back = client.get("/healthz").json()
        assert back["problems"] == [] and back["digest"] == before["digest"] and back["state"] == before["state"]


def test_serve_command_checks_before_listening(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["serve", "--rules", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err == f"{tmp_path / 'none'}: no such rules folder\n"
    assert main(["serve", "--workers", "0"]) == 2
    assert main(["serve", "--port", "70000"]) == 2
    assert capsys.readouterr().err.splitlines() == ["--workers: expected at least 1 worker, got 0", "--port: expected a port from 0 to 65535, got 70000"]
    assert server.loopback("127.0.0.1") and server.loopback("::1") and server.loopback("localhost")
    assert not server.loopback("0.0.0.0") and not server.loopback("example.org")
    assert server.url("::1", 8000) == "http://[::1]:8000/"


def test_the_production_config_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = ServeConfig(str(FIXTURES / "rules"), None, None, reload=True)
    monkeypatch.setenv(CONFIG_VARIABLE, config.to_env())
    assert ServeConfig.from_env() == config
    for bad in ('{"rules": 3}', "[]", '{"rule": "x"}', "{"):
        monkeypatch.setenv(CONFIG_VARIABLE, bad)
        with pytest.raises(InputError, match=f"^{CONFIG_VARIABLE}: expected a JSON object"):
            ServeConfig.from_env()


_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(
    lambda s: s.strip() == s and s.strip() and control_character(s) is None  # control characters are refused
)
_profile = st.fixed_dictionaries(
    {},
    optional={
        "students": st.integers(0, 10**9) | st.floats(0, 1e9, allow_nan=False),
        "sis": _text,
        "uses_clever": st.booleans(),
        "region": st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=10).filter(lambda s: control_character(s) is None),
    },
)


@settings(max_examples=40, deadline=None)
@given(name=_text, notes=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=60).filter(lambda s: control_character(s) is None), profile=_profile,
       answers=st.dictionaries(st.sampled_from(["sftp_daily", "sis_changing", "clever_customer"]), st.sampled_from(["yes", "no", "unknown"])))  # fmt: skip
def test_a_district_survives_the_form_and_the_answers_file(advisor: Any, tmp_path_factory: pytest.TempPathFactory, name: str,
                                                           notes: str, profile: dict, answers: dict) -> None:  # fmt: skip
    from engine.evaluate.answers import district_from_data

    data = {"district": {"name": name, "id": name}, "profile": profile, "answers": answers, "notes": notes}
    district = district_from_data(data, advisor.rules)
    assert _same(district_from_form(dict(form_fields(district, advisor.rules)), advisor.rules)) == _same(district)
    path = tmp_path_factory.mktemp("answers") / "answers.yaml"
    path.write_text(answers_yaml(district, advisor.rules), encoding="utf-8")
    assert _same(read_district(path, advisor.rules)) == _same(district)


def _same(district: Any) -> str:
    """What a district is, types included (JSON tells true from 1 and 1 from 1.0); not where it was read."""
    return json.dumps([district.name, district.id, district.profile, district.answers, district.notes])


def _hidden_fields(page: str) -> dict[str, str]:
    class Hidden(html.parser.HTMLParser):
        fields: dict[str, str] = {}

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            if tag == "input" and a.get("type") == "hidden":
                self.fields[a["name"] or ""] = a.get("value") or ""

    parser = Hidden()
    parser.fields = {}
    parser.feed(page)
    return parser.fields


def _option(page: str) -> str:
    return page.split('<span id="option">', 1)[1].split("</span>", 1)[0]
