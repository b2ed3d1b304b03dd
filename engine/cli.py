"""The `rostering-advisor` command: argument parsing and printing over the Python API.

Exit codes: 0 ok; 1 a check found failures; 2 bad input (one line per problem, `file:line:col:`
first, never a traceback); 3 batch finished but some rows failed; 130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USER_ERROR,
    AdvisorError,
    EngineError,
    InputError,
    SourceLocation,
    github_annotation,
    printable,
)
from engine.render.formats import DOCUMENTS, FORMATS

if TYPE_CHECKING:
    from engine.evaluate.advisor import Recommendation

Command = Callable[[argparse.Namespace], int]


def _validate(args: argparse.Namespace) -> int:
    from engine.evaluate.advisor import Advisor
    from engine.paths import rules_dir
    from engine.rules.rulebook import load_rules

    folder = rules_dir(_rules_arg(args, args.dir))
    rules = load_rules(folder)
    Advisor(rules).start()  # what validate approves, the engine must build and run
    if args.base:
        from engine.verify.impact import check_version_against

        check = check_version_against(args.base, folder)
        for error in check.errors:
            if args.format == "github":
                print(github_annotation("error", error, check.location))
            print(f"{check.location}: {error}", file=sys.stderr)
        if check.errors:
            return EXIT_FAILED
    if args.exhaustive:
        from engine.verify.exhaustive import command

        return command(rules, sys.stdout, sys.stderr)
    print(
        f"{rules.source}: ok — {rules.manifest.name} {rules.version}: {len(rules.questions)} questions, "
        f"{len(rules.factors)} factor rules, {len(rules.overrides)} overrides, {len(rules.derived)} derived answers, "
        f"{len(rules.next_steps)} next steps; the most each option can collect: {_maximum_scores(rules)} "
        f"(digest {rules.digest[:12]})"
    )
    return EXIT_OK


def _maximum_scores(rules: Any) -> str:
    """What each option scores when every answer favours it: computed, so no comment goes stale."""
    best = {o.id: 0.0 for o in rules.options}
    for question in {f.question for f in rules.factors}:
        for option in best:
            best[option] += max((f.weight for f in rules.factors if f.question == question and f.favours == option), default=0)
    return ", ".join(f"{o.label} {best[o.id]:g}" for o in rules.options)


def _not_the_answers_file(output: Path | None, answers: Path, option: str) -> None:
    """Refuse to write advice over the answers file it comes from: one that `ask` wrote carries the
    seal, so the ownership check alone would let the district's answers be replaced."""
    if output is None or str(answers) == "-":
        return
    try:
        same = output.resolve() == answers.resolve() or (output.exists() and answers.exists() and output.samefile(answers))
    except (OSError, RuntimeError):  # a symbolic-link loop: the read or the write reports it
        return
    if same:
        raise InputError.at(SourceLocation(option), f"{output} is the answers file; write the advice to another file")


def _recommend(args: argparse.Namespace) -> int:
    from engine.evaluate.advisor import Advisor

    _not_the_answers_file(args.output, args.file, "-o")
    if args.format is None:  # the advice a person reads, unless -o names a file of another format
        suffix = args.output.suffix.lower().lstrip(".") if args.output else ""
        args.format = next((f.name for f in FORMATS.values() if f.extension == suffix), "md")
    if args.template and args.format not in DOCUMENTS:
        raise InputError.at(SourceLocation("--template"), f"needs {' or '.join(f'--format {name}' for name in DOCUMENTS)}")
    advisor = Advisor.load(args.rules)
    recommendation = advisor.recommend(advisor.read(args.file))
    if args.format not in DOCUMENTS:  # JSON: the recommendation's data, sealed (files.seal)
        text = recommendation.to_json().decode("utf-8")
    else:
        text = _document(recommendation, args)
    return _emit(text, args)


def _document(recommendation: Recommendation, args: argparse.Namespace) -> str:
    """The advice document in `args.format` (md or html), as `recommend` and `ask` print it."""
    from engine.render.documents import Renderer, generation_date

    renderer = Renderer(args.templates)
    return renderer.render(recommendation, args.format, generated=generation_date(args.date, "--date"), template=args.template)


def _ask(args: argparse.Namespace) -> int:
    import os

    from engine.ask.interview import Interview, interview
    from engine.ask.prompts import LinePrompter, TerminalPrompter
    from engine.evaluate.advisor import Advisor
    from engine.evaluate.plan import plural
    from engine.files import ForeignFile, our_file, write_atomic
    from engine.paths import display

    advisor = Advisor.load(args.rules)
    path: Path = args.output
    _not_the_answers_file(args.advice, path, "--advice")
    if not path.resolve().parent.is_dir():  # before the first question, not after the name
        raise InputError.at(SourceLocation(display(path)), f"the folder {display(path.parent)} does not exist")
    start = Interview.of(advisor.read(path)) if args.resume else None  # read and checked before any question
    ours = os.path.lexists(path) and our_file(path)
    if os.path.lexists(path) and not args.force and not (args.resume and ours):  # a district's answers are never lost
        whose = "holds a district's answers" if ours else "was not written by rostering-advisor"
        advice = "use --continue to go on with it, " if ours and not args.resume else ""
        raise ForeignFile.at(SourceLocation(display(path)), f"already exists and {whose}; {advice}use -o another file, or --force")
    terminal = sys.stdin.isatty() and sys.stdout.isatty()
    prompter = TerminalPrompter(sys.stdout) if terminal else LinePrompter(sys.stdin, sys.stderr)
    force = args.force or args.resume  # continuing our FILE replaces it with itself plus the new answers
    done = interview(advisor, prompter, lambda answers: write_atomic(path, answers.to_yaml(), force=force), ask_all=args.all, start=start)
    if not done.name:
        raise InputError.at(SourceLocation("<stdin>"), f"the input ended before a district name was given; {display(path)} not written")
    kept = f"{plural(len(done.answers), 'answer')} written to {display(path)}"
    if done.ended == "interrupted":
        print(f"rostering-advisor: interrupted; {kept}", file=sys.stderr)
        return 130
    prompter.say(kept + ("" if done.ended == "finished" else f" ({done.ended})"))
    text = _document(advisor.recommend(advisor.read(path)), args)
    if args.advice:
        write_atomic(args.advice, text, force=args.force)
        prompter.say(f"Advice written to {display(args.advice)}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _plan(args: argparse.Namespace) -> int:
    from engine.evaluate.advisor import Advisor

    advisor = Advisor.load(args.rules)
    plan = advisor.plan(advisor.read(args.file))
    sys.stdout.write(json.dumps(plan.to_dict(), indent=2, ensure_ascii=False) + "\n" if args.format == "json" else plan.to_text())
    return EXIT_OK


def _context(args: argparse.Namespace) -> int:
    from engine.evaluate.advisor import Advisor
    from engine.render.documents import Renderer, generation_date

    advisor = Advisor.load(args.rules)
    recommendation = advisor.recommend(advisor.read(args.file))
    context = Renderer(args.templates).context(recommendation, generated=generation_date(args.date, "--date"))
    sys.stdout.write(json.dumps(context, indent=2, ensure_ascii=False) + "\n")
    return EXIT_OK


def _guide(args: argparse.Namespace) -> int:
    from engine.render.documents import Renderer, generation_date
    from engine.render.guide import render_guide
    from engine.rules.rulebook import load_rules

    text = render_guide(Renderer(args.templates), load_rules(args.rules), args.format, generated=generation_date(args.date, "--date"))
    return _emit(text, args)


def _test(args: argparse.Namespace) -> int:
    from engine.verify.regress import command

    return command(args, sys.stdout, sys.stderr)


def _impact(args: argparse.Namespace) -> int:
    from engine.verify.impact import command

    return command(args, sys.stdout, sys.stderr)


def _batch(args: argparse.Namespace) -> int:
    from engine.batch.run import command

    return command(args, sys.stdout, sys.stderr)


def _blank(args: argparse.Namespace) -> int:
    from engine.evaluate.answers import blank_answers
    from engine.rules.rulebook import load_rules

    return _emit(blank_answers(load_rules(args.rules)), args)


def _serve(args: argparse.Namespace) -> int:
    from engine.web import server
    from engine.web.workspace import ServeConfig

    config = ServeConfig(
        rules=_text_path(args.rules), templates=_text_path(args.templates), examples=_text_path(args.examples), reload=args.reload
    )
    server.check(config, args.port, args.workers)
    if not server.loopback(args.host):
        print(
            f"rostering-advisor: warning: listening on {args.host}: other machines can reach this server; "
            "put it behind a proxy that controls who may",
            file=sys.stderr,
        )
    print(f"Rostering Advisor at {server.url(args.host, args.port)} (questionnaire; rule playground at /playground). Ctrl-C stops it.")
    sys.stdout.flush()
    server.run(config, args.host, args.port, args.workers)
    return EXIT_OK


def _text_path(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _schema(args: argparse.Namespace) -> int:
    from engine.evaluate.answers import answers_schema
    from engine.files import SEAL_BLANK, seal, write_atomic
    from engine.rules.rulebook import load_rules
    from engine.rules.schema import packaged_schemas

    schemas = dict(packaged_schemas())
    schemas["answers.schema.json"] = answers_schema(load_rules(args.rules))
    if args.out is None:
        wanted = args.name or "answers.schema.json"
        if not wanted.endswith(".json"):
            wanted += ".schema.json"
        if wanted not in schemas:
            raise AdvisorError(f"no schema named {wanted}; choose from {', '.join(sorted(schemas))}")
        print(json.dumps(schemas[wanted], indent=2, ensure_ascii=False))
        return EXIT_OK
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError.at(SourceLocation(str(args.out)), f"cannot create the folder: {exc.strerror}") from None
    for name, schema in sorted(schemas.items()):
        text = json.dumps({**schema, "$comment": SEAL_BLANK}, indent=2, ensure_ascii=False) + "\n"
        write_atomic(args.out / name, seal(text), force=args.force)
    print(f"wrote {len(schemas)} schemas to {args.out}")
    return EXIT_OK


def _emit(text: str, args: argparse.Namespace) -> int:
    """`text` to `-o OUT`, or to standard output (also for `-o -`, as `-` reads standard input)."""
    if getattr(args, "output", None) and str(args.output) != "-":
        from engine.files import write_atomic

        write_atomic(args.output, text, force=args.force)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _rules_arg(args: argparse.Namespace, positional: Path | None) -> Path | None:
    return positional if positional is not None else args.rules


def build_parser() -> argparse.ArgumentParser:
    from engine import __version__

    parser = argparse.ArgumentParser(
        prog="rostering-advisor",
        description="Advise a school district: SIS Sync through Clever, or the User Import Tool.",
    )
    parser.add_argument("--version", action="version", version=f"rostering-advisor {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--rules", type=Path, metavar="DIR", help="rules folder (default: ./rules, else the shipped rules)")
        sub.add_argument(
            "--no-cache", action="store_true", help="neither read nor write the disk cache (also: ROSTERING_ADVISOR_NO_CACHE=1)"
        )
        sub.set_defaults(handler=handler)
        return sub

    def documents(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--templates", type=Path, metavar="DIR", help="templates folder (default: ./templates, else shipped)")
        sub.add_argument("--date", metavar="YYYY-MM-DD", help="generation date (default: $SOURCE_DATE_EPOCH, else today)")

    sub = command("validate", _validate, "check the rules and print a one-line summary")
    sub.add_argument("dir", nargs="?", type=Path, metavar="DIR", help="rules folder to check")
    sub.add_argument("--exhaustive", action="store_true", help="also evaluate all 8,192 yes/no answer combinations")
    sub.add_argument("--base", metavar="REF", help="refuse a rule change since git revision REF without a version bump")
    sub.add_argument("--format", choices=("text", "github"), default="text", help="github: problems as GitHub Actions annotations")

    sub = command("recommend", _recommend, "recommend a rostering method for one district's answers file")
    sub.add_argument("file", type=Path, metavar="FILE", help="answers file (YAML or JSON)")
    sub.add_argument(
        "--format", choices=tuple(FORMATS),
        help="md: the advice a person reads (the default, unless -o names a .json or .html file)",
    )
    sub.add_argument("--template", metavar="NAME_OR_PATH", help="render with this template instead of the format's own")
    sub.add_argument("-o", "--output", type=Path, metavar="OUT", help="write to OUT (atomically) instead of stdout")
    sub.add_argument("--force", action="store_true", help="replace OUT even if rostering-advisor did not write it")
    documents(sub)

    sub = command("plan", _plan, "what to ask a district next: the open question that matters most, or that the option is settled")
    sub.add_argument("file", type=Path, metavar="FILE", help="answers file (YAML or JSON), answered in part or not at all")
    sub.add_argument("--format", choices=("json", "text"), default="text")

    sub = command("ask", _ask, "ask a district's questions in the terminal, the ones that matter first; write its answers and advice")
    sub.add_argument(
        "-o", "--output", type=Path, default=Path("answers.yaml"), metavar="FILE", help="the answers file to write (default: answers.yaml)"
    )
    sub.add_argument("--format", choices=tuple(DOCUMENTS), default="md", help="the advice document's format (default: md)")
    sub.add_argument("--advice", type=Path, metavar="OUT", help="write the advice to OUT (atomically) instead of printing it")
    sub.add_argument("--all", action="store_true", help="ask every question, even once no answer can change the option")
    sub.add_argument("--continue", dest="resume", action="store_true", help="go on with the answers already in FILE")
    sub.add_argument("--force", action="store_true", help="replace FILE (and OUT) even if rostering-advisor did not write them")
    sub.add_argument("--template", metavar="NAME_OR_PATH", help="render the advice with this template instead of the format's own")
    documents(sub)

    sub = command("context", _context, "print the template context of one district's advice as JSON")
    sub.add_argument("file", type=Path, metavar="FILE", help="answers file (YAML or JSON)")
    documents(sub)

    sub = command("guide", _guide, "render the rules as the decision guide districts read (templates/guide.*.j2)")
    sub.add_argument("--format", choices=tuple(DOCUMENTS), default="md")
    sub.add_argument("-o", "--output", type=Path, metavar="OUT", help="write to OUT (atomically) instead of stdout")
    sub.add_argument("--force", action="store_true", help="replace OUT even if rostering-advisor did not write it")
    documents(sub)

    sub = command("test", _test, "run the example districts against the rules and templates")
    sub.add_argument("--examples", type=Path, metavar="DIR", help="examples folder (default: ./examples)")
    sub.add_argument("--update", action="store_true", help="rewrite the golden documents (and only them)")
    sub.add_argument(
        "-k", dest="pattern", metavar="PATTERN", help="run only examples whose name contains PATTERN (or matches it, with * ? [)"
    )
    sub.add_argument("--format", choices=("text", "json", "junit", "github"), default="text")
    sub.add_argument("--min-coverage", type=float, metavar="PCT", help="fail when fewer than PCT%% of rules fired")
    sub.add_argument("--templates", type=Path, metavar="DIR", help="templates folder (default: ./templates, else shipped)")
    sub.add_argument(
        "--date", metavar="YYYY-MM-DD", help="generation date of the golden documents (default: 2026-01-15, fixed so goldens stay stable)"
    )

    sub = command("impact", _impact, "compare two versions of the rules: what changes, and for whom")
    base = sub.add_mutually_exclusive_group(required=True)
    base.add_argument("--base", metavar="REF", help="git revision whose rules/ is the base")
    base.add_argument("--base-dir", type=Path, metavar="DIR", help="another rules folder as the base")
    sub.add_argument("--examples", type=Path, metavar="DIR", help="examples folder (default: ./examples)")
    sub.add_argument("--format", choices=("md", "json", "github"), default="md", help="github: annotations for a pull request")
    sub.add_argument("--workers", type=int, metavar="N", help="processes to use (default: the cores this process may use)")
    sub.add_argument(
        "--templates", type=Path, metavar="DIR", help="templates folder for the decision guide's diff (default: ./templates, else shipped)"
    )

    sub = command("batch", _batch, "advise many districts: a CSV, JSON Lines file or folder in, one document each out")
    sub.add_argument("input", type=Path, metavar="INPUT", help="CSV file, JSON Lines file, or folder of answers files")
    sub.add_argument("--out", type=Path, metavar="DIR", required=True, help="output folder")
    sub.add_argument("--format", default="md", metavar="FORMATS", help=f"comma-separated: {', '.join(FORMATS)} (default: md)")
    sub.add_argument("--workers", type=int, metavar="N", help="processes to use (default: the cores this process may use)")
    sub.add_argument("--force", action="store_true", help="redo every district, even those unchanged since the last run")
    sub.add_argument(
        "--prune", action="store_true",
        help="remove the documents earlier runs wrote that this run did not (districts gone from the input or failed)",
    )
    sub.add_argument("--quiet", action="store_true", help="no progress output")
    sub.add_argument(
        "--template", metavar="NAME_OR_PATH", help="render md/html documents with this template instead of each format's own"
    )
    documents(sub)

    sub = command("blank", _blank, "print a blank answers file: every question as a comment, to fill in")
    sub.add_argument("-o", "--output", type=Path, metavar="OUT", help="write to OUT (atomically) instead of stdout")
    sub.add_argument("--force", action="store_true", help="replace OUT even if rostering-advisor did not write it")

    sub = command("serve", _serve, "the questionnaire, rule playground and JSON API in the browser")
    sub.add_argument("--templates", type=Path, metavar="DIR", help="templates folder (default: ./templates, else shipped)")
    sub.add_argument("--examples", type=Path, metavar="DIR", help="example districts for the playground (default: ./examples)")
    sub.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    sub.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    sub.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes, one engine each (default: 1)")
    sub.add_argument("--reload", action="store_true", help="reload rules and templates when their files change")

    sub = command("schema", _schema, "print a JSON Schema, or write all of them to a folder")
    sub.add_argument("name", nargs="?", help="schema name, e.g. factors or factors.schema.json (default: answers)")
    sub.add_argument("--out", type=Path, metavar="DIR", help="write every schema into DIR")
    sub.add_argument("--force", action="store_true", help="replace schema files in DIR that rostering-advisor did not write")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if sys.stdout is None:  # started with standard output closed
            raise InputError.at(SourceLocation("<stdout>"), "standard output is closed; redirect it to a file or /dev/null")
        if args.no_cache:
            from engine.cache import disabled

            with disabled():
                code = args.handler(args)
        else:
            code = args.handler(args)
        sys.stdout.flush()  # a full device fails here rather than at exit, with a traceback
        return code
    except EngineError as error:
        print(printable(f"rostering-advisor: internal error in the rules engine: {error}"), file=sys.stderr)
        return error.exit_code
    except AdvisorError as error:
        if getattr(args, "format", None) == "github":
            for diagnostic in getattr(error, "diagnostics", ()) or ():
                where = f" (at {diagnostic.path})" if diagnostic.path else ""
                print(github_annotation("error", diagnostic.message + where, diagnostic.location))
        for line in str(error).splitlines() or ["error"]:
            print(printable(line), file=sys.stderr)  # user text in a message never drives the terminal
        return error.exit_code
    except KeyboardInterrupt:
        print("rostering-advisor: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `| head`: the reader has all it wanted
        _drop_stdout()
        return EXIT_OK
    except OSError as error:  # standard output on a full device, say (files name themselves in InputErrors)
        _drop_stdout()
        print(f"{error.filename or '<stdout>'}: cannot write: {error.strerror}", file=sys.stderr)
        return EXIT_USER_ERROR


def _drop_stdout() -> None:
    """Point standard output at /dev/null, so that the flush at exit cannot fail (and print) again."""
    stdout = sys.stdout
    if stdout is sys.__stdout__ and stdout is not None:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stdout.fileno())
        os.close(null)


def run() -> None:
    """Console-script entry point; Ctrl-C even before a command starts is exit 130, no traceback."""
    try:
        code = main()
    except KeyboardInterrupt:
        print("rostering-advisor: interrupted", file=sys.stderr)
        code = 130
    # The command is done and the process ends: spare the interpreter's shutdown its garbage
    # collection passes over every object still alive (~15 ms of CPU, more than recommend's work).
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
