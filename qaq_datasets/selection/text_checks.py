"""Model-free checks of an answer's text: looping, no code where code was asked for, Python that does not parse,
code in another language than asked.

Some defects no score sees, or not reliably: broken code and code in the wrong language are as likely under a
language model, and as related to their question, as good answers, a looping answer can look coherent to it, and
an answer that restates its question in other words is closely related to it. So they are checked on the text
itself, cheaply (:func:`check_answer`):

* **looping**: one line making up half of at least 4 lines (4 times or more), a block of 2–8 lines repeated 3
  times in a row, repeated word 5-grams, or a short span repeated 8 times in a row (:func:`is_looping`);
* **missing code**: the question asks for code (a sentence that opens with an imperative such as "Write",
  "Create" or "Implement" whose object is a function, program, script, query, …, in a question that names a
  language, a programming noun or holds code: :func:`asks_for_code`), or the answer opens by saying it holds
  code ("Here is the code you asked for."), and the answer is prose only: sentences of at least 5 words with no
  character code needs (:func:`is_prose`), as a restated question, a refusal or filler is;
* the **asked language** is the one programming language the question names (none when it names none, or
  several);
* the **answer's language** is guessed from signatures (``def f(...):``, ``console.log``, ``#include``, …), and
  only when one language clearly wins: otherwise nothing is claimed;
* the **code** is the answer's fenced blocks when it has any (their tag names the language), else the whole
  answer, or the answer from its first line that starts like Python code (``def``, ``import``, ``x =``, …)
  when the answer opens with prose; ``unparseable_code`` when it is Python (tagged or clearly guessed) and
  ``ast.parse`` rejects it (unless the question asks for pseudo-code and names no language),
  ``wrong_language`` when the asked and guessed languages are both known and differ,
  or, when no code was recognised in the asked language, the answer's text outside fences and quotes names
  languages and not the asked one.

The result is one of :data:`PROBLEMS`, or ``"ok"`` (code checked and fine) or ``"unchecked"`` (nothing to check).
:class:`DropBrokenAnswers` (``Selector.drop_broken_answers``) drops the problems, each its own drop reason.

Examples:
    >>> check_answer("Write a Python function that prints a sum.", "def add(a, b)\\n    print(a + b)")
    'unparseable_code'
    >>> check_answer("Write a Java method that prints a sum.", "def add(a, b):\\n    print(a + b)")
    'wrong_language'
    >>> check_answer("Sort a list.", "\\n".join(["nums.sort()"] * 12))
    'looping'
    >>> check_answer("Write a function that reverses a string.", "The task is to reverse a string with a function.")
    'missing_code'
"""

from __future__ import annotations

import ast
import re
import textwrap
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ColumnError, ConfigError, ConfigTypeError
from ..scoring.data_shapes import check_shape_columns, parse_row, resolve_columns
from .steps import FitState, Step, check_column_name, register_step

OK, UNCHECKED = "ok", "unchecked"
LOOPING, MISSING_CODE = "looping", "missing_code"
UNPARSEABLE, WRONG_LANGUAGE = "unparseable_code", "wrong_language"
#: what :func:`check_answer` finds; each is a drop reason of :class:`DropBrokenAnswers`
PROBLEMS = (LOOPING, MISSING_CODE, UNPARSEABLE, WRONG_LANGUAGE)

#: names a question uses for a language → the language (C and C++ are one: their code looks alike)
ASKED = {"Python": "python", "JavaScript": "javascript", "TypeScript": "javascript", "Node.js": "javascript",
         "Java": "java", "C++": "c/c++", "C#": "c#", "Ruby": "ruby", "PHP": "php"}
#: more names of languages, which make a question one about programming (:func:`asks_for_code`) but which the
#: language checks do not tell apart
OTHER_LANGUAGES = ("NodeJS", "SQL", "MySQL", "HTML", "CSS", "Bash", "shell", "Rust", "Swift", "Kotlin", "Perl", "Scala",
                   "MATLAB", "jQuery", "React", "Django", "Flask")
_NAME = r"(?<![\w.])(?:{})(?![\w+#])"  # a language's name as a word ("Java" is not in "JavaScript")
_ASKED_RE = [(lang, re.compile(_NAME.format(re.escape(name)))) for name, lang in ASKED.items()]
#: fence tags → language
TAGS = {"python": "python", "py": "python", "python3": "python", "javascript": "javascript", "js": "javascript",
        "typescript": "javascript", "ts": "javascript", "jsx": "javascript", "java": "java", "c": "c/c++",
        "cpp": "c/c++", "c++": "c/c++", "cs": "c#", "csharp": "c#", "c#": "c#", "ruby": "ruby", "rb": "ruby",
        "php": "php"}
#: signature patterns of each language the guess knows (multi-line mode)
SIGNATURES = {
    "python": [r"^\s*def \w+\s*\(", r"^\s*(el)?if\b.*:\s*$", r"^\s*for \w+(\s*,\s*\w+)* in \S", r"^\s*while\b.*:\s*$",
               r"^\s*(import \w+|from [\w.]+ import \w+)", r"^\s*class \w+(\(.*\))?:\s*$", r"\bself\.\w+",
               r"\b(elif|None|True|False)\b", r"^\s*else:\s*$", r"\b(len|range|print)\(", r"\.append\("],
    "javascript": [r"\bfunction\b\s*\w*\s*\(", r"\b(const|let|var)\s+\w+\s*=", r"=>", r"console\.log", r"===",
                   r"\bdocument\.\w+"],
    "java": [r"\bpublic\s+(static\s+)?(final\s+)?(class|void|int|String|boolean|double)\b", r"System\.out\.print",
             r"\bString\[\]", r"@Override", r"\bprivate\s+\w+\s+\w+", r"\.charAt\(", r"\b(ArrayList|HashMap)<"],
    "c/c++": [r"#include\s*[<\"]", r"\bstd::", r"\bcout\s*<<", r"\bprintf\s*\(", r"\bint\s+main\s*\("],
    "c#": [r"^\s*using System", r"\bConsole\.Write", r"\bstatic void Main\b"],
    "ruby": [r"^\s*def \w+[^:]*$", r"^\s*end\s*$", r"\bputs\b", r"\.each\s+do\b"],
    "php": [r"<\?php", r"\$\w+\s*=", r"\becho\b", r"\barray\(", r"\$this->", r"\b(unset|isset|count)\(\$"],
}
_SIGNATURES = {lang: [re.compile(p, re.MULTILINE) for p in ps] for lang, ps in SIGNATURES.items()}
#: a def at the margin with a one-line signature, no ":" and an indented body: Ruby when an ``end`` line closes
#: it, else Python whose ":" was lost; one more signature hit for that language
_BARE_DEF = re.compile(r"^def \w+\([^():\n]*\)[ \t]*\n[ \t]+\S", re.MULTILINE)
_END = re.compile(r"^[ \t]*end\b[ \t]*(#.*)?$", re.MULTILINE)
#: languages whose statements end in ``;`` and whose blocks are braces; code that looks like one of them, but
#: like none in particular, is ``"c-family"``, which no question names, and which is not Python
C_FAMILY = {"javascript", "java", "c/c++", "c#", "php"}
_CODE_START = re.compile(r"^(def |class |import |from \S+ import |for |while |if |@\w|\w+\s*=)", re.MULTILINE)
#: a sentence that asks for code: an imperative verb opening it, then (within the sentence) what to write
_ASKS_CODE = re.compile(r"(?:^|[.!?:]\s+|\n)\s*(?:please\s+)?(?:write|create|implement|generate|develop|construct|build|"
                        r"compose|code|rewrite|modify|edit|fix|complete|make)\b[^.?!\n]{0,60}?\b(?:function|program|"
                        r"script|code|class|method|query|statement|snippet|loop|regex|regular expression|routine|"
                        r"procedure)s?\b", re.IGNORECASE)
#: what makes such a sentence about programming ("Write a statement" alone may be prose): a language, a
#: programming noun, or code in the question
_CODE_CUE = [re.compile(_NAME.format("C|R|Go")),  # one-letter names: case matters
             re.compile(_NAME.format("|".join(map(re.escape, [*ASKED, *OTHER_LANGUAGES])))
                        + r"|\b(?:functions?|methods?|regex|regular expressions?|snippets?|algorithms?|arrays?|lists?|"
                        r"strings?|integers?|variables?|loops?|dictionar(?:y|ies)|APIs?|JSON|databases?|trees?|"
                        r"stacks?|queues?|nodes?|recursion|sort(?:ing)?|command line|web ?page)\b"
                        r"|\bcode\b(?!\s+of\b)", re.IGNORECASE),
             re.compile(r"[=\[\]{};]|\w_\w|\w\(")]
#: an answer that opens by saying it holds code, in a sentence that ends there ("Here is the code you asked
#: for."; not "Here is the code: SELECT …", "Here is the dress code …" or "… the code of conduct")
_CLAIMS_CODE = re.compile(r"\s*(?:(?:sure|certainly|of course)[,!.]?\s+)?(?:here is|here's|below is)\s+(?:(?:the|your|"
                          r"some|a|an)\s+)?(?:[A-Z][\w+#]*\s+)?(?:code|snippet)\b(?!\s+of\b)[^.!?:\n]{0,40}[.!]",
                          re.IGNORECASE)
#: prose: letters, digits, spaces and sentence punctuation only (code needs at least one other character)
_PROSE = re.compile(r"[\w\s.,'\"!?:\-]*")
#: quoted text (a string literal, an inline code span), which names a language without choosing it
_QUOTED = re.compile(r"\"[^\"\n]*\"|`[^`\n]*`|'[^'\s]*'")
_PSEUDO = re.compile(r"\bpseudo[- ]?code", re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)```", re.DOTALL)


def asked_language(question: str) -> str | None:
    """The one language the question names (:data:`ASKED`), or None."""
    found = {lang for lang, rx in _ASKED_RE if rx.search(question)}
    return found.pop() if len(found) == 1 else None


def asks_for_code(question: str) -> bool:
    """Whether a sentence of ``question`` asks for code ("Write a function …", "Create a SQL query …"), and the
    question is about programming (it names a language, a programming noun, or holds code)."""
    return bool(_ASKS_CODE.search(question)) and any(rx.search(question) for rx in _CODE_CUE)


def is_prose(answer: str) -> bool:
    """Whether ``answer`` is prose only: at least 5 words, a sentence that ends, and no character code needs."""
    answer = answer.strip()
    return bool(_PROSE.fullmatch(answer)) and len(answer.split()) >= 5 and bool(re.search(r"\w[.!?](\s|$)", answer))


def guess_language(code: str) -> str | None:
    """The language of ``code``: one whose signatures (:data:`SIGNATURES`, and a ``def`` with no ``:``: Ruby's when
    an ``end`` line closes it, else Python's) match at least twice and twice as often as any other's;
    ``"c-family"`` for code whose lines end in ``;``, ``{`` or ``}`` (at least 2 and a third of them) that Python
    cannot parse, but that is none of those; else None."""
    counts = {lang: sum(1 for rx in rxs if rx.search(code)) for lang, rxs in _SIGNATURES.items()}
    if _BARE_DEF.search(code):
        counts["ruby" if _END.search(code) else "python"] += 1
    hits = sorted(((n, lang) for lang, n in counts.items()), reverse=True)
    (best, lang), (second, _) = hits[0], hits[1]
    lines = [ln.rstrip() for ln in code.splitlines() if ln.strip()]
    braces = sum(ln.endswith((";", "{", "}")) for ln in lines)
    c_like = braces >= 2 and 3 * braces >= len(lines) and not parses(code)  # a dict literal is Python
    if best >= 2 and best >= 2 * second and (lang in C_FAMILY or not c_like):
        return lang
    return "c-family" if c_like else None


def _differ(asked: str, guessed: str) -> bool:
    return asked != guessed and not (guessed == "c-family" and asked in C_FAMILY)


def parses(code: str) -> bool:
    """Whether ``code`` is Python that ``ast.parse`` accepts."""
    try:
        with warnings.catch_warnings():  # invalid escape sequences etc. are warnings, not errors
            warnings.simplefilter("ignore")
            ast.parse(code)
    except (SyntaxError, ValueError):  # ValueError: a NUL byte
        return False
    return True


def parses_as_answer(code: str) -> bool:
    """Whether ``code`` parses as Python on its own or as a function body (a completion that continues the
    question's ``def``, as HumanEval's canonical solutions do: indented, with a ``return``)."""
    return parses(code) or parses("def _():\n" + textwrap.indent(textwrap.dedent(code), "    "))


_WORD = re.compile(r"\w+")


def is_looping(text: str) -> bool:
    """Degenerate repetition (see the module docs for the four rules)."""
    lines = [ln.strip() for ln in text.splitlines() if len(ln.strip()) >= 2]
    if len(lines) >= 4:
        count = Counter(lines).most_common(1)[0][1]
        if count >= 4 and count / len(lines) >= 0.5:
            return True
    for k in range(2, 9):  # a multi-line block looping (the last copy may be cut by a length limit)
        if any(lines[i:i + k] == lines[i + k:i + 2 * k] == lines[i + 2 * k:i + 3 * k] and len(set(lines[i:i + k])) > 1
               for i in range(len(lines) - 3 * k + 1)):
            return True
    words = [w.lower() for w in _WORD.findall(text)]
    grams = [tuple(words[i:i + 5]) for i in range(len(words) - 4)]
    if len(words) >= 30 and len(set(grams)) / len(grams) < 0.35:
        return True
    m = re.search(r"(\S.{0,29}?)\1{7,}", text, re.DOTALL)  # a short unit repeated 8+ times in a row
    return bool(m and len(m.group(0)) >= 40)


def check_answer(question: str, answer: str) -> str:
    """One of :data:`PROBLEMS`, ``"ok"`` or ``"unchecked"`` (see the module docs)."""
    if is_looping(answer):
        return LOOPING
    if is_prose(answer) and (asks_for_code(question) or _CLAIMS_CODE.match(answer)):
        return MISSING_CODE
    asked = asked_language(question)
    fenced = _FENCE.findall(answer)
    blocks = [(TAGS.get(tag.lower()) or guess_language(code), code) for tag, code in fenced] or \
             [(guess_language(answer), answer)]
    checked = False
    for lang, code in blocks:
        if asked and lang and _differ(asked, lang):
            return WRONG_LANGUAGE
        if lang == "python" and (asked or not _PSEUDO.search(question)):  # the guess or the tag says Python,
            # and the question asks for no pseudo-code in place of a language (prose in a Python answer is no code)
            start = None if fenced else _CODE_START.search(code)  # an unfenced answer may open with prose
            if not parses_as_answer(code) and not (start and parses_as_answer(code[start.start():])):
                return UNPARSEABLE
            checked = True
        checked = checked or bool(asked and lang)
    if asked and all(lang != asked for lang, _ in blocks):  # no code in the asked language: does the prose name
        prose = _QUOTED.sub(" ", _FENCE.sub(" ", answer))    # another language (outside code blocks and quotes)?
        named = {lang for lang, rx in _ASKED_RE if rx.search(prose)}
        if named and asked not in named:  # "... in JavaScript" answering a Python question
            return WRONG_LANGUAGE
    return OK if checked else UNCHECKED


@register_step
@dataclass(frozen=True)
class DropBrokenAnswers(Step):
    """Drop rows whose :func:`check_answer` finds one of :data:`PROBLEMS` (the problem is the drop reason)."""

    kind = "drop_broken_answers"
    question: tuple[str, ...] | None = None
    answer: str | None = None
    messages: str | None = None

    def validate(self):
        if isinstance(self.question, str):
            object.__setattr__(self, "question", (self.question,))
        if self.question is not None:
            if not isinstance(self.question, (list, tuple)) or not self.question:
                raise ConfigTypeError(f"drop_broken_answers question must be a column name or a list of them, got "
                                      f"{self.question!r}.")
            object.__setattr__(self, "question", tuple(check_column_name(c, "drop_broken_answers question")
                                                       for c in self.question))
        for what in ("answer", "messages"):
            if getattr(self, what) is not None:
                check_column_name(getattr(self, what), f"drop_broken_answers {what}")
        if (self.question is None) != (self.answer is None) or (self.messages and self.question):
            raise ConfigError("drop_broken_answers takes question= and answer= together, or messages= alone, or "
                              "neither (columns found from the names).")

    def run(self, state: FitState, valid: np.ndarray, index: int) -> dict[str, Any]:
        ds = state.reader.dataset
        try:
            cols = resolve_columns(ds.features, self.question, self.answer, self.messages)
        except ColumnError as exc:  # none named, and no known shape in the column names
            state.warn(f"step {index} (drop_broken_answers): skipped, no answer was checked: {exc} Pass "
                       "question=/answer= (or messages=) to the step.")
            return {"columns": None, "checks": {}}
        check_shape_columns(cols, ds.column_names, ds.features)
        q_cols = [cols["messages"]] if "messages" in cols else cols["question"]
        cells = [state.reader.arrow(c).to_pylist() for c in q_cols]
        answers = state.reader.arrow(cols["answer"]).to_pylist() if "answer" in cols else [None] * state.n
        status = np.full(state.n, None, dtype=object)
        for i in np.flatnonzero(valid):
            parsed = parse_row([col[i] for col in cells], answers[i], "messages" in cols)
            if not isinstance(parsed, str):
                status[i] = check_answer("\n\n".join(parsed[1]), parsed[3])
        for problem in PROBLEMS:
            state.drop(status == problem, problem)
        return {"columns": cols, "checks": dict(Counter(s for s in status if s is not None))}
