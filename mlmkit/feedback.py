"""Instant feedback in an exercise notebook: ``grader = mk.checks.Notebook(...)``, ``grader.check("q1")``.

The student version of an exercise stores its public tests in the notebook's metadata, in otter-grader's
exception-based format (``otter assign`` writes them there).  :class:`Notebook` reads them and runs a
question's tests against the learner's variables, without otter-grader, printing what passed and what
to fix.  Nothing here grades: graded runs happen in a sandbox (``tools/grade.py``).
"""
from __future__ import annotations

import ast
import inspect
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Notebook", "CheckResult"]


@dataclass(frozen=True)
class _Case:
    name: str
    func: Callable[..., None]
    points: float | None
    hidden: bool
    success_message: str | None
    failure_message: str | None


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one question's tests: ``(test name, passed, message)`` per test."""
    question: str
    results: tuple[tuple[str, bool, str], ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.results)

    def __repr__(self) -> str:
        if self.passed:
            return f"{self.question} passed! All {len(self.results)} checks pass."
        lines = [f"  [{'pass' if ok else 'FAIL'}] {test}" + (f": {message}" if message else "")
                 for test, ok, message in self.results]
        return "\n".join([f"{self.question} results:", *lines])

    def _repr_html_(self) -> str:
        import html
        return f"<pre>{html.escape(repr(self))}</pre>"


def _load_cases(source: str, question: str) -> list[_Case]:
    """Test cases of an otter exception-based test file, without importing otter."""
    tree = ast.parse(source)
    tree.body = [n for n in tree.body
                 if not (isinstance(n, ast.ImportFrom) and (n.module or "").startswith("otter"))]
    cases: list[_Case] = []

    def test_case(name=None, points=None, hidden=False, success_message=None, failure_message=None):
        def wrap(func):
            cases.append(_Case(name or func.__name__, func, points, hidden, success_message,
                               failure_message))
            return func
        return wrap

    namespace = {"test_case": test_case, "__name__": f"mlmkit_checks_{question}"}
    exec(compile(tree, f"<tests for {question}>", "exec"), namespace)
    return cases


class Notebook:
    """Instant feedback in an exercise notebook: ``grader.check("q1")`` runs question q1's tests.

    The tests are read from the notebook file's metadata (where ``otter assign`` stores them) or
    from ``tests/<question>.py`` next to it.  If the notebook was renamed, the one in the working
    directory that carries the same exercise name is used.

    >>> grader = Notebook("lesson01_variance_components.ipynb")      # doctest: +SKIP
    >>> grader.check("q1")                                            # doctest: +SKIP
    q1 passed! All 2 checks pass.
    """

    def __init__(self, nb_path: str | None = None, tests_dir: str = "tests"):
        self.nb_path = nb_path
        self.tests_dir = tests_dir
        self._tests: dict[str, str] | None = None

    def _notebook_tests(self, env: dict[str, Any] | None = None) -> dict[str, str]:
        if self._tests is not None:
            return self._tests
        candidates = [self.nb_path] if self.nb_path else []
        # JupyterLab tells the kernel the notebook's path; it finds a renamed or moved notebook
        session = (env or {}).get("__session__") or getattr(sys.modules.get("__main__"), "__session__", None)
        if isinstance(session, str) and session.endswith(".ipynb"):
            candidates.append(session)
        found = (self._read(path) for path in candidates if os.path.isfile(path))
        tests = next((t for t in found if t), {})
        if not tests and self.nb_path:
            # a renamed copy ("... -Copy1.ipynb"): find the notebook with the same exercise name
            wanted = os.path.splitext(os.path.basename(self.nb_path))[0]
            found = (self._read(fn, wanted) for fn in sorted(os.listdir("."))
                     if fn.endswith(".ipynb"))
            tests = next((t for t in found if t), {})
        self._tests = tests
        return tests

    @staticmethod
    def _read(path: str, assignment: str | None = None) -> dict[str, str]:
        try:
            with open(path, encoding="utf-8") as f:
                meta = json.load(f).get("metadata", {}).get("otter", {})
        except (OSError, ValueError):
            return {}
        if assignment is not None and meta.get("assignment_name") != assignment:
            return {}
        tests = meta.get("tests", {})
        return tests if isinstance(tests, dict) else {}

    def _source(self, question: str, env: dict[str, Any] | None = None) -> str:
        path = os.path.join(self.tests_dir, f"{question}.py")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                return f.read()
        tests = self._notebook_tests(env)
        if question not in tests:
            known = ", ".join(sorted(tests)) or "none found: is this the exercise notebook?"
            raise ValueError(f"no tests for question {question!r} (questions: {known})")
        return tests[question]

    def check(self, question: str, global_env: dict[str, Any] | None = None) -> CheckResult:
        """Run the tests of one question against the notebook's variables."""
        env = global_env if global_env is not None else inspect.currentframe().f_back.f_globals
        results = []
        for case in _load_cases(self._source(question, env), question):
            params = inspect.signature(case.func).parameters
            kwargs = {p: (env if p == "env" else env.get(p)) for p in params}
            try:
                case.func(**kwargs)
            except Exception as e:          # a failing check, or an error in the learner's object
                message = (str(e) if isinstance(e, AssertionError) and str(e)
                           else f"{type(e).__name__}: {e}".rstrip(": "))
                if case.failure_message:
                    message = f"{message} ({case.failure_message})" if message else case.failure_message
                results.append((case.name, False, message))
            else:
                results.append((case.name, True, case.success_message or ""))
        return CheckResult(question, tuple(results))

    def check_all(self, global_env: dict[str, Any] | None = None) -> list[CheckResult]:
        """Run every question's tests."""
        env = global_env if global_env is not None else inspect.currentframe().f_back.f_globals
        questions = sorted(self._notebook_tests(env))
        if os.path.isdir(self.tests_dir):
            questions = sorted(set(questions) | {f[:-3] for f in os.listdir(self.tests_dir)
                                                 if f.endswith(".py") and not f.startswith("__")})
        return [self.check(q, env) for q in questions]
