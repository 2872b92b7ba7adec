"""The layering docs/layout.md describes: each package of `gan` imports only those below it, the
shared modules import no package, and no module imports itself back through others."""

import ast
import pathlib

import pytest

from tests.conftest import REPO_ROOT

GAN = REPO_ROOT / "gan"
SHARED = {"gan.errors", "gan.parallel", "gan.images"}
# What each package may import besides itself and the shared modules.
ALLOWED = {
    "gan.models": set(),
    "gan.data": {"gan.models"},  # classes found from the images: gan.models.outline_clusters
    "gan.evaluation": {"gan.data", "gan.models"},
    "gan.training": {"gan.data", "gan.models", "gan.evaluation"},
}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_gan_modules(path: pathlib.Path) -> set[str]:
    """Modules of `gan` that `path` imports (a `from gan.pkg import name` counts as
    `gan.pkg.name` when that is a module, else as `gan.pkg`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("gan")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gan"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                as_path = REPO_ROOT / candidate.replace(".", "/")
                is_module = as_path.with_suffix(".py").exists() or as_path.is_dir()
                found.add(candidate if is_module else node.module)
    return found


GRAPH = {module_name(p): imported_gan_modules(p) for p in GAN.rglob("*.py")}


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_the_packages_below_it(package):
    allowed = ALLOWED[package] | {package} | SHARED
    for module, imports in GRAPH.items():
        if package_of(module) == package and module != "gan.data.__main__":  # a command
            wrong = {i for i in imports if package_of(i) not in allowed and i not in allowed}
            assert not wrong, f"{module} imports {sorted(wrong)}"


def test_shared_modules_import_no_package():
    for module in SHARED:
        assert GRAPH[module] <= {"gan.errors"}, (module, GRAPH[module])


def test_no_import_cycle():
    def visit(module, path):
        assert module not in path, " -> ".join([*path, module])
        for imported in GRAPH.get(module, ()):
            if imported in GRAPH:
                visit(imported, (*path, module))

    for module in GRAPH:
        visit(module, ())
