"""Jinja's code generator, made to print less expensively: the same text, fewer steps.

* One `yield` per run of output. Jinja compiles `| {{ q.number }} | {{ q.text }} |` into five
  `yield`s, ~400 per Markdown advice document, and resuming the template's generator and gathering
  what it yields is a tenth of a render. `JoinedOutput` compiles the run into one
  `yield concat((...))` of the same pieces — Jinja's own code for output into a buffer (macros,
  `{% set %}` blocks). Each piece stays on a line of its own, so an error in it is still reported
  at its template line.
* One call per printed value. In HTML, `escape(environment.finalize(x))` becomes
  `environment.print_html(x)` (`escaping.html_print`: numbers and markup, most of an SVG chart,
  skip the escape and the new `Markup`); in Markdown, `str(environment.finalize(x))` loses the
  `str()`, since the sandbox's finalize returns a str already.
* Captured text is size-checked. `{% set x %}…{% endset %}` assigns what its block printed
  through the sandbox's `_bounded`, so block capture cannot double a value past the size cap.

It relies on the helpers Jinja 3.1's `CodeGenerator.visit_Output` is made of;
tests/test_template_codegen.py renders every template both ways and compares.
"""

from __future__ import annotations

from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame


class JoinedOutput(CodeGenerator):
    """A `CodeGenerator` that yields each output run as one string, printing values with one call."""

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        printer = self._printer(frame, finalize)
        if printer is None:
            super()._output_child_pre(node, frame, finalize)
        else:
            self.write(printer)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if self._printer(frame, finalize) is None:
            super()._output_child_post(node, frame, finalize)
        else:
            self.write(")")

    def _printer(self, frame: Frame, finalize: Any) -> str | None:
        """One call that prints a value, where the environment's finalize is the sandbox's own:
        in HTML `escape(environment.finalize(x))` is `environment.print_html(x)`; in Markdown
        `str(environment.finalize(x))` is `environment.finalize(x)`, which gives a str already.
        None: Jinja's code (a `{% autoescape %}` block, another environment)."""
        if frame.eval_ctx.volatile or finalize.src != "environment.finalize(":
            return None
        markdown = getattr(self.environment, "markdown", None)
        if markdown is True and not frame.eval_ctx.autoescape:
            return "environment.finalize("
        if markdown is False and frame.eval_ctx.autoescape:
            return "environment.print_html("
        return None

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        if frame.buffer is not None or frame.require_output_check:
            super().visit_Output(node, frame)  # into a buffer already, or outside blocks of a child template
            return
        finalize = self._make_finalize()
        body = _pieces(self, node, frame, finalize)
        if len(body) < 2:
            super().visit_Output(node, frame)
            return
        self.writeline("yield concat((")
        self.indent()
        for item in body:
            if isinstance(item, list):  # constant text, joined at compile time
                self.writeline(self._output_const_repr(item) + ",")
            else:
                self.newline(item)
                self._output_child_pre(item, frame, finalize)
                self.visit(item, frame)
                self._output_child_post(item, frame, finalize)
                self.write(",")
        self.outdent()
        self.writeline("))")


    def visit_AssignBlock(self, node: nodes.AssignBlock, frame: Frame) -> None:
        """Jinja 3.1's, but the captured text goes through `environment._bounded` (when the
        environment is the sandbox) before it is assigned."""
        if not hasattr(self.environment, "_bounded"):
            super().visit_AssignBlock(node, frame)
            return
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


def _pieces(gen: CodeGenerator, node: nodes.Output, frame: Frame, finalize: Any) -> list[Any]:
    """The output's pieces as `visit_Output` groups them: lists of constant text, and expressions."""
    body: list[Any] = []
    for child in node.nodes:
        try:
            if not (finalize.const or isinstance(child, nodes.TemplateData)):
                raise nodes.Impossible()
            const = gen._output_child_to_const(child, frame, finalize)
        except (nodes.Impossible, Exception):  # evaluated when rendering, as Jinja does
            body.append(child)
            continue
        if body and isinstance(body[-1], list):
            body[-1].append(const)
        else:
            body.append([const])
    return body
