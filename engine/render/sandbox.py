"""The Jinja environments documents render in: sandboxed, strict, and bounded.

Built on `ImmutableSandboxedEnvironment` (no `_`-attributes, no mutation of lists and dicts) with
`StrictUndefined` (a misspelt variable is an error, never a blank), and tightened further:

* `str.format` and `str.format_map` are unavailable (Jinja would sandbox them; here they are
  simply refused, since a template never needs them and they are the classic escape route);
* `*`, `+`, `**` and `%` refuse to build a string or list larger than `Limits.max_value`
  characters/items (`{{ 'x' * 10**9 }}` fails at once instead of allocating a gigabyte), or a
  number of more than `Limits.max_int_bits` bits; `%`-formatting refuses widths and precisions
  above `Limits.max_width`; `range()` refuses more than `Limits.max_range` items;
* the filters that can inflate text (`center`, `indent`, `wordwrap`, `truncate`, `format`,
  `replace`, `join`, `batch`, `slice`) check their arguments the same way, `sum` adds numbers
  only; `random` (not reproducible) and the `lipsum` global (unbounded text) are removed;
* the text a `{% set %}…{% endset %}` block captures is size-checked (`BoundedCapture`), and what
  a single C call can still build (`~` doubling, `|string` of nested lists) is bounded by the
  render's memory limit (`limits.memory_limit`), a compilation too;
* macro calls nest at most `Limits.max_depth` deep, and macros refuse arguments over the size cap;
* reading an attribute or item that holds an oversized string or list is refused.

The Markdown environment escapes every printed value (`escaping.markdown_finalize`) unless it is
`MarkdownText`: the output of a macro or of `|safe`. The HTML environment uses Jinja's autoescape.

The format's file — `_markdown.j2` or `_html.j2` — is the global `f` of the environment, and its
markup tokens, `m`, the global `m` (`load_format`, before any other template is compiled); `m` is
reserved for them, and `{{ m.b }}` is built into a template as text when it is compiled
(`FoldMarkup`): a document prints hundreds of tokens, and each would otherwise cost an attribute
read and an escape check.
"""

from __future__ import annotations

import functools
import re
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jinja2 import BaseLoader, StrictUndefined, TemplateNotFound, nodes, pass_environment
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import TemplateModule
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.ext import Extension
from jinja2.filters import FILTERS, make_attrgetter
from jinja2.lexer import Token, TokenStream
from jinja2.runtime import LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace
from markupsafe import Markup

from engine.render.escaping import MarkdownText, html_finalize, markdown_finalize
from engine.render.formats import DOCUMENTS, Templating
from engine.render.limits import bounded


@dataclass(frozen=True)
class Limits:
    """Caps on one render; see docs/templates.md, "Limits"."""

    max_output: int = 5_000_000  # characters of output
    max_seconds: float = 10.0  # wall-clock time of one render, and of compiling one template
    max_memory: int = 1 << 30  # bytes the process may grow by during a render or a compilation
    max_value: int = 5_000_000  # characters of a string, items of a list, built in a template
    max_range: int = 10_000  # items of range()
    max_width: int = 1_000  # width or precision in %-formatting, center/indent/wordwrap widths
    max_depth: int = 64  # nested macro calls
    max_int_bits: int = 4_096  # size of an integer computed in a template


_MARKUP_FILES = frozenset(d.markup_file for d in DOCUMENTS.values())  # where each format sets its tokens, `m`
_FORMAT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_STATE = threading.local()
# The loop variable's fields a template reads most (all plain values; the rest take the checked path).
_LOOP_FIELDS = frozenset({"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0"})
# What `squash` tightens once whitespace is single spaces: no space before , . ; : ! ? ) ” nor after ( “
_TIGHTEN = tuple((" " + mark, mark) for mark in ",.;:!?)”") + tuple((mark + " ", mark) for mark in "(“")


def _refuse(message: str) -> SecurityError:
    return SecurityError(message)


_SIZED = (str, list, tuple)
_NUMBERS = frozenset({int, float})  # not bool: `type(True) is bool`
_ABSENT = object()
_BUILTIN_METHOD: Any = type({}.get)  # Any: `type(x) is` it must not narrow x for the checker


def _size(value: Any) -> int:
    return len(value) if isinstance(value, _SIZED) else 0


class BoundedCapture(CodeGenerator):
    """Jinja's code generator, but the text a `{% set x %}…{% endset %}` block captured goes through
    the sandbox's size check before it is assigned: block capture in a loop cannot double a value
    past `Limits.max_value` unseen (Jinja 3.1's `visit_AssignBlock`, with that one call added)."""

    def visit_AssignBlock(self, node: nodes.AssignBlock, frame: Frame) -> None:
        self.push_assign_tracking()
        block_frame = frame.inner()
        block_frame.require_output_check = False  # a set block captures: no output checks (Jinja's comment)
        block_frame.symbols.analyze_node(node)
        self.enter_frame(block_frame)
        self.buffer(block_frame)
        self.blockvisit(node.body, block_frame)
        self.newline(node)
        self.visit(node.target, frame)
        self.write(" = environment._bounded((Markup if context.eval_ctx.autoescape else identity)(")
        if node.filter is not None:
            self.visit_Filter(node.filter, block_frame)
        else:
            self.write(f"concat({block_frame.buffer})")
        self.write("))")
        self.pop_assign_tracking(frame)
        self.leave_frame(block_frame)


class DocumentSandbox(ImmutableSandboxedEnvironment):
    """A sandboxed Jinja environment for one document format (`formats.DOCUMENTS`)."""

    intercepted_binops = frozenset({"*", "+", "**", "%"})
    code_generator_class = BoundedCapture

    def __init__(self, loader: BaseLoader, fmt: Templating, limits: Limits) -> None:
        markdown = fmt.escaping == "markdown"
        super().__init__(
            loader=loader,
            undefined=StrictUndefined,
            autoescape=not markdown,
            finalize=markdown_finalize if markdown else html_finalize,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
            cache_size=-1,
            extensions=[FoldMarkup],
        )
        self.markdown = markdown
        self.limits = limits
        self.markup_file = fmt.markup_file
        self.tokens: dict[str, str] = {}  # the markup tokens FoldMarkup builds into templates
        self._format_loaded = False
        self.globals.pop("lipsum", None)
        self.globals["range"] = self._range
        self.filters.pop("random", None)
        for name, check in _FILTER_CHECKS.items():
            self.filters[name] = _checked_filter(FILTERS[name], check)
        self.filters["sum"] = self._sum
        self.filters["squash"] = squash
        self.filters["lines"] = self._lines
        self.globals["markup"] = self._markup
        if markdown:
            self.filters["safe"] = MarkdownText

    def load_format(self) -> None:
        """Make the format's file (`_markdown.j2` or `_html.j2`) the global `f`, and its markup
        tokens (the `m` it sets) the global `m`: once, before any other template is compiled, and
        within the time limit of a render. Nothing happens if the folder has no such file."""
        if self._format_loaded:
            return
        self._format_loaded = True
        try:
            template = self.get_template(self.markup_file)
        except TemplateNotFound as missing:
            if missing.name == self.markup_file:
                return
            raise
        with bounded(self.limits.max_seconds, self.limits.max_memory):
            module = template.module
        self.globals["f"] = module
        tokens = getattr(module, "m", None)
        if isinstance(tokens, dict):
            self.globals["m"] = tokens
            markup = MarkdownText if self.markdown else Markup
            self.tokens = {k: v for k, v in tokens.items() if type(v) is markup}  # made by markup(): printed as they are

    # --- what may be read and called ---------------------------------------------------------

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr in ("format", "format_map") and isinstance(obj, str):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> None:
        return None  # str.format is refused by is_safe_attribute and call, never wrapped

    # getattr, getitem and call have fast paths for what documents use most (plain dicts, macros);
    # they give what the general, checked paths would.

    def getattr(self, obj: Any, attribute: str) -> Any:
        kind = type(obj)
        if kind is dict:  # the context is plain dicts: read the key first
            value = obj.get(attribute, _ABSENT)
            if value is not _ABSENT:
                if isinstance(value, _SIZED) and len(value) > self.limits.max_value:
                    raise _refuse(f"a value of more than {self.limits.max_value:,} characters or items")
                return value
            if attribute == "get":  # {{ numbers.get(n, n) }}: reads only
                return obj.get
        if kind is Namespace:  # {% set ns = namespace(...) %}
            data = _namespace_data(obj)
            if attribute in data:
                return self._bounded(data[attribute])
        if kind is TemplateModule and attribute[:1] != "_" and attribute in obj.__dict__:  # imported macros and sets
            return obj.__dict__[attribute]
        if kind is LoopContext and attribute in _LOOP_FIELDS:
            return getattr(obj, attribute)
        return self._bounded(super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        if type(obj) is dict and type(argument) is str and argument in obj:
            return self._bounded(obj[argument])
        return self._bounded(super().getitem(obj, argument))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        limit = __self.limits.max_value
        for value in (*args, *kwargs.values()):
            if _size(value) > limit:
                raise _refuse(f"an argument of more than {limit:,} characters or items")
        if type(__obj) is _BUILTIN_METHOD and type(__obj.__self__) is dict and __obj.__name__ == "get":
            kwargs.pop("_block_vars", None)  # {{ numbers.get(n, n) }}: a read, as the general path would call it
            kwargs.pop("_loop_vars", None)
            return __self._bounded(__obj(*args, **kwargs))
        if not isinstance(__obj, Macro):
            name = getattr(__obj, "__name__", "")
            if name in ("format", "format_map") and isinstance(getattr(__obj, "__self__", None), str):
                raise _refuse("str.format is not available in templates; use the |format filter")
            return __self._bounded(super().call(__context, __obj, *args, **kwargs))
        depth = getattr(_STATE, "depth", 0)
        if depth >= __self.limits.max_depth:
            raise _refuse(f"macros nested more than {__self.limits.max_depth} deep (a macro calling itself?)")
        _STATE.depth = depth + 1
        # what the sandbox's call and Context.call (jinja2 3.1) come to for a macro: a safe callable
        # that takes no context, called without the compiler's loop and block variables
        kwargs.pop("_block_vars", None)
        kwargs.pop("_loop_vars", None)
        try:
            result = __obj(*args, **kwargs)
        except StopIteration:
            return __self.undefined("value was undefined because a callable raised a StopIteration exception")
        finally:
            _STATE.depth = depth
        return MarkdownText(result) if __self.markdown else result

    def _markup(self, tokens: dict) -> dict:
        """The `markup(...)` global: a dict whose strings are markup of this format, printed as they are."""
        safe = MarkdownText if self.markdown else Markup
        return {key: safe(value) if isinstance(value, str) else value for key, value in tokens.items()}

    def _sum(self, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
        """The `sum` filter, of numbers only: a sum of lists or strings copies them over and over
        inside one C call, which neither the size checks nor the time limit could stop."""
        items = list(iterable)
        if attribute is not None:
            items = list(map(make_attrgetter(self, attribute), items))
        if not all(type(x) in _NUMBERS for x in (start, *items)):
            raise _refuse("sum() adds numbers only")
        return sum(items, start)

    def _lines(self, value: Any, width: int = 80) -> tuple[str, ...]:
        """The `lines` filter: text wrapped into lines of at most `width` characters (for SVG labels)."""
        if not _is_int(width) or not 1 <= width <= self.limits.max_width:
            raise _refuse(f"lines() takes a width from 1 to {self.limits.max_width}")
        return _wrap(str(value), width)

    # --- operators and ranges ------------------------------------------------------------------

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        kinds = (type(left), type(right))
        if kinds[0] in _NUMBERS and kinds[1] in _NUMBERS:  # chart arithmetic: ~170 operations in an HTML document
            if operator_ == "+" or operator_ == "%" or float in kinds:
                # a sum or a remainder of two numbers, or a float result, cannot outgrow the checks below
                return self.binop_table[operator_](left, right)
            if operator_ == "*" and abs(left).bit_length() + abs(right).bit_length() <= self.limits.max_int_bits:
                return left * right  # what the checks below let through for two integers
        limits = self.limits
        if operator_ == "*":
            for seq, times in ((left, right), (right, left)):
                if _size(seq) and isinstance(times, int) and _size(seq) * times > limits.max_value:
                    raise _refuse(f"'*' would build more than {limits.max_value:,} characters or items")
            if _is_int(left) and _is_int(right) and abs(left).bit_length() + abs(right).bit_length() > limits.max_int_bits:
                raise _refuse(f"'*' would compute a number of more than {limits.max_int_bits} bits")
        elif operator_ == "+":
            if _size(left) + _size(right) > limits.max_value:
                raise _refuse(f"'+' would build more than {limits.max_value:,} characters or items")
        elif operator_ == "**":
            if _is_int(left) and _is_int(right) and abs(left) > 1 and abs(left).bit_length() * right > limits.max_int_bits:
                raise _refuse(f"'**' would compute a number of more than {limits.max_int_bits} bits")
        elif operator_ == "%" and isinstance(left, str):
            _check_format(left, limits)
        return self._bounded(self.binop_table[operator_](left, right))

    def _range(self, *args: int) -> range:
        values = range(*args)
        if len(values) > self.limits.max_range:
            raise _refuse(f"range() of more than {self.limits.max_range:,} items")
        return values

    def _bounded(self, value: Any) -> Any:
        if isinstance(value, _SIZED) and len(value) > self.limits.max_value:
            raise _refuse(f"a value of more than {self.limits.max_value:,} characters or items")
        return value


class FoldMarkup(Extension):
    """`{{ m.NAME }}` becomes the token's text when the template is compiled (see the module's docstring).

    `m` is reserved for the tokens: a template other than a format's file that binds a name `m`
    (`{% set m %}`, a macro argument, a loop variable) is refused, so that every `m` a template
    reads is the global one, whatever includes, imports or extends it. Only tokens that `markup()`
    made are built in; any other value in `m` is printed (and escaped) as usual.
    """

    def filter_stream(self, stream: TokenStream) -> Any:
        tokens = list(stream)
        env = self.environment
        if stream.name in _MARKUP_FILES or not isinstance(env, DocumentSandbox):
            yield from tokens
            return
        binding = _binds_m(tokens)
        if binding is not None:
            raise TemplateSyntaxError(
                "'m' is the format's markup tokens (set in _markdown.j2 and _html.j2); give this variable another name",
                binding.lineno,
                stream.name,
                stream.filename,
            )
        table = env.tokens
        i = 0
        while i < len(tokens):
            window = tokens[i : i + 5]
            if table and len(window) == 5 and _prints_token(window) and window[3].value in table:
                yield Token(window[0].lineno, "data", table[window[3].value])
                i += 5
            else:
                yield tokens[i]
                i += 1


def _prints_token(window: list[Token]) -> bool:
    begin, name, dot, attribute, end = window
    return (
        begin.type == "variable_begin"
        and name.type == "name"
        and name.value == "m"
        and dot.type == "dot"
        and attribute.type == "name"
        and end.type == "variable_end"
    )


def _binds_m(tokens: list[Token]) -> Token | None:
    """The first name `m` that appears other than as `m.<attribute>`, if any."""
    for i, token in enumerate(tokens):
        if token.type == "name" and token.value == "m" and (i + 1 == len(tokens) or tokens[i + 1].type != "dot"):
            previous = tokens[i - 1] if i else None
            if previous is None or previous.type != "dot":  # `x.m` is an attribute, not a name
                return token
    return None


def squash(value: Any) -> Any:
    """The `squash` filter: text on one line, whitespace runs as single spaces, and no space before
    `, . ; : ! ? ) ”` or after `( “` (so templates may break lines anywhere); markup stays safe."""
    text = _squashed(str(value))
    if isinstance(value, MarkdownText):
        return MarkdownText(text)
    if isinstance(value, Markup):
        return Markup(text)
    return text


@functools.lru_cache(maxsize=4096)
def _squashed(text: str) -> str:
    """Remembered: the same list items (a reason, a flip) recur in document after document."""
    text = " ".join(text.split())
    for spaced, tight in _TIGHTEN:  # str.replace: several times faster than one regular expression
        text = text.replace(spaced, tight)
    return text


@functools.lru_cache(maxsize=4096)
def _wrap(text: str, width: int) -> tuple[str, ...]:
    return tuple(textwrap.wrap(text, width)) or ("",)


def _namespace_data(namespace: Namespace) -> dict:
    return object.__getattribute__(namespace, "_Namespace__attrs")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_format(spec: str, limits: Limits) -> None:
    for match in _FORMAT_SPEC.finditer(spec):
        for number in match.groups():
            if number == "*" or (number and int(number) > limits.max_width):
                raise _refuse(f"a %-format width or precision above {limits.max_width}")


# --- filters that can inflate text -------------------------------------------------------------

Check = Callable[[DocumentSandbox, tuple, dict], None]


def _width_arg(position: int, name: str, default: int) -> Check:
    def check(env: DocumentSandbox, args: tuple, kwargs: dict) -> None:
        width = args[position] if len(args) > position else kwargs.get(name, default)
        if isinstance(width, str):
            width = len(width)
        if _is_int(width) and width > env.limits.max_width:
            raise _refuse(f"a width above {env.limits.max_width}")

    return check


def _check_format_filter(env: DocumentSandbox, args: tuple, kwargs: dict) -> None:
    if args and isinstance(args[0], str):
        _check_format(args[0], env.limits)


def _check_replace(env: DocumentSandbox, args: tuple, kwargs: dict) -> None:
    if len(args) >= 3:
        text, old, new = str(args[0]), str(args[1]), str(args[2])
        count = len(text) + 1 if old == "" else text.count(old)
        if len(text) + count * len(new) > env.limits.max_value:
            raise _refuse(f"replace() would build more than {env.limits.max_value:,} characters")


def _check_join(env: DocumentSandbox, args: tuple, kwargs: dict) -> None:
    if args and isinstance(args[0], (list, tuple)):
        items = args[0]
        separator = args[1] if len(args) > 1 else kwargs.get("d", "")
        total = sum(_size(item) for item in items) + _size(separator) * len(items)
        if total > env.limits.max_value:
            raise _refuse(f"join() would build more than {env.limits.max_value:,} characters")


def _count_arg(what: str) -> Check:
    """The second argument of `batch` / `slice`: how many items or slices, at most `max_range`
    (`|batch(10**9, 0)` would fill a list of a billion items inside one C call)."""

    def check(env: DocumentSandbox, args: tuple, kwargs: dict) -> None:
        count = args[1] if len(args) > 1 else kwargs.get(what)
        if isinstance(count, int) and count > env.limits.max_range:
            raise _refuse(f"{what} above {env.limits.max_range:,}")

    return check


_FILTER_CHECKS: dict[str, Check] = {
    "batch": _count_arg("linecount"),
    "slice": _count_arg("slices"),
    "center": _width_arg(1, "width", 80),
    "indent": _width_arg(1, "width", 4),
    "wordwrap": _width_arg(1, "width", 79),
    "truncate": _width_arg(1, "length", 255),
    "format": _check_format_filter,
    "replace": _check_replace,
    "join": _check_join,
}


def _checked_filter(original: Callable, check: Check) -> Callable:
    """`original`, called only after `check` accepts its arguments; the result is size-checked."""
    needs = getattr(original, "jinja_pass_arg", None)

    if needs is None:

        @pass_environment
        def checked(env: DocumentSandbox, *args: Any, **kwargs: Any) -> Any:
            check(env, args, kwargs)
            return env._bounded(original(*args, **kwargs))

    else:
        # eval-context or environment filters: the first argument is that, then the value.
        def checked(first: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]  # the other variant's first is `env`
            env = first if isinstance(first, DocumentSandbox) else first.environment
            check(env, args, kwargs)
            return env._bounded(original(first, *args, **kwargs))

        checked.jinja_pass_arg = needs  # type: ignore[attr-defined]
    return checked

