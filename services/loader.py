"""Read the catalog YAML into validated models, with errors a maintainer can act on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from services.schema import Agency, Catalog, Department, ServiceType

DEFAULT_CATALOG_PATH = Path(__file__).parent / "catalog" / "passports.yaml"


class CatalogError(ValueError):
    """The catalog file is unreadable, not YAML, or does not satisfy the schema."""


def _describe_location(raw: Any, loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location, naming each list item by its code where it has one."""
    parts: list[str] = []
    node: Any = raw
    for key in loc:
        if isinstance(key, int):
            label = f"[{key}]"
            if isinstance(node, list | tuple) and 0 <= key < len(node):
                node = node[key]
                code = node.get("code") if isinstance(node, dict) else None
                if isinstance(code, str):
                    label = f"[{key}:{code}]"
            else:
                node = None
            parts.append(label)
        else:
            parts.append(f".{key}" if parts else key)
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts) or "<catalog>"


def _format_validation_error(path: Path, raw: Any, error: ValidationError) -> str:
    """Build one line per schema error, prefixed with the file it came from."""
    lines = [f"{path}: catalog is invalid ({error.error_count()} error(s))"]
    for item in error.errors(include_url=False):
        where = _describe_location(raw, tuple(item["loc"]))
        given = item.get("input")
        shown = f" (got {given!r})" if isinstance(given, str | int | float | bool) else ""
        lines.append(f"  {where}: {item['msg']}{shown}")
    return "\n".join(lines)


def load_catalog_file(path: Path | None = None) -> Catalog:
    """Load and validate a catalog file; defaults to the packaged passports catalog."""
    path = DEFAULT_CATALOG_PATH if path is None else path
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: cannot read catalog: {exc}") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise CatalogError(f"{path}: catalog must be a YAML mapping, got {type(raw).__name__}")
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        raise CatalogError(_format_validation_error(path, raw, exc)) from exc


def iter_services(catalog: Catalog) -> Iterator[tuple[Agency, Department, ServiceType]]:
    """Yield every service with its owning agency and department, in file order."""
    for agency in catalog.agencies:
        for department in agency.departments:
            for service in department.services:
                yield agency, department, service
