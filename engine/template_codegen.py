"""Jinja's code generator, with one `yield` per output tag run instead of one per piece.

Jinja compiles `| {{ q.number }} | {{ q.text }} |` into five `yield`s; a Markdown advice document
is ~400 of them, and resuming the template's generator and gathering what it yields is ~10% of
the render's instructions (callgrind: 3.68 M -> 3.33 M per Markdown document, 8.80 M -> 8.38 M per
HTML one).
`JoinedOutput` compiles the same run into one `yield concat((...))` of the same pieces, each
escaped and finalized exactly as before — Jinja's own code for output into a buffer (macros,
`{% set %}` blocks), used for output that is yielded. Each piece stays on a line of its own, so an
error in it is still reported at its template line.

It relies on the helpers Jinja 3.1's `CodeGenerator.visit_Output` is made of;
tests/test_template_codegen.py renders every template both ways and compares.
"""

from __future__ import annotations

from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame


class JoinedOutput(CodeGenerator):
    """A `CodeGenerator` that yields each output run as one string."""

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
