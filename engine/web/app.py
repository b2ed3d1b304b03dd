"""The web app: the questionnaire for districts (`/`), the rule playground for product managers
(`/playground`) and the JSON API (`/api/...`), on Starlette.

Every handler is `async` and calls the engine on the event loop itself: the engine is not
thread-safe, so a process serves one request at a time through it and scales by processes
(`serve --workers N`, or uvicorn's `--workers` in production). Nothing about a district is kept
between requests: pages carry the answers in their forms (see `forms`).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from engine.errors import AdvisorError, InputError, TemplateError
from engine.evaluate.advisor import Advisor, Recommendation
from engine.evaluate.answers import District, district_from_data
from engine.evaluate.plan import OpenQuestion
from engine.render.documents import generation_date
from engine.web.forms import answers_yaml, district_from_form, form_data, form_fields, profile_fields, read_answers
from engine.web.guard import Guard, content_security_policy
from engine.web.workspace import Loaded, ServeConfig, Workspace

CHOICES = (("yes", "Yes"), ("no", "No"), ("unknown", "Not sure"))
UNNAMED = "Your district"  # the standing needs a name before the district has typed one
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)

PAGES = Environment(
    loader=PackageLoader("engine.web", "pages"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

Handler = Callable[[Request], Awaitable[Response]]


def create_app(config: ServeConfig | None = None) -> Starlette:
    """The app over the folders of `config` (else those `serve` put in the environment)."""
    site = Site(Workspace(config if config is not None else ServeConfig.from_env()))
    routes = [  # the API first: the router tries the routes in turn (~0.4 us each), and it is what is called at volume
        Route("/api/recommend", site.api_recommend, methods=["POST"]),
        Route("/api/plan", site.api_plan, methods=["POST"]),
        Route("/api/questions", site.api_questions),
        Route("/healthz", site.healthz),
        Route("/", site.questionnaire, methods=["GET", "POST"]),
        Route("/standing", site.standing, methods=["POST"]),
        Route("/upload", site.upload, methods=["POST"]),
        Route("/advice", site.advice, methods=["POST"]),
        Route("/download/{name}", site.download, methods=["POST"]),
        Route("/playground", site.playground),
        Mount("/static", StaticFiles(packages=[("engine.web", "static")]), name="static"),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(Guard)
    app.state.workspace = site.workspace
    return app


class Site:
    """The pages and API routes over one Workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._order: dict[str, tuple[OpenQuestion, ...]] = {}  # rules digest -> questions in the plan's order

    # --- the questionnaire -----------------------------------------------------------------

    async def questionnaire(self, request: Request) -> Response:
        """GET: a blank questionnaire. POST (the form without JavaScript): the same answers with the standing."""
        loaded = self.workspace.refresh()
        form = await request.form() if request.method == "POST" else {}
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        return self._questionnaire(loaded, fields, [])

    async def standing(self, request: Request) -> Response:
        """The standing panel alone, for the page's script to put in its live region."""
        loaded = self.workspace.refresh()
        form = await request.form()
        plan, problems = self._plan(loaded, form)
        html = PAGES.get_template("_standing.html").render(plan=plan, problems=problems, rules=loaded.advisor.rules)
        return HTMLResponse(html)

    async def upload(self, request: Request) -> Response:
        """An answers file to continue from: the questionnaire filled in, or its problems at `file:line:col`."""
        loaded = self.workspace.refresh()
        form = await request.form()
        upload = form.get("answers_file")
        if upload is None or isinstance(upload, str):
            return self._questionnaire(loaded, {}, ["answers_file: choose an answers file to load"], status=422)
        name = _shown_name(upload.filename or "answers.yaml")
        try:
            district = read_answers(await upload.read(), name, loaded.advisor.rules)
        except InputError as error:
            return self._questionnaire(loaded, {}, _messages(error), status=422)
        return self._questionnaire(loaded, dict(form_fields(district, loaded.advisor.rules)), [])

    async def advice(self, request: Request) -> Response:
        """The advice page: the document in the page, and its downloads."""
        loaded = self.workspace.refresh()
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        try:
            district = district_from_form(fields, loaded.advisor.rules)
            rec = loaded.advisor.recommend(district)
        except InputError as bad:
            return self._questionnaire(loaded, fields, _messages(bad), status=422)
        document, error = _document(loaded, rec)
        return self._page(
            "advice.html",
            loaded,
            styles=_styles(document),
            district=district,
            rec=rec,
            label=loaded.advisor.rules.option(rec.option).label,
            fields=form_fields(district, loaded.advisor.rules),
            document=document,
            document_error=error,
        )

    async def download(self, request: Request) -> Response:
        """One of the advice page's downloads, made again from the answers the page carries."""
        loaded = self.workspace.refresh()
        name = request.path_params["name"]
        if name not in DOWNLOADS:
            return _json_errors([f"download: no such file {name!r}; choose from {', '.join(DOWNLOADS)}"], 404)
        form = await request.form()
        try:
            district = district_from_form({k: v for k, v in form.items() if isinstance(v, str)}, loaded.advisor.rules)
            body = DOWNLOADS[name](loaded, district)
        except AdvisorError as error:
            return _json_errors(_messages(error), 422)
        media = {"yaml": "application/yaml", "md": "text/markdown", "html": "text/html", "json": "application/json"}
        return Response(
            body,
            media_type=f"{media[name.rsplit('.', 1)[1]]}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    # --- the playground --------------------------------------------------------------------

    async def playground(self, request: Request) -> Response:
        """An example district (or a blank one), its answers toggled by the query, and everything
        the rules make of it: the recommendation, the rules that fired and where they are written,
        the document. The page reloads itself when the files change (with `--reload`)."""
        loaded = self.workspace.refresh()
        rules = loaded.advisor.rules
        examples = self.workspace.examples()
        example = request.query_params.get("example", "")
        problems: list[str] = []
        status = 200
        fields: dict[str, str] = {"district_name": "Blank district"}
        if example:
            try:
                fields = dict(form_fields(self.workspace.example(example, loaded.advisor), rules))
            except KeyError:
                problems.append(f"example: no example district named {example!r}; choose one from the list")
                example, status = "", 404
            except InputError as bad:
                problems.extend(_messages(bad))
                example, status = "", 422
        fields.update((k, v) for k, v in request.query_params.items() if k.startswith("answer."))
        rec = document = error = None
        try:
            rec = loaded.advisor.recommend(district_from_form(fields, rules))
            document, error = _document(loaded, rec)
        except InputError as bad:
            problems.extend(_messages(bad))
            status = 422
        trace = []
        if rec is not None:
            for firing in rec.outcome.trace:
                where = rules.rule_location(firing.rule)
                trace.append((firing.rule, firing.kind, f"{where.file}:{where.line}" if where else "built in"))
        return self._page(
            "playground.html",
            loaded,
            status=status,
            styles=_styles(document),
            examples=examples,
            example=example,
            answers={q.id: fields.get(f"answer.{q.id}", "unknown") for q in rules.questions},
            problems=problems,
            rec=rec,
            trace=trace,
            document=document,
            document_error=error,
            workspace=self.workspace,
        )

    # --- the JSON API ----------------------------------------------------------------------

    async def api_questions(self, request: Request) -> Response:
        loaded = self.workspace.refresh()
        rules = loaded.advisor.rules
        themes = {t.id: t.label for t in rules.themes}
        return JSONResponse(
            {
                "rules": {"name": rules.manifest.name, "version": rules.version, "digest": rules.digest},
                "answers": [value for value, _ in CHOICES],
                "order": [q.id for q in self._plan_order(loaded.advisor)],
                "questions": [
                    {
                        "id": q.id,
                        "number": number,
                        "text": q.text,
                        "help": q.help,
                        "theme": q.theme,
                        "theme_label": themes.get(q.theme),
                        "informational": q.informational,
                    }
                    for number, q in enumerate(rules.questions, 1)
                ],
                "profile": [
                    {"field": f.name, "label": f.label, "kind": f.kind, "choices": list(f.choices)} for f in profile_fields(rules)
                ],
            }
        )

    async def api_plan(self, request: Request) -> Response:
        """The plan for an answers document: `rostering-advisor plan --format json`."""
        return await self._api(request, lambda loaded, district: JSONResponse(loaded.advisor.plan(district).to_dict()))

    async def api_recommend(self, request: Request) -> Response:
        """The same JSON as `rostering-advisor recommend --format json`."""
        return await self._api(
            request, lambda loaded, district: Response(_recommendation_json(loaded, district), media_type="application/json")
        )

    async def healthz(self, request: Request) -> Response:
        """What is serving: the rules' version and digest, and the problems that keep an edit from serving."""
        loaded = self.workspace.refresh()
        return JSONResponse(
            {
                "status": "ok" if not self.workspace.problems else "stale",
                "version": loaded.version,
                "digest": loaded.digest,
                "state": self.workspace.state,
                "problems": list(self.workspace.problems),
            }
        )

    # --- helpers ---------------------------------------------------------------------------

    async def _api(self, request: Request, answer: Callable[[Loaded, District], Response]) -> Response:
        """An API call on the answers document in the body (JSON): 422 with located messages when it is bad."""
        loaded = self.workspace.refresh()
        try:
            district = read_answers(await request.body(), "request", loaded.advisor.rules, json_only=True)
        except InputError as error:
            return _json_errors(_messages(error), 422)
        return answer(loaded, district)

    def _questionnaire(self, loaded: Loaded, fields: dict[str, str], errors: list[str], status: int = 200) -> Response:
        rules = loaded.advisor.rules
        plan, problems = self._plan(loaded, fields)
        order = self._plan_order(loaded.advisor)
        known = {f"profile.{f.name}" for f in profile_fields(rules)}
        return self._page(
            "questionnaire.html",
            loaded,
            status=status,
            errors=errors,
            fields=fields,
            extra=[(k, v) for k, v in fields.items() if k.startswith("profile_json.") or (k.startswith("profile.") and k not in known)],
            questions=order,
            profile=profile_fields(rules),
            plan=plan,
            problems=problems,
        )

    def _plan(self, loaded: Loaded, fields: Any) -> tuple[Any, list[str]]:
        """The standing for the form's answers (named `UNNAMED` until the district types its name)."""
        rules = loaded.advisor.rules
        data = form_data({k: v for k, v in fields.items() if isinstance(v, str)}, rules)
        data["district"]["name"] = data["district"]["name"] or UNNAMED
        try:
            return loaded.advisor.plan(district_from_data(data, rules, source="form")), []
        except InputError as error:
            return None, _messages(error)

    def _plan_order(self, advisor: Advisor) -> tuple[OpenQuestion, ...]:
        """Every question, in the order the plan asks them of a district that has answered nothing
        (with the guide's help for each answer)."""
        digest = advisor.rules.digest
        if digest not in self._order:
            self._order[digest] = advisor.plan(district_from_data({"district": {"name": UNNAMED}}, advisor.rules)).open
        return self._order[digest]

    def _page(self, name: str, loaded: Loaded, *, status: int = 200, styles: tuple[str, ...] = (), **context: Any) -> Response:
        html = PAGES.get_template(name).render(
            rules=loaded.advisor.rules, loaded=loaded, reload=self.workspace.config.reload, choices=CHOICES, **context
        )
        return HTMLResponse(html, status, headers={"Content-Security-Policy": content_security_policy(styles)})


def _recommendation_json(loaded: Loaded, district: District) -> bytes:
    return loaded.advisor.recommend(district).to_json()  # as `recommend` writes it, sealed; UTF-8 bytes, sent as they are


def _advice(fmt: str) -> Callable[[Loaded, District], str]:
    def render(loaded: Loaded, district: District) -> str:
        return loaded.renderer.render(loaded.advisor.recommend(district), fmt, generated=_today())

    return render


DOWNLOADS: dict[str, Callable[[Loaded, District], str | bytes]] = {
    "advice.html": _advice("html"),
    "advice.md": _advice("md"),
    "advice.json": _recommendation_json,
    "answers.yaml": lambda loaded, district: answers_yaml(district, loaded.advisor.rules),
}


def _document(loaded: Loaded, rec: Recommendation) -> tuple[str | None, str | None]:
    """The HTML advice document for the page, or why the templates could not make it."""
    try:
        return loaded.renderer.render(rec, "html", generated=_today()), None
    except (TemplateError, InputError) as error:
        return None, str(error)


def _styles(document: str | None) -> tuple[str, ...]:
    """The CSP hashes of the document's own stylesheets: the page lets those, and only those, apply."""
    if document is None:
        return ()
    return tuple(
        "sha256-" + base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
        for css in _STYLE.findall(document)
    )


def _today() -> datetime.date:
    """The documents' date, as the command line picks it ($SOURCE_DATE_EPOCH, else today)."""
    return generation_date(None, "--date")


def _messages(error: AdvisorError) -> list[str]:
    if isinstance(error, InputError):
        return [str(d) for d in error.diagnostics]
    return [line for line in str(error).splitlines() if line.strip()]


def _json_errors(messages: list[str], status: int) -> JSONResponse:
    return JSONResponse({"errors": messages}, status)


def _shown_name(filename: str) -> str:
    """An uploaded file's name for messages: its last part, printable characters only."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in name if c.isprintable())[:100] or "answers.yaml"
