"""Where a module can be mutated: each mutant is one small edit of the source text.

Edits are spliced into the original bytes (``ast`` offsets are UTF-8 byte offsets), so a
mutant differs from the module by exactly the edit and its report reads like a diff.
Every function is visited, decorated or not, and so are class bodies and module-level
tables: a rule's ``@hookimpl gongji_check`` and the sentence tables are what matters here.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from dataclasses import dataclass

PRAGMA = "pragma: no mutate"

# Comparison and operator tokens: the one a mutant writes in place of each.
_COMPARE = {
    ast.Lt: ("<", "<="),
    ast.LtE: ("<=", "<"),
    ast.Gt: (">", ">="),
    ast.GtE: (">=", ">"),
    ast.Eq: ("==", "!="),
    ast.NotEq: ("!=", "=="),
    ast.Is: ("is", "is not"),
    ast.IsNot: ("is not", "is"),
    ast.In: ("in", "not in"),
    ast.NotIn: ("not in", "in"),
}
_BINARY = {
    ast.Add: ("+", "-"),
    ast.Sub: ("-", "+"),
    ast.Mult: ("*", "/"),
    ast.Div: ("/", "*"),
    ast.FloorDiv: ("//", "/"),
    ast.Mod: ("%", "/"),
    ast.Pow: ("**", "*"),
    ast.LShift: ("<<", ">>"),
    ast.RShift: (">>", "<<"),
    ast.BitAnd: ("&", "|"),
    ast.BitOr: ("|", "&"),
    ast.BitXor: ("^", "&"),
}
# A token found in the gap between two operands: only whitespace, brackets and comments
# can stand beside it, so the first match outside a comment is the operator.
_TOKEN = {
    "<": r"<(?![<=])",
    "<=": r"<=",
    ">": r"(?<!-)>(?![>=])",
    ">=": r">=",
    "==": r"==",
    "!=": r"!=",
    "is": r"\bis\b(?!\s+not\b)",
    "is not": r"\bis\s+not\b",
    "in": r"(?<!not )\bin\b",
    "not in": r"\bnot\s+in\b",
    "+": r"\+",
    "-": r"-",
    "*": r"(?<!\*)\*(?!\*)",
    "/": r"(?<!/)/(?!/)",
    "//": r"//",
    "%": r"%",
    "**": r"\*\*",
    "<<": r"<<",
    ">>": r">>",
    "&": r"&",
    "|": r"\|",
    "^": r"\^",
    "and": r"\band\b",
    "or": r"\bor\b",
}
_SWAPPED_CALLS = {"min": "max", "max": "min", "any": "all", "all": "any"}
_QUOTE = re.compile(rb"^[A-Za-z]*('''|\"\"\"|'|\")")


@dataclass(frozen=True)
class Mutant:
    """One edit: bytes ``start:end`` of the module become ``replacement``."""

    module: str
    qualname: str
    line: int
    end_line: int
    start: int
    end: int
    replacement: bytes
    operator: str
    #: The lines whose execution reaches the edit: a tracer sees a multi-line statement
    #: run at its first line, not at the line of each constant inside it.
    reach: tuple[int, int] = (0, 0)
    #: Outside any function body: run when the module is imported, which happens inside
    #: whichever test imports it first, so every test must run against it.
    at_import: bool = False
    key: str = ""

    def apply(self, source: bytes) -> bytes:
        return source[: self.start] + self.replacement + source[self.end :]


def find_mutants(module: str, source: bytes) -> list[Mutant]:
    """Every mutant of ``source``, each with a key that survives edits elsewhere in the file."""
    tree = ast.parse(source)
    finder = _Finder(module, source)
    finder.visit(tree)
    mutants = [m for m in finder.mutants if not _excluded(m, finder.lines)]
    return _keyed(mutants, source)


def _excluded(mutant: Mutant, lines: list[bytes]) -> bool:
    return any(PRAGMA.encode() in lines[n - 1] for n in range(mutant.line, mutant.end_line + 1))


def _keyed(mutants: list[Mutant], source: bytes) -> list[Mutant]:
    """Key: module, function and the mutated line before and after, numbered if repeated."""
    seen: dict[str, int] = {}
    keyed = []
    for mutant in mutants:
        line_start = source.rfind(b"\n", 0, mutant.start) + 1
        line_end = source.find(b"\n", mutant.start)
        line_end = len(source) if line_end < 0 else line_end
        before = source[line_start:line_end]
        after = (mutant.apply(source))[line_start:]
        after = after[: after.find(b"\n")] if b"\n" in after else after
        base = (
            f"{mutant.module}:{mutant.qualname}: {before.decode().strip()}"
            f"  ==>  {after.decode().strip()}"
        )
        seen[base] = seen.get(base, 0) + 1
        key = base if seen[base] == 1 else f"{base}  #{seen[base]}"
        keyed.append(dataclasses.replace(mutant, key=key))
    return keyed


class _Finder(ast.NodeVisitor):
    def __init__(self, module: str, source: bytes) -> None:
        self.module = module
        self.source = source
        self.lines = source.split(b"\n")
        self._line_starts = [0]
        for line in self.lines:
            self._line_starts.append(self._line_starts[-1] + len(line) + 1)
        self.scope: list[str] = []
        self.mutants: list[Mutant] = []
        self._statements: list[ast.stmt] = []
        self._functions = 0  # how many function bodies deep the visit is

    def visit(self, node: ast.AST) -> None:
        if not isinstance(node, ast.stmt):
            super().visit(node)
            return
        self._statements.append(node)
        try:
            super().visit(node)
        finally:
            self._statements.pop()

    def _reach(self, node: ast.AST) -> tuple[int, int]:
        first, last = node.lineno, node.end_lineno or node.lineno  # type: ignore[attr-defined]
        if self._statements:
            statement = self._statements[-1]
            body = getattr(statement, "body", None)
            # A compound statement's header only (``if x:``, ``def f(a=1):``), not its body.
            header_end = body[0].lineno - 1 if body else statement.end_lineno or statement.lineno
            first = min(first, statement.lineno)
            last = max(last, max(statement.lineno, header_end))
        return first, last

    # -- positions ------------------------------------------------------------------------
    def _offset(self, line: int, col: int) -> int:
        return self._line_starts[line - 1] + col

    def _span(self, node: ast.AST) -> tuple[int, int]:
        start = self._offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self._offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return start, end

    def _add(self, node: ast.AST, start: int, end: int, replacement: str, operator: str) -> None:
        self.mutants.append(
            Mutant(
                module=self.module,
                qualname=".".join(self.scope) or "<module>",
                line=node.lineno,  # type: ignore[attr-defined]
                end_line=node.end_lineno or node.lineno,  # type: ignore[attr-defined]
                start=start,
                end=end,
                replacement=replacement.encode(),
                operator=operator,
                reach=self._reach(node),
                at_import=self._functions == 0,
            )
        )

    def _replace(self, node: ast.AST, replacement: str, operator: str) -> None:
        start, end = self._span(node)
        self._add(node, start, end, replacement, operator)

    def _token_between(
        self, node: ast.AST, left: ast.AST, right: ast.AST, token: str, new: str, operator: str
    ) -> None:
        gap_start = self._span(left)[1]
        gap_end = self._span(right)[0]
        gap = self.source[gap_start:gap_end].decode()
        code = re.sub(r"#[^\n]*", lambda m: " " * len(m.group()), gap)
        match = re.search(_TOKEN[token], code)
        if match is None:  # pragma: no cover - the gap holds the operator by construction
            raise ValueError(f"{self.module}:{node.lineno}: no {token!r} between operands")  # type: ignore[attr-defined]
        start = gap_start + len(gap[: match.start()].encode())
        end = gap_start + len(gap[: match.end()].encode())
        self._add(node, start, end, new, operator)

    # -- scopes and what is never mutated ---------------------------------------------------
    def _body(self, body: list[ast.stmt]) -> None:
        for index, stmt in enumerate(body):
            is_docstring = (
                index == 0
                and isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            )
            if not is_docstring:
                self.visit(stmt)

    def visit_Module(self, node: ast.Module) -> None:
        self._body(node.body)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._decorators(node)
        for base in (*node.bases, *node.keywords):
            self.visit(base)
        self.scope.append(node.name)
        self._body(node.body)
        self.scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._decorators(node)
        for default in (*node.args.defaults, *node.args.kw_defaults):
            if default is not None:
                self.visit(default)
        self.scope.append(node.name)
        self._functions += 1
        self._body(node.body)
        self._functions -= 1
        self.scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def _decorators(self, node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
            # Removing a decorator: ``@hookimpl`` gone means the rule never runs.
            start = self._line_starts[decorator.lineno - 1]
            end = self._line_starts[decorator.end_lineno or decorator.lineno]
            self._add(decorator, start, end, "", "remove decorator")

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return  # imports for the type checker only
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        return

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        return

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:  # the annotation is for the type checker only
            self.visit(node.value)
            self._assign_none(node.value)

    def visit_Assign(self, node: ast.Assign) -> None:
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if "__all__" in names:
            return
        self.generic_visit(node)
        self._assign_none(node.value)

    def _assign_none(self, value: ast.expr) -> None:
        if not (isinstance(value, ast.Constant) and value.value is None):
            self._replace(value, "None", "assign None")

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.value, ast.Name) and node.value.id in {"Literal", "ClassVar"}:
            return  # a type, not a value
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        return  # annotations

    # -- the operators ------------------------------------------------------------------
    def visit_Compare(self, node: ast.Compare) -> None:
        self.generic_visit(node)
        operands = [node.left, *node.comparators]
        for index, op in enumerate(node.ops):
            token, new = _COMPARE[type(op)]
            self._token_between(
                node, operands[index], operands[index + 1], token, new, f"{token} -> {new}"
            )

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self.generic_visit(node)
        token, new = _BINARY[type(node.op)]
        self._token_between(node, node.left, node.right, token, new, f"{token} -> {new}")

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.generic_visit(node)
        token, new = _BINARY[type(node.op)]
        gap_start, gap_end = self._span(node.target)[1], self._span(node.value)[0]
        gap = self.source[gap_start:gap_end]
        at = gap.find(f"{token}=".encode())
        start = gap_start + at
        self._add(node, start, start + len(token) + 1, f"{new}=", f"{token}= -> {new}=")

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        self.generic_visit(node)
        token, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        for left, right in zip(node.values, node.values[1:], strict=False):
            self._token_between(node, left, right, token, new, f"{token} -> {new}")

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not | ast.USub):
            start = self._span(node)[0]
            operand_start = self._span(node.operand)[0]
            self._add(node, start, operand_start, "", f"drop {type(node.op).__name__}")

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool):
            self._replace(node, str(not value), f"{value} -> {not value}")
        elif isinstance(value, int | float):
            self._replace(node, repr(value + 1), "number + 1")
        elif isinstance(value, str | bytes):
            self._string(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        # Positions inside an f-string are unreliable before Python 3.12: mutate it whole.
        self._string(node)

    def _string(self, node: ast.AST) -> None:
        start, end = self._span(node)
        quote = _QUOTE.match(self.source[start:end])
        if quote is None:  # pragma: no cover - a literal starts with its quote
            return
        at = start + quote.end()
        self._add(node, at, at, "XX", "string XX")

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in _SWAPPED_CALLS:
            new = _SWAPPED_CALLS[node.func.id]
            self._replace(node.func, new, f"{node.func.id} -> {new}")
        for keyword in node.keywords:
            if keyword.arg is not None and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is None
            ):
                self._replace(keyword.value, "None", f"{keyword.arg}=None")

    def visit_Return(self, node: ast.Return) -> None:
        self.generic_visit(node)
        if node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None
        ):
            self._replace(node.value, "None", "return None")

    def visit_Break(self, node: ast.Break) -> None:
        self._replace(node, "continue", "break -> continue")

    def visit_Continue(self, node: ast.Continue) -> None:
        self._replace(node, "break", "continue -> break")
