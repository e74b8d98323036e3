"""What the text checks know of programming languages, as one data table (:data:`LANGUAGES`), and the language
guess that reads it (:func:`guess_language`).

A language has the names a question calls it by, the tags of its fenced blocks, signature patterns of its code,
and a parser when one is at hand (Python's ``ast``). A language with names only makes a question one about
programming, but is not told apart from others. Adding a language is adding a row.
"""

from __future__ import annotations

import ast
import re
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass


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


@dataclass(frozen=True)
class Language:
    """One row of :data:`LANGUAGES`: ``names`` as questions write them, fence ``tags``, ``signatures`` (regexes,
    multi-line mode), ``parser`` (whether an answer's code parses), ``c_family`` (``;``-terminated, braces)."""

    names: tuple[str, ...]
    tags: tuple[str, ...] = ()
    signatures: tuple[str, ...] = ()
    parser: Callable[[str], bool] | None = None
    c_family: bool = False


#: the languages; C and C++ are one (their code looks alike); those with signatures are the ones told apart
LANGUAGES = {
    "python": Language(
        ("Python",), ("python", "py", "python3"),
        (r"^\s*def \w+\s*\(", r"^\s*(el)?if\b.*:\s*$", r"^\s*for \w+(\s*,\s*\w+)* in \S", r"^\s*while\b.*:\s*$",
         r"^\s*(import \w+|from [\w.]+ import \w+)", r"^\s*class \w+(\(.*\))?:\s*$", r"\bself\.\w+",
         r"\b(elif|None|True|False)\b", r"^\s*else:\s*$", r"\b(len|range|print)\(", r"\.append\("),
        parses_as_answer),
    "javascript": Language(
        ("JavaScript", "TypeScript", "Node.js"), ("javascript", "js", "typescript", "ts", "jsx"),
        (r"\bfunction\b\s*\w*\s*\(", r"\b(const|let|var)\s+\w+\s*=", r"=>", r"console\.log", r"===",
         r"\bdocument\.\w+"), c_family=True),
    "java": Language(
        ("Java",), ("java",),
        (r"\bpublic\s+(static\s+)?(final\s+)?(class|void|int|String|boolean|double)\b", r"System\.out\.print",
         r"\bString\[\]", r"@Override", r"\bprivate\s+\w+\s+\w+", r"\.charAt\(", r"\b(ArrayList|HashMap)<"),
        c_family=True),
    "c/c++": Language(("C++",), ("c", "cpp", "c++"),
                      (r"#include\s*[<\"]", r"\bstd::", r"\bcout\s*<<", r"\bprintf\s*\(", r"\bint\s+main\s*\("),
                      c_family=True),
    "c#": Language(("C#",), ("cs", "csharp", "c#"),
                   (r"^\s*using System", r"\bConsole\.Write", r"\bstatic void Main\b"), c_family=True),
    "ruby": Language(("Ruby",), ("ruby", "rb"), (r"^\s*def \w+[^:]*$", r"^\s*end\s*$", r"\bputs\b", r"\.each\s+do\b")),
    "php": Language(("PHP",), ("php",), (r"<\?php", r"\$\w+\s*=", r"\becho\b", r"\barray\(", r"\$this->",
                                         r"\b(unset|isset|count)\(\$"), c_family=True),
    **{name.lower(): Language((name,)) for name in (
        "NodeJS", "SQL", "MySQL", "HTML", "CSS", "Bash", "shell", "Rust", "Swift", "Kotlin", "Perl", "Scala",
        "MATLAB", "jQuery", "React", "Django", "Flask")},
}
_NAME = r"(?<![\w.])(?:{})(?![\w+#])"  # a language's name as a word ("Java" is not in "JavaScript")
#: (language, pattern of one of its names), for the languages told apart
NAMED = [(lang, re.compile(_NAME.format(re.escape(name)))) for lang, spec in LANGUAGES.items() if spec.signatures
         for name in spec.names]
ANY_NAME = re.compile(_NAME.format("|".join(re.escape(n) for spec in LANGUAGES.values() for n in spec.names)),
                      re.IGNORECASE)
#: one-letter (or two-letter) language names, which make a question one about programming only as written
SHORT_NAME = re.compile(_NAME.format("C|R|Go"))
TAGS = {tag: lang for lang, spec in LANGUAGES.items() for tag in spec.tags}
_SIGNATURES = {lang: [re.compile(p, re.MULTILINE) for p in spec.signatures]
               for lang, spec in LANGUAGES.items() if spec.signatures}
#: a def at the margin with a one-line signature, no ":" and an indented body: Ruby when an ``end`` line closes
#: it, else Python whose ":" was lost; one more signature hit for that language
_BARE_DEF = re.compile(r"^def \w+\([^():\n]*\)[ \t]*\n[ \t]+\S", re.MULTILINE)
_END = re.compile(r"^[ \t]*end\b[ \t]*(#.*)?$", re.MULTILINE)


def named_languages(text: str) -> set[str]:
    """The languages (of those told apart) that ``text`` names."""
    return {lang for lang, rx in NAMED if rx.search(text)}


def guess_language(code: str, min_hits: int = 2, dominance: float = 2.0, c_lines: int = 2,
                   c_every: int = 3) -> str | None:
    """The language of ``code``: one whose signatures (and a ``def`` with no ``:``: Ruby's when an ``end`` line
    closes it, else Python's) match at least ``min_hits`` times (or once, where no other language's do and the
    language's own parser accepts the code) and ``dominance`` times as often as any other's; ``"c-family"`` for
    code whose lines end in ``;``, ``{`` or ``}`` (at least ``c_lines``, and one line in ``c_every``) that Python
    cannot parse, but that is none of those; else None."""
    counts = {lang: sum(1 for rx in rxs if rx.search(code)) for lang, rxs in _SIGNATURES.items()}
    if _BARE_DEF.search(code):
        counts["ruby" if _END.search(code) else "python"] += 1
    (best, lang), (second, _) = sorted(((n, lang) for lang, n in counts.items()), reverse=True)[:2]
    lines = [ln.rstrip() for ln in code.splitlines() if ln.strip()]
    braces = sum(ln.endswith((";", "{", "}")) for ln in lines)
    c_like = braces >= c_lines and c_every * braces >= len(lines) and not parses(code)  # a dict literal is Python
    parsed = best == 1 and LANGUAGES[lang].parser is not None and LANGUAGES[lang].parser(code)
    if (best >= min_hits or parsed) and best >= dominance * second and (LANGUAGES[lang].c_family or not c_like):
        return lang
    return "c-family" if c_like else None

