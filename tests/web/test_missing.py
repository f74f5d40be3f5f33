"""Without the framework, importing its integration names the extra to install.

Each check runs in a fresh interpreter where the framework cannot be imported, so the
modules this test process already loaded are left alone.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

BLOCKING = textwrap.dedent(
    """
    import sys

    class Hidden:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in {blocked!r}:
                raise ImportError(f"No module named {{name!r}}")
            return None

    sys.meta_path.insert(0, Hidden())
    """
)


def run_hidden(blocked: set[str], code: str) -> str:
    script = BLOCKING.format(blocked=blocked) + textwrap.dedent(code)
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


@pytest.mark.parametrize(
    ("integration", "framework"),
    [("infrakit.web.starlette", "starlette"), ("infrakit.web.flask", "flask")],
)
def test_missing_framework_names_the_extra(integration: str, framework: str) -> None:
    output = run_hidden(
        {framework},
        f"""
        from infrakit.errors import MissingDependencyError
        try:
            import {integration}
        except MissingDependencyError as error:
            assert isinstance(error, ImportError)
            print(error.package, error.extra, "|", error)
        """,
    )
    assert output == (
        f"{framework} {framework} | {framework!r} is not installed; "
        f"install it with: pip install 'infrakit[{framework}]'"
    )


def test_the_core_web_module_needs_no_framework() -> None:
    output = run_hidden(
        {"starlette", "fastapi", "flask", "werkzeug", "httpx"},
        """
        import infrakit.web
        print(sorted(infrakit.web.__all__))
        """,
    )
    assert "RequestContextMiddleware" in output
