"""Validating a namespace of environment-style keys into a pydantic model.

Every problem (missing, invalid, unknown key) is gathered and reported at once in one
`ConfigurationError`, one line per key, naming the key, the problem, the expected type
and the source, never the value. pydantic's own error text quotes the input, so it is
never chained or shown: only `errors(include_input=False)` is translated.
"""

from __future__ import annotations

import difflib
import json
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic import ValidationError as PydanticValidationError
from pydantic.fields import FieldInfo

from infrakit._internal.secrets import is_sensitive_key
from infrakit.config._cascade import ConfigSource
from infrakit.config._convert import ConversionError, parse_list, type_name
from infrakit.config._redact import register_model_secrets
from infrakit.errors import ConfigurationError

__all__ = ["Problem", "SchemaInput", "validate_config"]

ModelT = TypeVar("ModelT", bound=BaseModel)
_SEQUENCES = (list, tuple, set, frozenset)


@dataclass(frozen=True, slots=True)
class Problem:
    key: str
    problem: str
    expected: str
    source: str

    def line(self) -> str:
        return f"  {self.key}: {self.problem} (expected {self.expected}; {self.source})"


@dataclass
class SchemaInput:
    """What `Config.load` knows beyond the values: sources, secrets and pointer keys."""

    sources: Mapping[str, ConfigSource] = field(default_factory=dict)
    secret: Callable[[str], tuple[str, ConfigSource] | None] | None = None
    ignored_keys: frozenset[str] = frozenset()
    missing_hint: str = "not set"
    secret_hint: str = ""


@dataclass(repr=False)
class _Collector:
    values: Mapping[str, str]
    context: SchemaInput
    data_sources: dict[str, ConfigSource] = field(default_factory=dict)
    consumed: set[str] = field(default_factory=set)
    locations: dict[tuple[str, ...], tuple[str, str, bool]] = field(default_factory=dict)
    secret_fields: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)

    def collect(
        self, model: type[BaseModel], prefix: str, location: tuple[str, ...]
    ) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name, info in model.model_fields.items():
            input_name = info.alias if isinstance(info.alias, str) else name
            key = prefix + input_name.upper()
            here = (*location, input_name)
            secret = _is_secret(info.annotation) or is_sensitive_key(key)
            self.locations[here] = (key, type_name(info.annotation), secret)
            if _is_secret(info.annotation):
                self.secret_fields.add(key)
            nested = _nested_model(info.annotation)
            if nested is not None:
                self.groups.add(key)
                sub = self.collect(nested, key + "_", here)
                if sub or info.is_required():
                    data[input_name] = sub
                continue
            value = self._value(key, info)
            if value is not None:
                data[input_name] = value
        return data

    def _value(self, key: str, info: FieldInfo) -> Any:
        if self.context.secret is not None and _is_secret(info.annotation):
            found = self.context.secret(key)
            if found is not None:
                self.consumed.add(key)
                self.data_sources[key] = found[1]
                return found[0]
        raw = self.values.get(key)
        if raw is None:
            return None
        self.consumed.add(key)
        self.data_sources[key] = self.context.sources.get(
            key, ConfigSource("mapping", "the given values")
        )
        try:
            return _prepare(info.annotation, raw)
        except ConversionError as error:
            self.problems.append(
                Problem(key, error.reason, type_name(info.annotation), self.source_text(key))
            )
            return None

    def source_text(self, key: str) -> str:
        source = self.data_sources.get(key) or self.context.sources.get(key)
        if source is not None:
            return f"from {source}"
        also = self.context.secret_hint if key in self.secret_fields else ""
        return self.context.missing_hint + also

    def unknown(self, model: type[BaseModel], prefix: str) -> None:
        extra = model.model_config.get("extra")
        if not prefix or extra in {"ignore", "allow"}:
            return
        known = [key for key, _, _ in self.locations.values()]
        pointers = {key for key in self.context.ignored_keys if key[:-5] in self.secret_fields}
        foreign = {key.upper() for key in getattr(model, "config_foreign_keys", ())}
        accounted = self.consumed | pointers | foreign
        for key in sorted(self.values):
            if key.startswith(prefix) and key not in accounted:
                expected = f"one of {model.__name__}'s fields"
                problem = _unknown_problem(key, known, self.groups)
                self.problems.append(Problem(key, problem, expected, self.source_text(key)))

    def translate(self, error: PydanticValidationError, namespace: str) -> None:
        grouped: dict[str, Problem] = {}
        already = {problem.key for problem in self.problems}
        for item in error.errors(include_input=False, include_url=False):
            key, expected, secret = self._locate(tuple(item["loc"]), namespace)
            if key in already:
                continue  # its text did not convert, so pydantic saw it as missing
            problem = _problem_text(item, secret)
            if key in grouped:
                previous = grouped[key]
                problem = f"{previous.problem}; {problem}"
            grouped[key] = Problem(key, problem, expected, self.source_text(key))
        self.problems.extend(grouped.values())

    def _locate(self, location: tuple[Any, ...], namespace: str) -> tuple[str, str, bool]:
        names = tuple(part for part in location if isinstance(part, str))
        for size in range(len(names), 0, -1):
            found = self.locations.get(names[:size])
            if found is not None:
                indexes = "".join(f"[{part}]" for part in location if isinstance(part, int))
                return found[0] + indexes, found[1], found[2]
        return namespace or "(model)", "a valid configuration", False


def _unknown_problem(key: str, known: list[str], groups: set[str]) -> str:
    if key in groups:
        return f"unknown key (a nested model reads {key}_* keys, not {key} itself)"
    if key.endswith("_FILE") and key[:-5] in known:
        return "unknown key (a KEY_FILE pointer only feeds SecretStr fields)"
    close = difflib.get_close_matches(key, [name for name in known if name not in groups], n=1)
    return f"unknown key (did you mean {close[0]}?)" if close else "unknown key"


def _problem_text(item: Any, secret: bool) -> str:
    if item["type"] == "missing":
        return "required but not set"
    if secret and item["type"] in {"value_error", "assertion_error"}:
        return "rejected by a validator"
    return str(item["msg"])


def validate_config(
    values: Mapping[str, str],
    schema: type[ModelT],
    *,
    namespace: str | None = None,
    context: SchemaInput | None = None,
) -> ModelT:
    """Validate the keys of `namespace` in `values` into `schema`, all problems at once.

    Field `pool_max_size` of a schema validated with `namespace="database"` reads
    `DATABASE_POOL_MAX_SIZE`; a field whose type is itself a model reads the nested
    namespace (`replica: ReplicaSettings` reads `DATABASE_REPLICA_*`). List, tuple,
    set and dict fields accept JSON, and lists a comma-separated value too.

    Args:
        values: environment-style keys (case-insensitive) to their text values.
        schema: the pydantic model describing the namespace.
        namespace: the key prefix without the trailing `_`; None validates the root,
            where unknown keys are not reported (the environment is full of them).
        context: sources and secrets, supplied by `Config.load`.

    Returns:
        The validated model instance; its `SecretStr` values are registered as secrets.

    Raises:
        ConfigurationError: one line per problem key: missing, invalid or unknown.
    """
    context = context or SchemaInput()
    upper = {key.upper(): value for key, value in values.items()}
    prefix = f"{namespace.upper().strip('_')}_" if namespace else ""
    collector = _Collector(upper, context)
    data = collector.collect(schema, prefix, ())
    collector.unknown(schema, prefix)
    if schema.model_config.get("extra") == "allow" and prefix:
        for key in upper.keys() - collector.consumed:
            if key.startswith(prefix):
                data.setdefault(key[len(prefix) :].lower(), upper[key])
    result: ModelT | None = None
    try:
        result = schema.model_validate(data)
    except PydanticValidationError as error:
        collector.translate(error, prefix.rstrip("_"))
    if collector.problems or result is None:
        raise _error(schema, prefix, collector.problems)
    register_model_secrets(result)  # so the log pipeline masks them by value
    return result


def _error(schema: type[BaseModel], prefix: str, problems: list[Problem]) -> ConfigurationError:
    where = f"namespace {prefix.rstrip('_')}" if prefix else "the configuration"
    count = len(problems)
    header = f"{schema.__name__}: {where} has {count} problem{'s' if count != 1 else ''}:"
    ordered = sorted(problems, key=lambda problem: problem.key)
    return ConfigurationError(
        "\n".join([header, *(problem.line() for problem in ordered)]),
        details={
            "errors": [
                {
                    "key": problem.key,
                    "problem": problem.problem,
                    "expected": problem.expected,
                    "source": problem.source,
                }
                for problem in ordered
            ]
        },
    )


def _members(annotation: Any) -> tuple[Any, ...]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return tuple(member for arg in get_args(annotation) for member in _members(arg))
    return (annotation,)


def _is_secret(annotation: Any) -> bool:
    return SecretStr in _members(annotation)


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _prepare(annotation: Any, raw: str) -> Any:
    for member in _members(annotation):
        origin = get_origin(member) or member
        if origin in _SEQUENCES:
            arguments = get_args(member)
            item = arguments[0] if arguments and isinstance(arguments[0], type) else str
            return parse_list(raw, item if item in (str, int, float, bool) else str)
        if origin is dict:
            try:
                return json.loads(raw)
            except json.JSONDecodeError:
                raise ConversionError("not a valid JSON object") from None
    return raw
