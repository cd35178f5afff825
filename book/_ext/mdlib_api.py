"""Sphinx glue for the API page (``book/api.md``): re-exported names, tables, signatures, commands.

Loaded through ``sphinx: local_extensions`` in ``_config.yml``, next to ``mdlib_site``.

* **Names as the code imports them.** A docstring names a function or class the way a reader
  imports it: ``mdlib.solve_distral`` (re-exported by the package), ``mdlib.learners.distill``
  (re-exported by the learners' package), or ``transition`` in a module that imported it from
  :mod:`mdlib.game`. autodoc documents each object once, where it is defined
  (``mdlib.exact_distral.solve_distral``), and Sphinx's Python domain resolves a reference only
  by that name (``:canonical:`` covers classes, not functions). :func:`resolve_imported_name`
  follows such a reference to the object it names and links it to the object's own entry, when
  the API page documents it; a name that leads to no documented object stays unresolved, and the
  strict build (``-n``) reports it.
* **A package's names.** ``{mdlib-exports} PACKAGE`` is an autosummary table of the package's
  ``__all__``, each name linked to where it is defined (:class:`ExportsDirective`).
* **Signatures that parse.** A dataclass field's ``default_factory`` shows as the call that makes
  the default (:func:`show_default_factories`); defaults keep their source text
  (``autodoc_preserve_defaults``, with Sphinx's slicing of non-ASCII lines fixed:
  :func:`default_source`); one-line summaries do not end at "eq." (:data:`EQUATIONS`).
* **The commands.** ``{mdlib-commands}`` writes every subcommand of ``python -m mdlib`` with its
  full ``--help``, from :func:`mdlib.cli.build_parser` itself, so that the page cannot fall behind
  the parser (sphinx-argparse would do the same, at the cost of a dependency).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib
import sys
import types

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.errors import PycodeError
from sphinx.ext import autosummary
from sphinx.ext.autodoc import preserve_defaults
from sphinx.ext.autosummary import Autosummary
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective

#: Width of the ``--help`` texts on the page (argparse reads the terminal's otherwise).
HELP_WIDTH = 88


def locate(name: str):
    """The object a dotted name under ``mdlib`` stands for, or None: attributes first (so that
    ``mdlib.learners.distill`` is the function the package exports, not its submodule), and
    submodules where no attribute of that name exists."""
    parts = name.split(".")
    if parts[0] != "mdlib":
        return None
    try:
        obj = importlib.import_module("mdlib")
    except ImportError:
        return None
    for depth, part in enumerate(parts[1:], start=2):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        try:
            obj = importlib.import_module(".".join(parts[:depth]))
        except ImportError:
            return None
    return obj


def defined_name(name: str) -> str | None:
    """Where the object that ``name`` stands for is documented: ``module.qualname`` for a function
    or class (numba kernels keep their Python function's names); for a constant, the module
    under ``mdlib`` that assigns it with a ``#:`` comment (the only constants autodoc documents)."""
    obj = locate(name)
    if obj is None:
        return None
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if callable(obj) and isinstance(module, str) and isinstance(qualname, str):
        return f"{module}.{qualname}"
    if callable(obj) or isinstance(obj, types.ModuleType):
        return None
    short = name.rpartition(".")[2]
    for module_name, module in sorted(sys.modules.items()):
        if module_name.split(".")[0] != "mdlib" or vars(module).get(short, None) is not obj:
            continue
        try:
            analyzer = ModuleAnalyzer.for_module(module_name)
            analyzer.analyze()
        except PycodeError:
            continue
        if ("", short) in analyzer.attr_docs:
            return f"{module_name}.{short}"
    return None


def resolve_imported_name(app, env, node, contnode):
    """``missing-reference``: link a re-exported or imported name to its object's own entry."""
    if node.get("refdomain") != "py" or node.get("reftype") == "mod":
        return None
    target = node.get("reftarget", "")
    candidates = [target]
    module = node.get("py:module")
    if module and not target.startswith("mdlib."):
        cls = node.get("py:class")
        candidates = [f"{module}.{cls}.{target}"] if cls else []
        candidates += [f"{module}.{target}", target]
    domain = env.get_domain("py")
    for candidate in candidates:
        defined = defined_name(candidate)
        if defined is None or defined == target or defined not in domain.objects:
            continue
        return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], defined, node, contnode)
    return None


def show_default_factories(app, what, name, obj, options, signature, return_annotation):
    """``autodoc-process-signature``: a dataclass field with a ``default_factory`` shows as
    ``= <factory>``, which is not Python, so Sphinx could not parse the class's signature (its
    types would stay plain text, autodoc's ``~`` prefixes included). Show the call that makes the
    default instead: ``setup: Setup = Setup()``."""
    if what != "class" or not signature or "<factory>" not in signature or not dataclasses.is_dataclass(obj):
        return None
    for field in dataclasses.fields(obj):
        if field.init and field.default_factory is not dataclasses.MISSING:
            factory = getattr(field.default_factory, "__qualname__", "")
            signature = signature.replace("<factory>", f"{factory}()" if factory.isidentifier() else "...", 1)
    return signature, return_annotation


def default_source(lines: list[str], position) -> str | None:
    """A default value's source text, for ``autodoc_preserve_defaults``. Sphinx 7.4 slices the
    line with the AST's column offsets, which count UTF-8 bytes, so a default after an α on the
    same line came out shifted (``= "Recompute at this α, β",,``, which no longer parses)."""
    if getattr(position, "lineno", None) != getattr(position, "end_lineno", -1):
        return None  # a value over several lines: Sphinx shows its repr
    try:
        line = lines[position.lineno - 1].encode()
    except IndexError:
        return None
    return line[position.col_offset : position.end_col_offset].decode()


class ExportsDirective(Autosummary):
    """``{mdlib-exports} PACKAGE``: an autosummary table of everything in the package's
    ``__all__``, each name linked to its entry in the module that defines it, so that the table
    follows ``__all__`` and cannot list a name the package no longer exports."""

    required_arguments = 1
    optional_arguments = 0
    has_content = False
    option_spec = {}

    def run(self):
        package = self.arguments[0]
        # autosummary wants names relative to the current module (set by automodule above).
        current = self.env.ref_context.get("py:module")
        names = []
        for name in importlib.import_module(package).__all__:
            defined = defined_name(f"{package}.{name}")
            if defined is None:
                raise self.error(f"{package}.{name}: no documented object of that name")
            if current and defined.startswith(current + "."):
                defined = defined[len(current) + 1 :]
            names.append(f"~{defined}")
        self.content = StringList(names, source=self.get_source_info()[0])
        self.arguments = []
        self.options = {"nosignatures": True}
        return super().run()


class CommandsDirective(SphinxDirective):
    """``{mdlib-commands}``: every subcommand of ``python -m mdlib``, its one-line help and its
    ``--help``, as a definition list."""

    has_content = False

    def run(self):
        from mdlib.cli import build_parser

        parser = build_parser()
        formatter = functools.partial(argparse.HelpFormatter, width=HELP_WIDTH)
        subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        helps = {choice.dest: choice.help for choice in subparsers._choices_actions}
        listing = nodes.definition_list(classes=["mdlib-commands"])
        for name, command in subparsers.choices.items():
            command.formatter_class = formatter
            term = nodes.term("", "", nodes.literal(text=f"python -m mdlib {name}"))
            definition = nodes.definition()
            if helps.get(name):
                definition += nodes.paragraph(text=helps[name][:1].upper() + helps[name][1:] + ".")
            text = command.format_help().rstrip()
            block = nodes.literal_block(text, text, language="text")
            definition += block
            listing += nodes.definition_list_item("", term, definition)
        return [listing]


#: Abbreviations a one-line summary must not end at: the docstrings cite the report's equations
#: as "eq. 5" and "eqs. 3-4", and autosummary would cut "Eq. 5 of the report" after "Eq.".
EQUATIONS = ("eq.", "Eq.", "eqs.", "Eqs.")


def setup(app):
    autosummary.WELL_KNOWN_ABBREVIATIONS = (*autosummary.WELL_KNOWN_ABBREVIATIONS, *EQUATIONS)
    preserve_defaults.get_default_value = default_source
    app.connect("missing-reference", resolve_imported_name)
    app.connect("autodoc-process-signature", show_default_factories)
    app.add_directive("mdlib-commands", CommandsDirective)
    app.add_directive("mdlib-exports", ExportsDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
