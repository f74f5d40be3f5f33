"""The `.env` cascade: which files, in which order, parsed strictly, interpolated across files.

Layers, lowest first: `.env`, `.env.local` (skipped for the `test` env),
`.env.{env}`, `.env.{env}.local`, then the process environment. A key's effective
value comes from the highest layer that defines it. `${NAME}` in a file value
resolves against the *effective* configuration (so `.env` may build a URL from a
host that `.env.production` overrides); `${NAME}` inside the value of `NAME`
itself refers to the layer below, as `PATH=${PATH}:/extra` does in a shell.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dotenv.parser import Binding, parse_stream
from dotenv.variables import Variable, parse_variables

from infrakit._internal.secrets import is_sensitive_key
from infrakit.errors import ConfigurationError

__all__ = [
    "MAX_EXPANDED_CHARS",
    "MAX_REFERENCE_DEPTH",
    "ConfigSource",
    "Layers",
    "cascade_files",
    "load_layers",
    "resolve_env_name",
]

DEFAULT_ENV = "development"
TEST_ENV = "test"
_ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_SINGLE_QUOTED = re.compile(r"\s*(?:export\s+)?(?:'[^']+'|[^=#\s]+)\s*=[^\S\r\n]*'")
_NEWLINE = re.compile(r"\r\n|\n|\r")
# Interpolation is bounded so that a hostile or mistaken file cannot exhaust the stack
# (a chain of thousands of references) or the memory (`A=${B}${B}`, `B=${C}${C}`, ...
# doubles at every step): a real configuration nests a few levels and stays far below.
MAX_REFERENCE_DEPTH = 32
MAX_EXPANDED_CHARS = 64 * 1024


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """Where a value came from: the environment, a file and line, or a secret provider."""

    kind: Literal["environment", "file", "provider", "mapping"]
    name: str
    line: int | None = None

    def __str__(self) -> str:
        if self.kind == "file":
            return f"{self.name} line {self.line}" if self.line else self.name
        if self.kind == "provider":
            return f"secret provider {self.name}"
        return self.name


ENVIRONMENT = ConfigSource("environment", "environment")


# Objects holding values have no repr: tracebacks that show locals (pytest --showlocals,
# error trackers) would otherwise print every secret.
@dataclass(frozen=True, slots=True, repr=False)
class _Entry:
    raw: str
    source: ConfigSource
    literal: bool


@dataclass(frozen=True, slots=True, repr=False)
class Layers:
    """The effective values with their sources, and the files that were looked for."""

    values: dict[str, str]
    sources: dict[str, ConfigSource]
    loaded: tuple[str, ...]
    searched: tuple[str, ...]


def resolve_env_name(env: str | None, environ: Mapping[str, str]) -> str:
    """The argument, else `APP_ENV` from the environment, else `development`."""
    name = env if env is not None else environ.get("APP_ENV") or DEFAULT_ENV
    if not _ENV_NAME.fullmatch(name):
        raise ConfigurationError(
            "The environment name must be letters, digits, '_', '-' or '.', "
            "not starting with '.', because it becomes part of a file name.",
            details={"env": name},
        )
    return name


def cascade_files(env: str) -> list[str]:
    """The dotenv file names for `env`, lowest priority first."""
    files = [".env"]
    if env != TEST_ENV:
        files.append(".env.local")
    files += [f".env.{env}", f".env.{env}.local"]
    return files


def load_layers(directory: Path, env: str, environ: Mapping[str, str]) -> Layers:
    """Read every file of the cascade, stack the environment on top, interpolate."""
    layers: list[dict[str, _Entry]] = []
    loaded: list[str] = []
    searched: list[str] = []
    for name in cascade_files(env):
        path = directory / name
        searched.append(name)
        entries = _read_file(path)
        if entries is not None:
            layers.append(entries)
            loaded.append(str(path))
    layers.append(_environment_layer(environ))
    values, sources = _Resolver(layers).resolve_all()
    return Layers(values, sources, tuple(reversed(loaded)), tuple(reversed(searched)))


def _environment_layer(environ: Mapping[str, str]) -> dict[str, _Entry]:
    layer: dict[str, _Entry] = {}
    # Upper-case spellings are applied last so they win over `path` vs `PATH` clashes.
    for key in sorted(environ, key=lambda name: name == name.upper()):
        layer[key.upper()] = _Entry(environ[key], ENVIRONMENT, literal=True)
    return layer


def _read_file(path: Path) -> dict[str, _Entry] | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigurationError(
            f"Cannot read {path}: {error.strerror or type(error).__name__}.",
            details={"file": str(path)},
        ) from error
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigurationError(
            f"{path} line {line}: not valid UTF-8 text.", details={"file": str(path), "line": line}
        ) from None
    bindings = list(parse_stream(io.StringIO(text, newline="")))
    entries: dict[str, _Entry] = {}
    for binding in bindings:
        entry = _entry(path, binding)
        if entry is not None:
            entries[entry[0]] = entry[1]
    return entries


def _entry(path: Path, binding: Binding) -> tuple[str, _Entry] | None:
    original = binding.original.string
    leading = original[: len(original) - len(original.lstrip())]
    line = binding.original.line + len(_NEWLINE.findall(leading))
    if binding.error:
        problem = "is not a valid KEY=value line (check quotes and spaces around '=')"
    elif binding.key is None:
        return None  # blank line or comment
    elif binding.value is None:
        # The text is not echoed: a line without '=' is as likely a pasted value as a key.
        problem = "has no '=' (write KEY= for an empty value)"
    else:
        source = ConfigSource("file", str(path), line)
        literal = _SINGLE_QUOTED.match(original) is not None
        return binding.key.upper(), _Entry(binding.value, source, literal)
    raise ConfigurationError(
        f"{path} line {line} {problem}.", details={"file": str(path), "line": line}
    )


class _Resolver:
    """Expands `${NAME}` references across layers, detecting cycles and undefined names."""

    def __init__(self, layers: list[dict[str, _Entry]]) -> None:
        self._layers = layers
        self._done: dict[tuple[str, int], str] = {}
        # How many references deep each expanded value goes, so the depth limit holds
        # whatever order the keys are resolved in (memoised values shorten the chain).
        self._heights: dict[tuple[str, int], int] = {}

    def resolve_all(self) -> tuple[dict[str, str], dict[str, ConfigSource]]:
        values: dict[str, str] = {}
        sources: dict[str, ConfigSource] = {}
        for key in sorted({key for layer in self._layers for key in layer}):
            index = self._find(key, len(self._layers))
            assert index is not None
            values[key] = self._value(key, index, ())
            sources[key] = self._layers[index][key].source
        return values, sources

    def _find(self, key: str, below: int) -> int | None:
        for index in range(below - 1, -1, -1):
            if key in self._layers[index]:
                return index
        return None

    def _value(self, key: str, index: int, chain: tuple[tuple[str, int], ...]) -> str:
        entry = self._layers[index][key]
        if entry.literal or "${" not in entry.raw:
            return entry.raw
        done = self._done.get((key, index))
        if done is not None:
            return done
        link = (*chain, (key, index))
        self._check_chain(key, entry, link)
        parts: list[str] = []
        size = height = 0
        for atom in parse_variables(entry.raw):
            if isinstance(atom, Variable):
                text, below = self._variable(key, index, atom, link)
                height = max(height, below + 1)
            elif "${" in (text := atom.resolve({})):
                raise ConfigurationError(
                    f"{entry.source}: {key} has a '${{' that does not start a ${{NAME}} "
                    "reference (single-quote the value to keep it literal).",
                    details={"key": key, "source": str(entry.source)},
                )
            size += len(text)
            if size > MAX_EXPANDED_CHARS:
                raise _too_large(key, entry)
            parts.append(text)
        if height > MAX_REFERENCE_DEPTH:
            raise _too_deep(key, key, entry)
        self._heights[(key, index)] = height
        self._done[(key, index)] = result = "".join(parts)
        return result

    def _check_chain(self, key: str, entry: _Entry, link: tuple[tuple[str, int], ...]) -> None:
        names = " -> ".join(name for name, _ in link)
        if link[-1] in link[:-1]:
            raise ConfigurationError(
                f"{entry.source}: ${{...}} references form a cycle: {names}.",
                details={"key": key, "source": str(entry.source)},
            )
        if len(link) > MAX_REFERENCE_DEPTH:
            start, start_index = link[0]
            raise _too_deep(start, key, self._layers[start_index][start])

    def _variable(
        self, key: str, index: int, atom: Variable, chain: tuple[tuple[str, int], ...]
    ) -> tuple[str, int]:
        """The text a reference stands for, and how many references deep it went."""
        name = atom.name.strip().upper()
        found = self._find(name, index if name == key else len(self._layers))
        if found is not None:
            value = self._value(name, found, chain)
            height = self._heights.get((name, found), 0)
            if value or atom.default is None:
                return value, height
            return atom.default, 0
        if atom.default is not None:
            return atom.default, 0
        source = self._layers[index][key].source
        if is_sensitive_key(key):  # the "name" is a piece of the value, which may be a secret
            raise ConfigurationError(
                f"{source}: {key} references a ${{NAME}} that is not defined "
                "(single-quote the value if '${' is part of the secret).",
                details={"key": key, "source": str(source)},
            )
        raise ConfigurationError(
            f"{source}: {key} references ${{{name}}}, which is not defined "
            f"(write ${{{name}:-}} to allow an empty default).",
            details={"key": key, "variable": name, "source": str(source)},
        )


def _too_deep(start: str, key: str, entry: _Entry) -> ConfigurationError:
    where = "" if start == key else f" (at {key})"
    return ConfigurationError(
        f"{entry.source}: {start} goes more than {MAX_REFERENCE_DEPTH} ${{NAME}} references "
        f"deep{where}; shorten the chain.",
        details={"key": start, "source": str(entry.source)},
    )


def _too_large(key: str, entry: _Entry) -> ConfigurationError:
    return ConfigurationError(
        f"{entry.source}: {key} expands to more than {MAX_EXPANDED_CHARS} characters "
        "through ${NAME} references (a reference used many times over?).",
        details={"key": key, "source": str(entry.source)},
    )
