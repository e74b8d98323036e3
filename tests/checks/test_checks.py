"""The text checks (looping, prose where code was asked for, code in another language than asked, Python that does
not parse; no model), and check_fn, which writes them as columns."""

from __future__ import annotations

import dataclasses

import pytest
from datasets import Dataset

import qaq_datasets as qaq
from qaq_datasets.checks import CHECKS, Check, build_checks, check_fn, register
from qaq_datasets.checks.languages import guess_language
from qaq_datasets.checks.rules import Looping, Texts
from qaq_datasets.errors import ColumnError, ConfigError, ConfigTypeError
from qaq_datasets.selection import Selector, preset

PY = "def add(a, b):\n    total = a + b\n    return total\n\nprint(add(1, 2))"
JAVA = ("public static int add(int a, int b) {\n    int total = a + b;\n    return total;\n}\n"
        "System.out.println(add(1, 2));")
BODY = "    out = []\n    for x in range(n):\n        out.append(x)\n    return out\n"
JS = "function add(a, b) {\n  const total = a + b;\n  return total;\n}\nconsole.log(add(1, 2));"


@pytest.mark.parametrize(("question", "answer", "expected"), [
    ("Write a Python function that adds two numbers.", PY, "ok"),
    ("Write a Python function that adds two numbers.", PY.replace("(a, b):", "(a, b)"), "unparseable_code"),
    ("Write a function that adds two numbers.", PY.replace("a + b", "(a + b"), "unparseable_code"),  # no language asked
    ("Write a Python function that adds two numbers.", JAVA, "wrong_language"),
    ("Write a Java method that adds two numbers.", PY, "wrong_language"),
    ("Write a Java method that adds two numbers.", JAVA, "ok"),
    ("Write a JavaScript function that adds two numbers.", JS, "ok"),  # JavaScript is not Java
    ("Write a JavaScript function that adds two numbers.", JAVA, "wrong_language"),
    ("Write a Java method that adds two numbers.", "if (x) {\n  y = f(x);\n}\nreturn y;", "ok"),  # a brace language
    ("Write a C++ function that adds two numbers.", PY, "wrong_language"),
    # one ;-ended line is C-family where the asked language's parser rejects it ...
    ("Write a Python statement that keeps the larger of a and b.", "int m = a > b ? a : b;", "wrong_language"),
    ("Lowercase a string in Python.", "var lower = text.toLowerCase();", "wrong_language"),
    # ... not where it accepts it, nor where the asked language has no parser, nor for a truncated def
    ("Print a sum in Python.", "print(a + b);", "unchecked"),
    ("Write a Java statement that keeps the larger of a and b.", "m = max(a, b);", "unchecked"),
    ("Write a Python function that flips case.", "def flip_cas", "unchecked"),
    ("Write a Python function that adds two numbers.", "Here it is:\nx = a + b;", "unchecked"),  # prose first
    ("How do you add two numbers in Python?", "Use the + operator: a + b gives their sum.", "unchecked"),  # prose
    ("Explain recursion.", "It is when a function calls itself.", "unchecked"),
    ("Create a Python dictionary of three people's ages.", "ages = {\n  'ann': 3,\n  'bob': 4,\n  'cy': 5\n}", "unchecked"),
    ("Convert this Python code to Java.", PY, "ok"),  # two languages named: none asked; the Python parses
    ("Convert this Python code to Java.", JAVA, "unchecked"),
    ("Write a function that adds two numbers.", "Here is one way:\n\n" + PY, "ok"),  # prose before the code
    ("Write a Python function.", "Sure:\n```python\n" + PY + "\n```\nDone.", "ok"),
    ("Write a Python function.", "Sure:\n```python\ndef f(:\n    pass\n```", "unparseable_code"),  # fence tag says Python
    ("Write a Python function.", "Sure:\n```java\n" + JAVA + "\n```", "wrong_language"),
    ("Write a function that converts Celsius.", "def c_to_f(c)\n    return c * 1.8 + 32", "unparseable_code"),
    ("Write a Ruby method that adds two numbers.", "def add(a, b)\n  a + b\nend # add", "ok"),  # "end": Ruby
    ("Write pseudo-code for the maximum.", "def find_max(arr)\n    for each x in arr\n        keep the larger",
     "unchecked"),  # pseudo-code asked, no language: not parsed
    ("Write a Scala function that squares.", "def square(x: Int): Int =\n  x * x", "unchecked"),  # a def, not Python
    ("Write a function that adds two numbers.", "def add(a, b):\n    return a + b\n\nIt returns the sum.",
     "unchecked"),  # prose after unfenced code is not parsed as code
    ("def upto(n):\n    \"\"\"The numbers below n.\"\"\"\n", BODY, "ok"),  # a body continuing the question's def
    ("def upto(n):\n    \"\"\"The numbers below n.\"\"\"\n", BODY.replace("(n):", "(n)"), "unparseable_code"),
    # code asked for, prose answered: a restated question, a refusal
    ("Write a function that reverses a string.", "The goal is a routine that reverses a text. That is all.",
     "missing_code"),
    ("Data: [1, 2]. Create a SQL query that lists users.", "I'm sorry, but I cannot help with that request.",
     "missing_code"),
    ("What is a closure?", "A closure is a function that captures its environment.", "unchecked"),  # no code asked
    ("Calculate the mean of [3, 10].", "Here is the code you asked for. Let me know if it helps!", "missing_code"),
    # ... but answers about code, code made of words, and other codes are not claims of missing code
    ("What does this code do?\n\n" + PY, "This is a function that adds two numbers and prints them.", "unchecked"),
    ("What is the output of the following code?\n\n" + PY, "The output of the following code is 3.", "unchecked"),
    ("What does this function do?\n\n" + PY, "Here is what the function does: it adds two numbers.", "unchecked"),
    ("Get all the names from the users table.", "Here is the code: SELECT name FROM users.", "unchecked"),
    ("Plan a gala for my company.", "Here is the dress code for the gala: black tie for all guests.", "unchecked"),
    ("Write a script for a radio ad.", "Here is a script for a radio commercial: Hungry? Visit us today!",
     "unchecked"),
    ("Explain how to write a function in Python.", "You start with the def keyword and a name.", "unchecked"),
    ("Write a regular expression that matches digits.", "\\d+", "unchecked"),  # code, though short
    ("Write a Bash script that makes a directory named test.", "mkdir test", "unchecked"),  # too short for prose
    ("Write a Ruby loop over 0 to 9.", "for i in 0..9\n  puts i\nend", "ok"),  # no sentence: not prose
    # the answer names another language than the one asked
    ("How do you get the port of a URL in Python?", "In JavaScript, read the URL interface's port property.",
     "wrong_language"),
    ("Explain list comprehensions in Python.", "Python's list comprehensions build lists, unlike Java.", "unchecked"),
    # ... but not in code, quotes or beside a recognised block; and "statement", "class", "query" can be prose
    ("Write a Python program that lists languages.", "langs = ['Java', 'C++']\nprint(len(langs))", "unchecked"),
    ("Sort a list in Python.", "Unlike Java, call sorted:\n```python\nprint(sorted(xs))\n```", "ok"),
    ("Write a C++ program that prints text.", '#include <iostream>\nint main() { std::cout << "C# and Java"; }', "ok"),
    ("Write a mission statement for a bakery.", "We bake fresh bread every day for our neighbours.", "unchecked"),
    ("Create a lesson plan for a class on fractions.", "Start with a warm up, then move on to pizza slices.",
     "unchecked"),
    # what users' data also holds: empty or blank text, a one-word answer
    ("", "", "unchecked"),
    ("Write a function that adds numbers.", "   \n ", "unchecked"),
    ("Write a Python function that adds numbers.", "Done.", "unchecked"),  # too short to call prose
])
def test_each_check(question, answer, expected):
    found = [c.name for c in build_checks() if c(question, answer)]
    assert found == ([] if expected in ("ok", "unchecked") else [expected])


def test_languages():
    assert Texts("Write a JavaScript function", "").asked == "javascript"
    assert Texts("Write a Java class", "").asked == "java"
    assert Texts("Port this C++ code to Python", "").asked is None
    assert guess_language(JS) == "javascript" and guess_language(JAVA) == "java" and guess_language(PY) == "python"
    assert guess_language("int x = f(y);\nint z = g(x);\nreturn z;") == "c-family"
    assert guess_language("hello world") is None
    assert guess_language("def f(x)\n    return x") == "python"  # a lost ":" does not make it Ruby
    assert guess_language("def f(x)\n  x + 1\nend\nputs f(1)") == "ruby"
    # one signature hit is enough only where the language's own parser accepts the code
    assert guess_language("squares = [i**2 for i in range(1, 11)]") == "python"
    assert guess_language("squares = [i**2 for i in range(1, 11)") is None  # does not parse
    assert guess_language("def flip_cas") is None  # Ruby's signature once, and Ruby has no parser here
    assert guess_language("public int Area(int w, int h)\n{\n   return w * h;\n}") != "java"  # C# looks alike


def test_looping():
    looping = Looping()
    assert looping("", "\n".join(["for i in range(10):"] * 12))
    assert looping("", "the cat sat on the mat " * 10)
    assert looping("", "ab!" * 30)
    block = "def add(a, b):\n    return a + b\n\nprint(add(1, 2))\n"
    assert looping("", block * 3)  # a multi-line block looping
    assert not looping("", block * 2)
    assert Looping(block_repeats=2)("", block * 2)  # a threshold is a constructor argument
    assert not looping("", "if a:\n    x = 1\nif b:\n    x = 1\nif c:\n    x = 1\n")  # alike, not repeated
    assert not looping("", "def f(x):\n    if x:\n        return 1\n    return 0\n")
    assert not looping("", "def f():\n        return '        '\n")  # indentation is not a loop
    # a huge threshold is bounded by the answer itself: no blow-up, no regex overflow
    assert not Looping(max_block=10**7, span_repeats=10**12)("", "a = 1\nb = 2\nc = 3\n")


def _rows():
    good = ("Write a Python function that adds two numbers.", PY)
    rows = [good] * 6 + [("Write a Python function that adds two numbers.", PY.replace("):", ")")),
                         ("Write a Python function that adds two numbers.", JAVA),
                         ("What is recursion?", "A function calling itself.")]
    return [q for q, _ in rows], [a for _, a in rows]


FOUND = {"check_looping": [False] * 9, "check_missing_code": [False] * 9,
         "check_wrong_language": [False] * 7 + [True, False], "check_unparseable_code": [False] * 6 + [True] + [False] * 2}


def test_check_fn_writes_one_column_per_check_in_every_shape():
    q, a = _rows()
    ds = Dataset.from_dict({"instruction": q, "output": a, "x": list(range(len(q)))})
    checked = ds.map(qaq.check_fn(), batched=True, batch_size=4)
    assert {c: checked[c] for c in FOUND} == FOUND
    assert qaq.check_fn().map(ds)[:] == checked[:]  # CheckFn.map declares bool features
    assert checked.features["check_looping"].dtype == "bool"
    with pytest.warns(UserWarning, match="one row at a time: ds.map.fn, batched=True. is much faster"):
        assert ds.map(qaq.check_fn())[:] == checked[:]  # one row at a time, too
    named = Dataset.from_dict({"task": q, "solution": a})
    assert check_fn(question="task", answer="solution").map(named).select_columns(list(FOUND))[:] == FOUND
    conv = Dataset.from_dict({"messages": [[{"role": "user", "content": x}, {"role": "assistant", "content": y}]
                                           for x, y in zip(q, a)]})
    assert check_fn().map(conv).select_columns(list(FOUND))[:] == FOUND
    trl = Dataset.from_dict({"prompt": [[{"role": "user", "content": x}] for x in q],
                             "completion": [[{"role": "assistant", "content": y}] for y in a]})
    assert check_fn().map(trl).select_columns(list(FOUND))[:] == FOUND  # TRL's conversational shape


def test_selection_reads_the_columns_with_drop_where():
    q, a = _rows()
    checked = check_fn().map(Dataset.from_dict({"instruction": q, "output": a}))
    plan = Selector()
    for c in build_checks():
        plan = plan.drop_where(c.column, "==", 1, reason=c.name)
    sel = plan.fit(checked)
    assert sel.reasons[6:] == ["unparseable_code", "wrong_language", None]
    assert sel.report["drop_reasons"] == {"wrong_language": 1, "unparseable_code": 1}


def test_a_changed_check_is_a_new_fingerprint(tmp_path):
    q, a = _rows()
    ds = Dataset.from_dict({"instruction": q, "output": a}).flatten_indices()
    ds.save_to_disk(tmp_path / "d")
    from datasets import load_from_disk

    disk = load_from_disk(tmp_path / "d")
    once = disk.map(check_fn(), batched=True)
    again = disk.map(check_fn(), batched=True)
    tuned = disk.map(check_fn({"looping": {"block_repeats": 2}}), batched=True)
    assert once._fingerprint == again._fingerprint != tuned._fingerprint
    fn = check_fn()  # an edited rule (the package's code, not only its thresholds) is a new fingerprint too
    assert dataclasses.replace(fn, code="an edited rule").fingerprint != fn.fingerprint


def test_checks_are_chosen_and_tuned_by_name():
    assert [c.name for c in build_checks(None)] == list(CHECKS) == ["looping", "missing_code", "wrong_language",
                                                                    "unparseable_code"]
    assert build_checks(["looping"]) == (Looping(),)
    assert build_checks({"looping": {"min_count": 6}})[0].min_count == 6
    assert check_fn(["looping", "missing_code"]).columns == ["check_looping", "check_missing_code"]
    with pytest.raises(ConfigError, match="unknown check 'loops'; checks: looping"):
        build_checks(["loops"])
    with pytest.raises(ConfigError, match="takes min_lines"):
        build_checks({"looping": {"min_repeat": 3}})
    with pytest.raises(ConfigTypeError, match="min_count must be an integer, got str"):
        build_checks({"looping": {"min_count": "6"}})
    with pytest.raises(ConfigError, match=r"dominance must be in \(0, inf\)"):
        build_checks({"wrong_language": {"dominance": 0}})
    for share in (0, 5):  # a share of the lines or words is at most all of them
        with pytest.raises(ConfigError, match=r"gram_share must be in \(0, 1\], got " + str(share)):
            Looping(gram_share=share)
    with pytest.raises(ConfigTypeError, match="line_share must be a number, got str"):
        Looping(line_share="half")
    with pytest.raises(ConfigTypeError, match="min_count must be an integer, got float"):
        Looping(min_count=4.5)
    with pytest.raises(ConfigError, match="once"):
        build_checks(["looping", "looping"])
    with pytest.raises(ConfigTypeError, match="mapping"):
        build_checks("looping")
    with pytest.raises(ConfigError, match="does not go with"):
        check_fn(messages="m", question="q")
    with pytest.raises(ConfigTypeError, match="question must be a column name or a list of column names"):
        check_fn(question=3)
    with pytest.raises(ConfigError, match="wrong_language rejected_lines must be >= 1, got 0"):
        build_checks({"wrong_language": {"rejected_lines": 0}})


def test_a_registered_check_is_a_column():
    @register
    class TooShort(Check):
        name = "too_short"
        min_chars: int = 10

        def found(self, texts):
            return len(texts.answer) < self.min_chars

    try:
        ds = Dataset.from_dict({"instruction": ["Q1", "Q2"], "output": ["short", "long enough answer"]})
        assert check_fn({"too_short": {"min_chars": 6}}).map(ds)["check_too_short"] == [True, False]
    finally:
        CHECKS.pop("too_short")


def test_cells_that_are_not_text_are_left_unchecked():
    """Missing, empty or non-string cells are no answer to check: None (the row's scores say why)."""
    ds = Dataset.from_dict({"instruction": ["Write a Python function.", None, "Write a Python function.", "Q"],
                            "output": [None, PY, "", JAVA]})
    checked = check_fn().map(ds)
    assert checked["check_looping"] == [None, None, None, False]
    numbers = Dataset.from_dict({"instruction": ["Write a Python function."], "output": [3]})
    with pytest.raises(ColumnError, match="must hold text"):
        check_fn().map(numbers)
    with pytest.raises(ColumnError, match="solution"):
        check_fn(question="instruction", answer="solution").map(numbers)


def test_default_plan_reads_the_check_columns():
    plan = preset("default")
    steps = [s for s in plan.steps if s.get("column", "").startswith("check_")]
    assert [(s["column"], s["op"], s["value"], s["reason"]) for s in steps] == [
        (f"check_{n}", "==", 1, n) for n in CHECKS]
    assert not [s for s in preset("default").steps if s["step"] == "drop_broken_answers"]


def test_a_plan_carries_check_thresholds_and_add_checks_uses_them():
    from qaq_datasets.checks import add_checks

    block = "def add(a, b):\n    return a + b\n"
    ds = Dataset.from_dict({"instruction": ["Write a Python function."] * 2, "output": [block * 2, PY]})
    plan = Selector(checks={"looping": {"block_repeats": 2}}).drop_where("check_looping", "==", 1, reason="looping")
    assert Selector.from_yaml(plan.to_yaml()) == plan and plan.checks["looping"]["block_repeats"] == 2
    said = []
    columns = [s["column"] for s in plan.steps]
    checked, recipe = add_checks(ds, columns, echo=said.append)  # missing: computed with the defaults
    assert checked["check_looping"] == [False, False] and checked.column_names[-1] == "check_looping"
    assert recipe == {"looping": Looping().params()}
    assert "has none" in said[-1]
    assert add_checks(checked, columns, echo=said.append) == (checked, {}) and len(said) == 1  # present: no work
    tuned, recipe = add_checks(checked, columns, thresholds=plan.checks, echo=said.append)  # the plan's thresholds
    assert recipe["looping"]["block_repeats"] == 2
    assert tuned["check_looping"] == [True, False] and "plan's thresholds" in said[-1]
    assert plan.fit(tuned).reasons == ["looping", None]
    with pytest.raises(ConfigError, match="plan: unknown check"):
        Selector.from_dict({"checks": {"loop": {}}, "steps": []})
    with pytest.raises(ConfigTypeError, match="checks must map"):
        Selector(checks=["looping"])


def test_an_old_plan_and_data_without_check_columns_say_what_to_do():
    with pytest.raises(ConfigError, match="drop_broken_answers is now the text checks' columns"):
        Selector.from_dict({"steps": [{"step": "drop_broken_answers"}]})
    ds = Dataset.from_dict({"instruction": ["Q"], "output": ["A"]})
    with pytest.raises(ColumnError, match=r"check_looping.*qaq.check_fn\(\)"):
        Selector().drop_where("check_looping", "==", 1).fit(ds)


def test_the_multi_scorer_writes_the_checks_with_the_scores(tiny_model, tiny_tokenizer):
    from qaq_datasets.scoring import MultiScorer

    q, a = _rows()
    ds = Dataset.from_dict({"instruction": q, "output": a})
    scorer = qaq.score_fn(tiny_model, tokenizer=tiny_tokenizer, prefix="weak_")
    fn = MultiScorer({"weak": scorer, "text_checks": check_fn()}, ds)
    scored = fn.map(ds, batch_size=4)
    assert {c: scored[c] for c in FOUND} == FOUND and "weak_rmi" in scored.column_names
    assert fn.metadata()["checks"]["looping"]["min_count"] == 4 and list(fn.scorers) == ["weak"]
    assert set(fn.parts()) == {"weak", "text_checks"}
    with pytest.raises(ConfigError, match="once"):
        MultiScorer([scorer, check_fn(), check_fn()])
    with pytest.raises(ColumnError, match="already has check column 'check_looping'"):
        MultiScorer({"weak": scorer, "text_checks": check_fn()}, checked := check_fn().map(ds))
    assert "check_looping" not in MultiScorer(scorer, checked).features(ds)  # scores alone are fine


def test_the_cli_writes_the_checks_and_the_card_counts_them(tiny_model_dir, tmp_path):
    import json

    from qaq_datasets.cli import main
    from qaq_datasets.publishing import load_scored

    q, a = _rows()
    (tmp_path / "rows.jsonl").write_text("\n".join(json.dumps({"instruction": x, "output": y}) for x, y in zip(q, a)))
    main(["score", str(tmp_path / "rows.jsonl"), "--out", str(tmp_path / "s"), "--model", f"w={tiny_model_dir}"])
    scored, meta = load_scored(tmp_path / "s", split="train")
    assert {c: scored[c] for c in FOUND} == FOUND and set(meta["checks"]) == set(CHECKS)
    card = (tmp_path / "s" / "README.md").read_text()
    assert "## Text checks" in card and "| `wrong_language` | 1 | 9 |" in card
    main(["score", str(tmp_path / "rows.jsonl"), "--out", str(tmp_path / "n"), "--model", f"w={tiny_model_dir}",
          "--no-checks"])
    plain, meta = load_scored(tmp_path / "n", split="train")
    assert "check_looping" not in plain.column_names and "checks" not in meta
    assert "## Text checks" not in (tmp_path / "n" / "README.md").read_text()


def test_checks_a_plan_reads_but_no_text_to_compute_them_from_is_one_line():
    from qaq_datasets.checks import add_checks

    scores_only = Dataset.from_dict({"weak_rmi": [0.1, 0.2]})
    with pytest.raises(ColumnError, match="reads the text checks' columns check_looping.*No question/answer") as err:
        add_checks(scores_only, ["check_looping", "weak_rmi"])
    assert "\n" not in str(err.value)
    assert add_checks(scores_only, ["weak_rmi"]) == (scores_only, {})  # a plan that reads no check column
