"""Lines of code in ``qaq_datasets/`` per package: docstrings, comments and blank lines not counted.

Usage: ``python benchmarks/code_size.py [ROOT]`` (default ``qaq_datasets``).
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from collections import Counter
from pathlib import Path

_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}


def code_lines(src: str) -> int:
    """Lines holding code, docstrings excepted."""
    docs = set()
    for node in ast.walk(ast.parse(src)):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                docs.update(range(first.lineno, first.end_lineno + 1))
    lines = set()
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type not in _SKIP:
            lines.update(n for n in range(tok.start[0], tok.end[0] + 1) if n not in docs)
    return len(lines)


def main(root: str = "qaq_datasets") -> None:
    per_package: Counter = Counter()
    for path in sorted(Path(root).rglob("*.py")):
        rel = path.relative_to(root)
        per_package[rel.parts[0] if len(rel.parts) > 1 else "(top level)"] += code_lines(path.read_text())
    for name, n in sorted(per_package.items()):
        print(f"{name:14s} {n:6d}")
    print(f"{'total':14s} {sum(per_package.values()):6d}")


if __name__ == "__main__":
    main(*sys.argv[1:])
