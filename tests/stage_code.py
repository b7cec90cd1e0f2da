"""The code files each DVC stage executes, derived from its command's imports (static, lazy ones included).

``python tests/stage_code.py`` prints, per stage, what dvc.yaml lacks and what it declares in excess.
"""
from __future__ import annotations

import ast
import importlib
import re
import sys
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"diffubias": ROOT / "src" / "diffubias", "stages": ROOT / "stages"}
DISPATCHER = "stages/cli.py"  # runs for every command; a new command must not rerun every stage


def module_file(name: str) -> Path | None:
    """The source file of a first-party module (``None`` for third-party ones)."""
    top, _, rest = name.partition(".")
    if top not in PACKAGES:
        return None
    base = PACKAGES[top].joinpath(*rest.split(".")) if rest else PACKAGES[top]
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    pkg = _module_name(path).rpartition(".")[0] if path.name != "__init__.py" else _module_name(path)
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
    return out


def _module_name(path: Path) -> str:
    for top, base in PACKAGES.items():
        if path.is_relative_to(base):
            rel = path.relative_to(base).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            return ".".join([top, *parts])
    raise ValueError(path)


@cache
def closure(module: str) -> frozenset[str]:
    """Repository-relative paths of every first-party file ``module`` imports, transitively (with parents)."""
    seen: set[Path] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
            f = module_file(".".join(parts[:i]))
            if f is not None and f not in seen:
                seen.add(f)
                todo.extend(_imports(f))
    return frozenset(str(f.relative_to(ROOT)) for f in seen)


def command_module(cmd: str) -> str:
    """The module of the ``diffubias <command>`` a stage runs."""
    sys.path.insert(0, str(ROOT))
    cli = importlib.import_module("stages.cli")
    name = cmd.split()[1]
    if name in cli.COMMANDS:
        return cli.COMMANDS[name].split(":")[0]
    for prefix, (module, _registry, _factory) in cli.FAMILIES.items():
        if name.startswith(prefix) or re.sub(r"\$\{[^}]*\}", "", name) == prefix:
            return module
    raise KeyError(f"{cmd!r}: no such diffubias command")


def stage_code(stage: dict) -> set[str]:
    """The code files a stage executes, minus the dispatcher."""
    return set(closure(command_module(stage["cmd"]))) - {DISPATCHER}


def declared_code(stage: dict) -> list[str]:
    """The deps of a stage under src/ or stages/ (files or folders)."""
    return [d for d in stage.get("deps", []) if isinstance(d, str) and d.startswith(("src/", "stages/"))]


def covered(path: str, declared: list[str]) -> bool:
    """Whether a declared dep is ``path`` or a folder above it."""
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in declared)


def compare(stage: dict) -> tuple[list[str], list[str]]:
    """(executed files dvc.yaml misses, declared code deps the stage never executes)."""
    code, declared = stage_code(stage), declared_code(stage)
    missing = sorted(f for f in code if not covered(f, declared))
    extra = sorted(d for d in declared if (d.endswith(".py") and d not in code)
                   or (not d.endswith(".py") and not any(covered(f, [d]) for f in code)))
    return missing, extra


def stages() -> dict[str, dict]:
    """The stages of dvc.yaml (matrix stages once, with their templated cmd)."""
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def collapse(files: set[str]) -> list[str]:
    """``files`` with every folder whose .py files are all present written as the folder."""
    out = set(files)
    for folder in sorted({str(Path(f).parent) for f in files}, key=len, reverse=True):
        inside = {str(p.relative_to(ROOT)) for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts}
        if folder not in ("src/diffubias", "stages") and inside and inside <= out | {
                f for f in out if f.startswith(folder + "/")}:
            out = {f for f in out if not f.startswith(folder + "/")} | {folder}
    return sorted(out)


def rewrite(text: str) -> str:
    """dvc.yaml with each stage's code deps replaced by what its command executes (anchors expanded)."""
    table = stages()
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    current = None
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^  ([a-z0-9-]+):\s*$", line)
        if m:
            current = m.group(1)
        if current in table and re.match(r"^    deps:", line):
            keep, i = [], i + 1
            while i < len(lines) and (lines[i].startswith("      ") or not lines[i].strip()):
                item = lines[i].strip()
                if item and not item.lstrip("- ").startswith(("src/", "stages/")):
                    keep.append(lines[i])
                i += 1
            if not keep and "*" in line:  # an alias: spell out its non-code deps from the parsed file
                keep = [f"      - {d}\n" for d in table[current]["deps"]
                        if not d.startswith(("src/", "stages/"))]
            out.append("    deps:\n")
            out.extend(keep)
            out.extend(f"      - {f}\n" for f in collapse(stage_code(table[current])))
            continue
        out.append(line)
        i += 1
    return "".join(out)


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        path = ROOT / "dvc.yaml"
        path.write_text(rewrite(path.read_text()))
    for name, stage in stages().items():
        missing, extra = compare(stage)
        if missing or extra:
            print(f"{name}: missing {missing} extra {extra}")
