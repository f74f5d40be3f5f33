"""A missing extra fails with MissingDependencyError naming the exact pip command."""

from __future__ import annotations

import sys

import pytest

from infrakit.errors import AppError, MissingDependencyError, TechnicalError, import_optional


def test_import_optional_returns_the_module() -> None:
    module = import_optional("json", extra="none")
    assert module is sys.modules["json"]


def test_missing_module_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(MissingDependencyError) as caught:
        import_optional("redis", extra="redis")
    error = caught.value
    assert "pip install 'infrakit[redis]'" in str(error)
    assert (error.package, error.extra) == ("redis", "redis")
    assert isinstance(error, ImportError)
    assert isinstance(error, TechnicalError)
    assert isinstance(error.__cause__, ImportError)
    assert error.code == "MISSING_DEPENDENCY"
    assert error.status_code == 500


def test_submodule_reports_the_top_level_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg_pool", None)
    monkeypatch.setitem(sys.modules, "psycopg_pool.pool", None)  # other tests import it
    with pytest.raises(MissingDependencyError, match=r"infrakit\[postgres\]") as caught:
        import_optional("psycopg_pool.pool", extra="postgres")
    assert caught.value.package == "psycopg_pool"


def test_caught_as_import_error_by_existing_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(ImportError) as caught:  # the usual optional-import idiom still works
        import_optional("av", extra="media")
    assert isinstance(caught.value, AppError)


def test_problem_hides_the_package_details() -> None:
    problem = MissingDependencyError("redis", "redis").to_problem()
    assert problem["detail"] == "An internal error occurred."
    assert "details" not in problem
