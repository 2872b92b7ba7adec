"""The commands in the README and docs/ match the code: every `python -m MODULE` names a module
that exists, each of its --flags is one that module defines, each --config file exists and each
--config.KEY override names a key of it. Commands are not run (many train for hours); their
flags are checked against each module's own `--helpfull`, so the docs cannot drift from it."""

import importlib
import importlib.util
import json
import re
import shlex
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

DOCUMENTS = [REPO_ROOT / "README.md", REPO_ROOT / "experiments" / "README.md"] + sorted(
    (REPO_ROOT / "docs").rglob("*.md")
)
# Flags absl gives every program; placeholders such as DIR stand for the user's paths.
ABSL_FLAGS = {"help", "helpfull", "helpshort", "flagfile"}
# Commands that pass the flags they do not define on to another one.
PASSES_FLAGS_TO = {"benchmarks.scaling": "benchmarks.train_step"}


def documented_commands() -> list[tuple[str, str]]:
    """(document, command) for every `python -m` line of a fenced code block, with its
    backslash continuations joined and comments dropped."""
    commands = []
    for document in DOCUMENTS:
        blocks = re.findall(r"```(?:bash|sh|console)?\n(.*?)```", document.read_text(), re.S)
        for block in blocks:
            joined = re.sub(r"\\\n\s*", " ", block)
            for line in joined.splitlines():
                line = line.split(" #")[0].strip()
                if line.startswith("python -m ") and not line.startswith("python -m pytest"):
                    commands.append((str(document.relative_to(REPO_ROOT)), line))
    return commands


@pytest.fixture(scope="module")
def defined_flags() -> dict[str, frozenset[str]]:
    """Every documented module's flags, read from its --helpfull (`tests/module_flags.py`)."""
    modules = {shlex.split(command)[2] for _, command in documented_commands()}
    modules = sorted(modules | {PASSES_FLAGS_TO[m] for m in modules if m in PASSES_FLAGS_TO})
    modules = [module for module in modules if importlib.util.find_spec(module) is not None]
    result = subprocess.run(
        [sys.executable, "-m", "tests.module_flags", *modules],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    flags = {module: frozenset(names) for module, names in json.loads(result.stdout).items()}
    for module, names in flags.items():
        assert names, f"python -m {module} --helpfull listed no flags"
    return flags


def config_keys(path: str) -> set[str]:
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    return set(module.get_config().keys())


def test_the_docs_have_commands_to_check():
    assert len(documented_commands()) > 30


@pytest.mark.parametrize(("document", "command"), documented_commands())
def test_documented_command_matches_the_code(document, command, defined_flags):
    words = shlex.split(command)
    module = words[2]
    assert module in defined_flags, f"{document}: no module {module}"
    known = defined_flags[module] | defined_flags.get(PASSES_FLAGS_TO.get(module), frozenset())
    config = None
    for word in words[3:]:
        if not word.startswith("--"):
            continue
        name, _, value = word[2:].partition("=")
        if name.startswith("config."):
            assert config is not None, f"{document}: {word} before --config"
            key = name.split(".")[1]
            assert key in config_keys(config), f"{document}: {config} has no key {key!r}"
            continue
        assert name in known or name in ABSL_FLAGS, f"{document}: {module} has no flag --{name}"
        if name in ("config", "sweep") and value.endswith(".py"):
            assert (REPO_ROOT / value).exists(), f"{document}: {value} does not exist"
            config = value if name == "config" else None
