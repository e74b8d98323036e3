"""drop_broken_answers: looping, prose where code was asked for, Python that does not parse, code in another language
than asked; no model."""

from __future__ import annotations

import pytest
from datasets import Dataset
from sel_helpers import check_accounting, scored

from qaq_datasets.errors import ColumnError
from qaq_datasets.selection import Selector, preset
from qaq_datasets.errors import ConfigError
from qaq_datasets.selection.text_checks import asked_language, check_answer, guess_language, is_looping

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
def test_check_answer(question, answer, expected):
    assert check_answer(question, answer) == expected


def test_languages():
    assert asked_language("Write a JavaScript function") == "javascript"
    assert asked_language("Write a Java class") == "java"
    assert asked_language("Port this C++ code to Python") is None
    assert guess_language(JS) == "javascript" and guess_language(JAVA) == "java" and guess_language(PY) == "python"
    assert guess_language("int x = f(y);\nint z = g(x);\nreturn z;") == "c-family"
    assert guess_language("hello world") is None
    assert guess_language("def f(x)\n    return x") == "python"  # a lost ":" does not make it Ruby
    assert guess_language("def f(x)\n  x + 1\nend\nputs f(1)") == "ruby"


def _rows():
    good = ("Write a Python function that adds two numbers.", PY)
    rows = [good] * 6 + [("Write a Python function that adds two numbers.", PY.replace("):", ")")),
                         ("Write a Python function that adds two numbers.", JAVA),
                         ("What is recursion?", "A function calling itself.")]
    return [q for q, _ in rows], [a for _, a in rows]


def test_step_drops_and_counts():
    q, a = _rows()
    ds = Dataset.from_dict({"instruction": q, "output": a, "x": list(range(len(q)))})
    sel = Selector().drop_broken_answers().fit(ds)
    check_accounting(sel, len(ds))
    assert sel.reasons[6:] == ["unparseable_code", "wrong_language", None]
    fitted = sel.report["steps"][0]["fitted"]
    assert fitted["checks"] == {"ok": 6, "unparseable_code": 1, "wrong_language": 1, "unchecked": 1}
    assert fitted["columns"] == {"question": ["instruction"], "answer": "output"}


def test_step_named_columns_and_conversations():
    q, a = _rows()
    named = Dataset.from_dict({"task": q, "solution": a})
    sel = Selector().drop_broken_answers(question="task", answer="solution").fit(named)
    assert sel.report["drop_reasons"] == {"unparseable_code": 1, "wrong_language": 1}
    conv = Dataset.from_dict({"messages": [[{"role": "user", "content": x}, {"role": "assistant", "content": y}]
                                           for x, y in zip(q, a)]})
    assert Selector().drop_broken_answers().fit(conv).reasons == sel.reasons
    trl = Dataset.from_dict({"prompt": [[{"role": "user", "content": x}] for x in q],
                             "completion": [[{"role": "assistant", "content": y}] for y in a]})
    assert Selector().drop_broken_answers().fit(trl).reasons == sel.reasons  # TRL's conversational shape


def test_step_without_text_checks_nothing_and_says_so():
    ds = scored(20, text=False)
    sel = Selector().drop_broken_answers().fit(ds)
    assert sel.keep.all() and any("drop_broken_answers): skipped" in n for n in sel.report["warnings"])
    with pytest.raises(ColumnError, match="solution"):
        Selector().drop_broken_answers(question="instruction", answer="solution").fit(scored(20))


def test_step_round_trips():
    plan = Selector().drop_broken_answers(question=["instruction", "input"], answer="output")
    assert Selector.from_yaml(plan.to_yaml()) == plan
    assert plan.steps[0]["question"] == ["instruction", "input"]


def test_looping():
    assert is_looping("\n".join(["for i in range(10):"] * 12))
    assert is_looping("the cat sat on the mat " * 10)
    assert is_looping("ab!" * 30)
    block = "def add(a, b):\n    return a + b\n\nprint(add(1, 2))\n"
    assert is_looping(block * 3)  # a multi-line block looping
    assert not is_looping(block * 2)
    assert not is_looping("if a:\n    x = 1\nif b:\n    x = 1\nif c:\n    x = 1\n")  # alike, not repeated
    assert not is_looping("def f(x):\n    if x:\n        return 1\n    return 0\n")
    assert not is_looping("def f():\n        return '        '\n")  # indentation is not a loop
    assert check_answer("Write a Python function.", block * 3) == "looping"


def test_bad_step_arguments_fail_when_built():
    with pytest.raises(ConfigError, match="together"):
        Selector().drop_broken_answers(question="q")
    with pytest.raises(ConfigError, match="together"):
        Selector().drop_broken_answers(messages="m", question="q", answer="a")


def test_default_plan_drops_broken_answers():
    ds = scored(40)
    outputs = list(ds["output"])
    outputs[3], outputs[7], outputs[9] = PY.replace("):", ")"), JAVA, PY * 4
    ds = ds.remove_columns("output").add_column("output", outputs)
    ds = ds.remove_columns("instruction").add_column("instruction", ["Write a Python function."] * 40)
    reasons = preset("default").fit(ds).reasons
    assert reasons[3] == "unparseable_code" and reasons[7] == "wrong_language"


def test_preset_columns_name_the_text():
    q, a = _rows()
    ds = Dataset.from_dict({"task": q, "solution": a})
    plan = preset("default", columns={"question": ["task"], "answer": "solution"})
    step = next(s for s in plan.steps if s["step"] == "drop_broken_answers")
    assert (step["question"], step["answer"]) == (["task"], "solution")
    assert Selector().drop_broken_answers(question="task", answer="solution").fit(ds).reasons[6:8] == [
        "unparseable_code", "wrong_language"]
    with pytest.raises(ConfigError, match="default"):
        preset("gap", columns={"messages": "messages"})


def test_cells_that_are_not_text_are_left_alone():
    """Missing, empty or non-string cells are no answer to check: the row passes this step (its scores say why)."""
    ds = Dataset.from_dict({"instruction": ["Write a Python function.", None, "Write a Python function.", "Q"],
                            "output": [None, PY, "", JAVA]})
    sel = Selector().drop_broken_answers().fit(ds)
    assert sel.keep.all() and sel.report["steps"][0]["fitted"]["checks"] == {"unchecked": 1}
    numbers = Dataset.from_dict({"instruction": ["Write a Python function."], "output": [3]})
    with pytest.raises(ColumnError, match="must hold text"):
        Selector().drop_broken_answers().fit(numbers)
