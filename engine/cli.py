"""The `rostering-advisor` command: argument parsing and printing over the Python API.

Exit codes: 0 ok; 1 a check found failures; 2 bad input (one line per problem, `file:line:col:`
first, never a traceback); 3 batch finished but some rows failed; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

from .errors import EXIT_OK, EXIT_USER_ERROR, AdvisorError, EngineError

Command = Callable[[argparse.Namespace], int]


def _validate(args: argparse.Namespace) -> int:
    from .rulebook import load_rules

    rules = load_rules(_rules_arg(args, args.dir))
    print(
        f"{rules.source}: ok — {rules.manifest.name} {rules.version}: {len(rules.questions)} questions, "
        f"{len(rules.factors)} factor rules, {len(rules.overrides)} overrides, {len(rules.derived)} derived answers, "
        f"{len(rules.next_steps)} next steps (digest {rules.digest[:12]})"
    )
    return EXIT_OK


def _recommend(args: argparse.Namespace) -> int:
    from .advisor import Advisor

    advisor = Advisor.load(args.rules)
    recommendation = advisor.recommend(advisor.read(args.file))
    text = json.dumps(recommendation.to_dict(), indent=2, ensure_ascii=False) + "\n"
    return _emit(text, args)


def _schema(args: argparse.Namespace) -> int:
    from .answers import answers_schema
    from .output import write_atomic
    from .rulebook import load_rules
    from .schema import packaged_schemas

    schemas = dict(packaged_schemas())
    schemas["answers.schema.json"] = answers_schema(load_rules(args.rules))
    if args.out is None:
        wanted = args.name or "answers.schema.json"
        if wanted not in schemas:
            raise AdvisorError(f"no schema named {wanted}; choose from {', '.join(sorted(schemas))}")
        print(json.dumps(schemas[wanted], indent=2, ensure_ascii=False))
        return EXIT_OK
    args.out.mkdir(parents=True, exist_ok=True)
    for name, schema in sorted(schemas.items()):
        write_atomic(args.out / name, json.dumps(schema, indent=2, ensure_ascii=False) + "\n", force=True)
    print(f"wrote {len(schemas)} schemas to {args.out}")
    return EXIT_OK


def _emit(text: str, args: argparse.Namespace) -> int:
    if getattr(args, "output", None):
        from .output import write_atomic

        write_atomic(args.output, text, force=args.force)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _rules_arg(args: argparse.Namespace, positional: Path | None) -> Path | None:
    return positional if positional is not None else args.rules


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rostering-advisor",
        description="Advise a school district: SIS Sync through Clever, or the User Import Tool.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--rules", type=Path, metavar="DIR", help="rules folder (default: ./rules, else the shipped rules)")
        sub.set_defaults(handler=handler)
        return sub

    sub = command("validate", _validate, "check the rules and print a one-line summary")
    sub.add_argument("dir", nargs="?", type=Path, metavar="DIR", help="rules folder to check")

    sub = command("recommend", _recommend, "recommend a rostering method for one district's answers file")
    sub.add_argument("file", type=Path, metavar="FILE", help="answers file (YAML or JSON)")
    sub.add_argument("--format", choices=("json",), default="json")
    sub.add_argument("-o", "--output", type=Path, metavar="OUT", help="write to OUT (atomically) instead of stdout")
    sub.add_argument("--force", action="store_true", help="replace OUT even if rostering-advisor did not write it")

    sub = command("schema", _schema, "print a JSON Schema, or write all of them to a folder")
    sub.add_argument("name", nargs="?", help="schema file name (default: answers.schema.json)")
    sub.add_argument("--out", type=Path, metavar="DIR", help="write every schema into DIR")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except EngineError as error:
        print(f"rostering-advisor: internal error in the rules engine: {error}", file=sys.stderr)
        return error.exit_code
    except AdvisorError as error:
        for line in str(error).splitlines() or ["error"]:
            print(line, file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("rostering-advisor: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
