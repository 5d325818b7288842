"""Reading an environment's YAML file: where it lives, a parser that refuses duplicate keys, and errors that name
the file, the line and the key in words rather than the parser's."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bft.config.fields import CONFIG_DIR_VARIABLE, DEFAULT_CONFIG_DIR, PATTERN_WORDS, ConfigError, _Invalid
from bft.config.settings import EnvironmentConfig


def resolve_config_dir(explicit: str | Path | None = None) -> Path:
    """Where the environments' YAML files live: the one rule of every entry point (``cdk`` through app.py,
    ``make`` and each ``bft`` command). ``explicit`` (``--config-dir``, ``-c config_dir=``), else the
    ``BFT_CONFIG_DIR`` variable, else this checkout's ``config/``. Absolute, so a process started elsewhere
    reads the same directory."""
    chosen = explicit or os.environ.get(CONFIG_DIR_VARIABLE) or DEFAULT_CONFIG_DIR
    return Path(chosen).expanduser().absolute()


def config_path(env: str, config_dir: str | Path | None = None) -> Path:
    """The file ``load_config(env, config_dir)`` reads."""
    return resolve_config_dir(config_dir) / f"{env}.yaml"


def describe_source(path: Path, config: EnvironmentConfig) -> str:
    """The line each entry point prints on stderr, so nobody wonders which definition answered."""
    return f"config: {path} (environment {config.name}, region {config.region})"


def known_environments(config_dir: str | Path | None = None) -> list[str]:
    return sorted(p.stem for p in resolve_config_dir(config_dir).glob("*.yaml"))


def load_config(env: str, config_dir: str | Path | None = None, *, today: date | None = None) -> EnvironmentConfig:
    """Load and validate ``<config dir>/<env>.yaml`` (the directory by :func:`resolve_config_dir`); model
    lifecycles are judged on ``today`` (default: today)."""
    config_dir = resolve_config_dir(config_dir)
    path = config_dir / f"{env}.yaml"
    if not path.is_file():
        known = ", ".join(known_environments(config_dir)) or "none"
        raise ConfigError(f"unknown environment {env!r}: no {path} (known environments: {known})")
    raw, lines = _parse(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    if raw.get("name", env) != env:
        raise ConfigError(f"{path}:{lines.get(('name',), '?')}: name: {raw['name']!r} must match the file name {env!r}")
    raw.setdefault("name", env)
    if "extends" in raw:
        raw = _extended(raw, path, config_dir, lines)
    try:
        return EnvironmentConfig.model_validate(raw, context={"today": today} if today else None)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc, lines)) from None


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, except that a mapping may not name a key twice. YAML itself keeps the last value
    without a word: one missing ``-`` turns two teams into one, a budget written twice takes the later figure.
    :meth:`document` checks every mapping's keys (and records the line of each key path) before it constructs."""

    def document(self, path: Path) -> tuple[Any, dict[tuple[Any, ...], int]]:
        node = self.get_single_node()
        lines: dict[tuple[Any, ...], int] = {}
        if node is not None:
            self._check_keys(path, node, (), lines, set())
        return self.construct_document(node) if node is not None else None, lines

    def _check_keys(
        self, path: Path, node: yaml.Node, at: tuple[Any, ...], lines: dict[tuple[Any, ...], int], seen: set[int]
    ) -> None:
        if id(node) in seen:  # an alias of a node already walked
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self._check_keys(path, value_node, at, lines, seen)
                    continue
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
                line = key_node.start_mark.line + 1
                child = (*at, key)
                if key in first:
                    raise ConfigError(
                        f"{path}:{line}: {_dotted(child)}: duplicate key, first at line {first[key]}: YAML would keep "
                        "only this later value and drop the first without a word (a missing '- ' before a list "
                        "item does this too)"
                    )
                first[key] = line
                lines[child] = line
                self._check_keys(path, value_node, child, lines, seen)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*at, index)] = item.start_mark.line + 1
                self._check_keys(path, item, (*at, index), lines, seen)


def _parse(path: Path) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """A YAML file's data and the line of each key path; a syntax error or a duplicate key is a ConfigError
    that says ``file:line[:column]: what is wrong``, in words rather than the parser's."""
    text = path.read_text(encoding="utf-8")
    try:
        loader = _StrictLoader(text)  # the reader refuses control characters here
        try:
            return loader.document(path)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(_yaml_problem(path, exc)) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise ConfigError(
            f"{path}:{line}:{column}: not valid YAML: the control character {chr(exc.character)!r} "
            "is not allowed in a YAML file"
        ) from None
    except yaml.YAMLError as exc:  # no position known
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


# The parser's own words for its tokens.
_TOKEN_WORDS = {
    "<stream end>": "the end of the file",
    "<block end>": "the end of the block",
    "<block mapping start>": "a new key",
    "<block sequence start>": "a new list",
    "<scalar>": "a value",
    "'?'": "a key",
    "'-'": "a list item",
    "'<document start>'": "'---' (a line starting with '%' is a YAML directive)",
}


def _yaml_problem(path: Path, exc: yaml.MarkedYAMLError) -> str:
    """``file:line:column: not valid YAML: <what is wrong>``, without the parser's internals."""
    problem = exc.problem or exc.context or "cannot be read"
    mark = exc.problem_mark or exc.context_mark
    opened = f"line {exc.context_mark.line + 1}" if exc.context_mark else "above"
    context = exc.context or ""
    if problem.startswith("expected <block end>"):
        words = (
            "this line's indentation does not fit the block it is in: line the key up with the keys it "
            f"belongs to (the block starts at {opened}), or start a list item with '- '"
        )
    elif problem.startswith("expected ',' or ']'"):
        words = f"a '[' list opened at {opened} is not closed with ']' (or its items lack a ',' between them)"
    elif problem.startswith("expected ',' or '}'"):
        words = f"a '{{' mapping opened at {opened} is not closed with '}}' (or its entries lack a ',' between them)"
    elif "'\\t'" in problem:  # the parser writes the tab as backslash-t
        words = "a tab character: indent with spaces only"
    elif problem.startswith("found character"):
        char = problem.split("'")[1] if problem.count("'") >= 2 else "this character"
        words = f"a value cannot start with {char!r}: put the value in quotes"
    elif problem == "mapping values are not allowed here":
        words = (
            "a ':' where no key may start: put a value that contains ': ' in quotes, or the nested key on a "
            "line of its own, indented"
        )
    elif "quoted scalar" in context:
        words = f"a quote opened at {opened} is never closed"
    elif problem == "could not find expected ':'":
        mark = exc.context_mark or mark
        words = "a key without ':' (each line of a mapping is `key: value`), or a quote left open above"
    elif problem.startswith("found undefined alias"):
        words = f"{problem.removeprefix('found undefined alias ')} names no anchor ('&name') defined above it"
    elif "duplicate anchor" in context:
        words = f"an anchor is defined twice (first at {opened})"
    elif problem.startswith("could not determine a constructor for the tag"):
        words = f"unknown tag {problem.rsplit(' ', 1)[-1]}: put the value in quotes"
    elif "single document" in context or "single document" in problem:
        words = "more than one document ('---'): one environment per file"
    else:
        words = problem
        for token, word in _TOKEN_WORDS.items():
            words = words.replace(token, word)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
    return f"{where}: not valid YAML: {words}"


def _extended(raw: dict[str, Any], path: Path, config_dir: Path, lines: dict[tuple[Any, ...], int]) -> dict[str, Any]:
    """``extends: <env>``: the other environment's file with this file's keys on top (mappings merged key by
    key, lists and values replaced). One level only, so a reader sees the whole environment in two files."""
    parent_name = raw.pop("extends")
    where = f"{path}:{lines.get(('extends',), '?')}: extends"
    parent_path = config_dir / f"{parent_name}.yaml"
    if not isinstance(parent_name, str) or parent_name == raw["name"] or not parent_path.is_file():
        raise ConfigError(f"{where}: {parent_name!r} is not another environment in {config_dir}")
    parent, _ = _parse(parent_path)
    if not isinstance(parent, dict) or "extends" in parent:
        raise ConfigError(f"{where}: {parent_path} must be a mapping that extends nothing itself")

    def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
        out = dict(base)
        for key, value in top.items():
            out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        return out

    return merge(parent, raw)


def _describe(path: Path, exc: ValidationError, lines: dict[tuple[Any, ...], int]) -> str:
    problems = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if not str(part).startswith("function-"))
        anchor: tuple[Any, ...] = ()
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, _Invalid):
            loc, anchor = (*loc, *cause.loc), (*loc, *cause.anchor)
        key = _dotted(loc)
        message = error["msg"].removeprefix("Value error, ")
        pattern = (error.get("ctx") or {}).get("pattern")
        if error["type"] == "string_pattern_mismatch" and pattern in PATTERN_WORDS:
            message = f"{error['input']!r} is not allowed: {PATTERN_WORDS[pattern]}"
        elif error["type"] == "string_type" and isinstance(error["input"], int | float):
            what = "the account id" if loc == ("account",) else "the value"
            message = (
                f'quote {what}: {key}: "{error["input"]}" (unquoted, YAML reads it as a number, '
                "which drops leading zeros)"
            )
        elif error["type"] == "extra_forbidden":
            message = "unknown key (check the spelling against the configuration reference in README.md)"
        elif error["type"] == "missing":
            message = "required key is missing"
        line = lines.get(loc) or _nearest_line(anchor, lines) or _nearest_line(loc, lines)
        where = f"{path}:{line}" if line else str(path)
        problems.append(f"{where}: {key}: {message}" if key else f"{where}: {message}")
    return "invalid configuration:\n  " + "\n  ".join(problems)


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _nearest_line(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None
