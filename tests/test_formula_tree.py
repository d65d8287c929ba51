"""The formula parsed once into a frozen tree, and the response-free model structure refits share."""
import dataclasses
from pathlib import Path

import numpy as np
import pytest

import mlmkit
from mlmkit import datasets
from mlmkit.errors import FormulaError
from mlmkit.rformat import _cat_fill
from mlmkit.spec import formula as fm
from mlmkit.spec.design import Design, ModelStructure, Response, lformula
from mlmkit.spec.formula import Node, deparse_formula, formula_names, parse_formula

SUMMARIES = Path(__file__).parent / "reference" / "summaries"

TREES = [
    # formula, response, fixed_terms, intercept, offsets, [(expr, group, terms)], names, grouping_only
    ("Reaction ~ Days + (Days | Subject)", "Reaction", (("+", "Days"),), True, (),
     [("Days", "Subject", (("+", "Days"),))], {"Reaction", "Days", "Subject"}, {"Subject"}),
    ("Reaction ~ Days + (Days || Subject)", "Reaction", (("+", "Days"),), True, (),
     [("1", "Subject", (("+", "1"),)), ("0 + Days", "Subject", (("+", "0"), ("+", "Days")))],
     {"Reaction", "Days", "Subject"}, {"Subject"}),
    ("y ~ 0 + x + (1 | a/b/c)", "y", (("+", "0"), ("+", "x")), False, (),
     [("1", "a", (("+", "1"),)), ("1", "b:a", (("+", "1"),)), ("1", "c:(b:a)", (("+", "1"),))],
     {"y", "x", "a", "b", "c"}, {"a", "b", "c"}),
    ("y~-1+x+(x|g)", "y", (("-", "1"), ("+", "x")), False, (), [("x", "g", (("+", "x"),))],
     {"y", "x", "g"}, {"g"}),
    ("cbind(m, n - m) ~ period + offset(log(size)) + (1 | herd)", "cbind(m, n - m)", (("+", "period"),), True,
     ("log(size)",), [("1", "herd", (("+", "1"),))], {"m", "n", "period", "size", "herd"}, {"herd"}),
    ("y ~ x * f + I(x**2) - 1 + (1 + x | g) + (1 | h:g)", "y", (("+", "x * f"), ("+", "I(x**2)"), ("-", "1")),
     False, (), [("1 + x", "g", (("+", "1"), ("+", "x"))), ("1", "h:g", (("+", "1"),))],
     {"y", "x", "f", "g", "h"}, {"g", "h"}),
    ("`my y` ~ Q(\"a b\") + (1 | `the g`)", "`my y`", (("+", 'Q("a b")'),), True, (),
     [("1", "`the g`", (("+", "1"),))], {"my y", "a b", "the g"}, {"the g"}),
]


@pytest.mark.parametrize("formula,response,fixed_terms,intercept,offsets,random,names,grouping_only", TREES)
def test_formula_tree_fields(formula, response, fixed_terms, intercept, offsets, random, names, grouping_only):
    p = parse_formula(formula)
    assert (p.response, p.fixed_terms, p.intercept, p.offsets) == (response, fixed_terms, intercept, offsets)
    assert [(t.expr, t.group, t.terms) for t in p.random] == random
    assert p.names == names == formula_names(formula)
    assert p.grouping_only == grouping_only
    assert p.quote(p.tree.args[0]) == response                          # spans index the normalised text
    assert p.tree.kind == "op" and p.tree.value == "~"


def test_the_tree_is_frozen_and_equal_nodes_ignore_their_position():
    p = parse_formula("y ~ a*b + a + (1 | g)")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.response = "z"
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.tree.args[0].value = "z"
    a1 = p.tree.args[1].args[0].args[0].args[0]
    a2 = p.tree.args[1].args[0].args[1]
    assert (a1.start, a1.value) != (a2.start, "") and a1 == a2 == Node("name", "a")
    assert p.n_fixed_terms == 3                                         # a, b, a:b


def test_r_precedence_and_parentheses_are_kept():
    t = parse_formula("y ~ a*b:c + x^2 + (1 | g)").tree.args[1]
    assert [t.args[0].args[0].value, t.args[0].args[0].args[1].value] == ["*", ":"]   # a*(b:c), R's ':' binds tighter
    paren = t.args[1]
    assert paren.kind == "paren" and paren.args[0].value == "|"


@pytest.mark.parametrize("formula,fragment", [
    ("y ~ x + 1 | g", "1 | g"), ("y ~ x - (1 | g)", "(1 | g)"), ("y ~ x + (1 | a//b)", "a//b"),
    ("y ~ x + ( | g)", "( | g)"), ("Reaction ~ Days + + (1|Subject)", "+ (1|Subject)"),
])
def test_errors_quote_the_offending_span(formula, fragment):
    with pytest.raises(FormulaError) as info:
        parse_formula(formula)
    lines = str(info.value).splitlines()
    assert lines[-2][lines[-1].index("^"):].startswith(fragment)


def _stored_formula_lines():
    for path in sorted(SUMMARIES.glob("*.txt")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.startswith("Formula:"):
                block = [line]
                while lines[i + len(block)].startswith("    "):
                    block.append(lines[i + len(block)])
                yield path.name, block


def test_deparse_round_trip_of_lme4s_stored_formula_lines():
    cases = list(_stored_formula_lines())
    assert len(cases) >= 10
    for name, block in cases:
        text = " ".join(b.strip() for b in block)[len("Formula:"):].strip()
        assert _cat_fill(["Formula:"] + deparse_formula(text)) == block, name
        squeezed = text.replace(" ", "")                                   # R's deparse restores the spacing
        assert _cat_fill(["Formula:"] + deparse_formula(squeezed)) == block, name


def test_the_formula_is_parsed_once(monkeypatch):
    calls = []

    class Counting(fm._Parser):
        def __init__(self, text):
            calls.append(text)
            super().__init__(text)

    monkeypatch.setattr(fm, "_Parser", Counting)
    fm._parse.cache_clear()
    f = "log(Reaction) ~ Days + offset(sqrt(Days)) + (Days | Subject) + (1 | Days)"
    d = datasets.load("sleepstudy")
    m = mlmkit.lmer(f, d)
    str(m.summary())
    mlmkit.lmer(f, d)
    mlmkit.diagram.diagram_spec(m)
    formula_names(f)
    deparse_formula(f)
    m.predict(d)
    assert calls == [" ".join(f.split())]
    fm._parse.cache_clear()


# ------------------------------------------------------------------ the response-free model structure
@pytest.fixture(scope="module")
def fit():
    return mlmkit.lmer("Reaction ~ Days + (Days | Subject)", datasets.load("sleepstudy"))


def test_design_is_model_structure_and_response(fit):
    d = fit.design
    assert isinstance(d.model, ModelStructure) and isinstance(d.resp, Response)
    assert d.X is d.model.X and d.y is d.resp.y and d.structure is d.model.structure
    assert d.parsed is parse_formula(d.formula)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.model.X = None
    assert not any(n in vars(d) for n in ("structure", "theta_start", "y"))   # nothing cached on the pair


@pytest.mark.parametrize("batched", [False, True])
def test_refit_shares_x_and_z(fit, batched):
    y = fit.design.y[::-1].copy()
    m2 = mlmkit.engine.batchfit.refit(fit, y, batched=batched)
    d, d2 = fit.design, m2.design
    assert d2.model is d.model and d2.X is d.X and d2.structure is d.structure
    assert all(np.shares_memory(a.values, b.values) for a, b in zip(d.terms, d2.terms))
    assert np.shares_memory(d2.y, y) or np.array_equal(d2.y, y)
    assert not np.shares_memory(d2.y, d.y) and np.array_equal(fit.design.y[::-1], y)
    assert d2.resp is not d.resp and d2.offset is d.offset


def test_lesson_pipeline_reads_the_pair():
    from mlmkit import lmm
    d = lformula("Reaction ~ Days + (Days | Subject)", datasets.load("sleepstudy"))
    assert isinstance(d, Design)
    f = lmm.mk_lmer_devfun(d, REML=True)
    m = lmm.mk_mer_mod(f, lmm.optimize_lmer(f))
    np.testing.assert_allclose(m.fixef.to_numpy(), [251.405105, 10.467286], rtol=1e-6)
