"""The core stays pure: no I/O, no clock, no asyncio, no global randomness, no server or web."""

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "facilitation"

# Everything the core may import. A new import must be added here on purpose, after asking
# whether it does I/O, reads a clock or draws from the global random generator.
ALLOWED_MODULES = {
    "__future__",
    "collections",
    "collections.abc",
    "copy",
    "dataclasses",
    "enum",
    "functools",
    "itertools",
    "math",
    "random",
    "re",
    "typing",
    "pydantic",
    # Pure computation: hashing and serialising in memory, no files or sockets.
    "hashlib",
    "hmac",
    "json",
}
FORBIDDEN_CALLS = {"open", "print", "input", "exec", "eval", "breakpoint", "__import__"}
# `random.Random(seed)` is deterministic; the module-level functions share hidden global state.
ALLOWED_RANDOM_ATTRIBUTES = {"Random"}


def core_modules() -> list[Path]:
    return sorted(CORE.glob("*.py"))


def imported_modules(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", core_modules(), ids=lambda path: path.name)
def test_core_module_imports_only_pure_modules(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    outside = {
        name
        for name in imported_modules(tree)
        if name.split(".")[0] != "facilitation" and name not in ALLOWED_MODULES
    }
    assert not outside, f"{path.name} imports {sorted(outside)}"


@pytest.mark.parametrize("path", core_modules(), ids=lambda path: path.name)
def test_core_module_calls_no_io_and_no_global_random(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls I/O"
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "random"
        ):
            assert node.attr in ALLOWED_RANDOM_ATTRIBUTES, (
                f"{path.name}:{node.lineno} uses the global random generator ({node.attr})"
            )


def test_core_imports_nothing_from_server_or_web_at_runtime() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, facilitation, facilitation.allocation, facilitation.metrics, "
        "facilitation.codec, facilitation.docgen; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'server', 'web', 'asyncio', 'socket', 'sqlalchemy', 'redis', 'starlette'}); "
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
