"""Bad syntax and what bayeslead refuses: every problem at once, with line, column and a way out."""

from __future__ import annotations

import pytest

from bayeslead.syntax import LavaanSyntaxError, evaluate_definitions, parse_model

# (text, [(line, column, words the message must contain), ...])
CASES = {
    "composite": (
        "f =~ x1 + x2\nf <~ z1 + z2",
        [(2, 3, ["'<~' is not supported", "reflectively"])],
    ),
    "scaling factor": ("f =~ x1 + x2\nf ~*~ f", [(2, 3, ["'~*~'", "remove this line"])]),
    "group weights": ("group % w", [(1, 7, ["'%' is not supported"])]),
    "data-defined": ("L2 :~ L2_0 + L2_1*data(z)", [(1, 4, ["':~'", "interaction term"])]),
    "efa block": ('efa("e1")*f1 + efa("e1")*f2 =~ x1 + x2', [(1, 1, ["efa() blocks"])]),
    "efa on the right": ('f =~ efa("e1")*x1', [(1, 6, ["efa() blocks"])]),
    "phantom latent": ("f =~ 0", [(1, 6, ["phantom latent"])]),
    "trailing plus at end": ("f =~ x1 +\n", [(1, 9, ["missing term after '+'"])]),
    "trailing plus then blank lines": ("f =~ x1 + x2\n\n  y ~ f + \n\n", [(3, 9, ["after '+'"])]),
    "double plus across lines": (
        "f =~ x1 + x2 + x3\n# comment\nY ~ f +\n    + z",
        [(4, 5, ["missing term before '+'"])],
    ),
    "missing plus": (
        "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 x6",
        [(2, 20, ["missing '+' or '*' between 'x5' and 'x6'"])],
    ),
    "misspelt modifier": (
        "f =~ x1 + lable('a')*x2",
        [(1, 11, ["unknown modifier 'lable()'", "did you mean 'label'"])],
    ),
    "misspelt block": (
        "levle: 1\nf =~ a + b",
        [(1, 1, ["unknown block 'levle:'", "did you mean 'level'"])],
    ),
    "class block": ("class: 1\nf =~ a + b", [(1, 1, ["'class:' blocks are not supported"])]),
    "formula before blocks": (
        "f ~ x\nlevel: 1\ng =~ a + b",
        [(1, 1, ["before the first 'group:'/'level:'"])],
    ),
    "groups within levels": (
        "level: 1\nf =~ x + y\ngroup: 1\nf =~ x + y",
        [(3, 1, ["groups cannot be nested within levels"])],
    ),
    "R assignment": ("ab <- a*b", [(1, 4, ["'<-' is not lavaan syntax", "ab := a*b"])]),
    "single equals": ("f =~ x1 = x2", [(1, 9, ["unexpected '='", "'=~'", "':='"])]),
    "two formulas on one line": ("y ~ x + z ~ w", [(1, 11, ["a second operator '~'"])]),
    "two formulas after semicolons": (
        "f =~ x1\n y ~ f; z ~ f; w ~ f ~ q",
        [(2, 22, ["second operator"])],
    ),
    "threshold names": ("x1 | th1 + t2", [(1, 6, ["thresholds are named t1, t2"])]),
    "three-way interaction": ("y ~ x:z:w", [(1, 8, ["three-way interactions"])]),
    "interaction not on ~": (
        "f =~ x:z",
        [(1, 7, ["interaction terms ('x:z') go on the right of '~'"])],
    ),
    "number on the right": ("y ~ 2", [(1, 5, ["must be '1'"])]),
    "unknown function": (
        "ab := a*foo(b)",
        [(1, 9, ["unknown function 'foo'", "sqrt, abs, exp, log"])],
    ),
    "misspelt function": ("ab := sqr(a)", [(1, 7, ["did you mean 'sqrt'"])]),
    "incomplete expression": ("ab := a*", [(1, 9, ["end of the expression"])]),
    "unclosed parenthesis": ("ab := (a*b", [(1, 11, ["expected ')'"])]),
    "self regression": ("y ~ y", [(1, 5, ["cannot be regressed on itself"])]),
    "unterminated string": ('f =~ x1 + "oops', [(1, 11, ["unterminated string"])]),
    "mixed c()": ("f =~ c(1, a)*x1", [(1, 6, ["mixes numbers and labels"])]),
    "start of a label": ("f =~ start(a)*x1", [(1, 6, ["start() needs numbers"])]),
    "label of a number": ("f =~ label(0.5)*x1", [(1, 6, ["label() needs names"])]),
    "infinite fixed value": ("f =~ x1 + 1/0*x2", [(1, 11, ["finite"])]),
    "reserved label": ("f ~ if*x", [(1, 5, ["'if' cannot be a label"])]),
    "modifier on the left": ("a + 2*b ~ x", [(1, 5, ["modifiers go on the right-hand side"])]),
    "dangling star": ("f =~ x1 + *x2", [(1, 11, ["'*' needs a modifier on its left"])]),
    "dot outside =~": ("y ~ .", [(1, 5, ["only allowed as 'F =~ .'"])]),
    "modifier on dot": ("F =~ a*.", [(1, 8, ["only allowed as 'F =~ .'"])]),
    "stray character": ("f =~ x1 + x2\ny ~ f\n@", [(3, 1, ["unexpected character '@'"])]),
    "empty": ("", [(1, 1, ["empty"])]),
    "only comments": ("# a comment\n! another", [(1, 1, ["empty"])]),
    "no operator": ("f x1", [(1, 1, ["no operator"])]),
    "underscore name": ("_f =~ x1", [(1, 1, ["cannot be a variable or parameter name"])]),
    "block without label": ("group:\nf =~ x1", [(1, 1, ["expected 'group: LABEL'"])]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_problem_is_located_and_explained(name):
    text, expected = CASES[name]
    with pytest.raises(LavaanSyntaxError) as info:
        parse_model(text)
    errors = [p for p in info.value.problems if p.severity == "error"]
    assert [(p.line, p.column) for p in errors] == [(line, col) for line, col, _ in expected]
    for problem, (_, _, words) in zip(errors, expected, strict=True):
        for word in words:
            assert word in problem.message, (word, problem.message)


def test_every_problem_is_reported_at_once():
    text = (
        "visual  =~ x1 + x2 + x3\n"
        "textual =~ x4 + lable(a)*x5 + x6\n"  # 2:17
        "speed   =~ x7 + x8 + x9\n"
        "f5 <~ z1 + z2\n"  # 4:4
        "speed ~ visual + textual ~ x\n"  # 5:26
        "ab := a*sqr(b)\n"  # 6:9
    )
    with pytest.raises(LavaanSyntaxError) as info:
        parse_model(text)
    assert [(p.line, p.column) for p in info.value.problems] == [(2, 17), (4, 4), (5, 26), (6, 9)]
    message = str(info.value)
    assert message.startswith("the model syntax has 4 problems:")
    assert (
        "  - model line 2, column 17: unknown modifier 'lable()'; did you mean 'label'?" in message
    )


def test_positions_shift_to_the_yaml_file():
    """A ``model: |`` block starting on line 12 of a config, indented by 2 columns."""
    with pytest.raises(LavaanSyntaxError) as info:
        parse_model(
            "f =~ x1 + x2\nf <~ z1", source="configs/x.yaml: model", line_offset=11, column_offset=2
        )
    (problem,) = info.value.problems
    assert (problem.line, problem.column) == (13, 5)
    assert str(problem).startswith("configs/x.yaml: model line 13, column 5: '<~'")
    assert problem.where == "configs/x.yaml: model line 13, column 5"


def test_a_modifier_given_twice_is_a_warning_and_the_later_one_wins():
    model = parse_model("f =~ x1 + a*x2\nf =~ b*x2")
    (element,) = [e for e in model.elements if e.rhs == "x2"]
    assert element.label == ("b",)
    (warning,) = model.warnings
    assert (warning.severity, warning.line, warning.column) == ("warning", 2, 6)
    assert "given twice" in warning.message


def test_never_evaluates_code():
    for text in ("ab := __import__('os').system('true')", "f =~ eval(1)*x1", "ab := (lambda: 1)"):
        with pytest.raises(LavaanSyntaxError):
            parse_model(text)
    # 'a.__class__' is a legal R name: a label looked up in a mapping, never an attribute
    (definition,) = parse_model("ab := a.__class__ * 2").definitions
    assert evaluate_definitions([definition], {"a.__class__": 3.0})["ab"] == 6.0
