"""Unit tests for the e-service catalog schema and its YAML loader."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from services.loader import CatalogError, iter_services, load_catalog_file
from services.schema import Catalog


def _is_arabic(text: str) -> bool:
    """Tell whether the text has at least one Arabic letter."""
    return any("\u0600" <= char <= "\u06ff" and char.isalpha() for char in text)


def _service(code: str, documents: list[str] | None = None) -> dict[str, Any]:
    """Build a valid raw service entry for a small test catalog."""
    return {
        "code": code,
        "name_ar": "تجديد هوية مقيم",
        "name_en": "Renew iqama",
        "description_ar": "تجديد هوية مقيم.",
        "description_en": "Renewal of an iqama.",
        "required_documents": ["iqama"] if documents is None else documents,
        "response_time_hours": 48,
        "active": True,
    }


def _department(code: str, services: list[dict[str, Any]]) -> dict[str, Any]:
    """Build a valid raw department entry holding the given services."""
    return {
        "code": code,
        "name_ar": "شؤون الإقامة",
        "name_en": "Residency Affairs",
        "description_ar": "خدمات الإقامة.",
        "description_en": "Residency services.",
        "services": services,
    }


def _raw_catalog() -> dict[str, Any]:
    """Build a minimal valid raw catalog that each test breaks in one way."""
    return {
        "version": 1,
        "document_types": [{"code": "iqama", "name_ar": "هوية مقيم", "name_en": "Iqama"}],
        "agencies": [
            {
                "code": "passports",
                "name_ar": "المديرية العامة للجوازات",
                "name_en": "General Directorate of Passports",
                "departments": [
                    _department("residency", [_service("renew_iqama")]),
                    _department("visas", [_service("final_exit")]),
                ],
            }
        ],
    }


def _first_service(raw: dict[str, Any]) -> dict[str, Any]:
    """Return the first raw service of the first department, for in-place edits."""
    service: dict[str, Any] = raw["agencies"][0]["departments"][0]["services"][0]
    return service


def _write(tmp_path: Path, raw: dict[str, Any]) -> Path:
    """Dump a raw catalog to a YAML file and return its path."""
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_shipped_catalog_loads_with_enough_departments_and_services() -> None:
    """The packaged catalog validates and covers the required breadth."""
    catalog = load_catalog_file()
    departments = [d for agency in catalog.agencies for d in agency.departments]
    assert [agency.code for agency in catalog.agencies] == ["passports"]
    assert len(departments) >= 6
    assert len(list(iter_services(catalog))) >= 20


def test_shipped_catalog_names_ar_are_arabic() -> None:
    """Every Arabic name in the packaged catalog really contains Arabic letters."""
    catalog = load_catalog_file()
    names = [doc.name_ar for doc in catalog.document_types]
    for agency, department, service in iter_services(catalog):
        names += [agency.name_ar, department.name_ar, service.name_ar]
    assert all(_is_arabic(name) for name in names)


def test_shipped_catalog_resolves_documents_for_every_service() -> None:
    """Every service's document codes resolve to document types in listed order."""
    catalog = load_catalog_file()
    for _, _, service in iter_services(catalog):
        resolved = catalog.documents_for(service)
        assert tuple(doc.code for doc in resolved) == service.required_documents


def test_minimal_catalog_is_valid() -> None:
    """The test fixture itself is valid, so each failure below has a single cause."""
    assert Catalog.model_validate(_raw_catalog()).version == 1


def test_duplicate_service_code_across_departments_fails() -> None:
    """A service code reused in another department is rejected, naming both places."""
    raw = _raw_catalog()
    raw["agencies"][0]["departments"][1]["services"][0]["code"] = "renew_iqama"
    with pytest.raises(ValidationError, match=r"service code 'renew_iqama' is used more than"):
        Catalog.model_validate(raw)


def test_duplicate_department_code_fails() -> None:
    """Two departments with the same code are rejected."""
    raw = _raw_catalog()
    raw["agencies"][0]["departments"][1]["code"] = "residency"
    with pytest.raises(ValidationError, match=r"department code 'residency' is used more than"):
        Catalog.model_validate(raw)


def test_unknown_document_reference_fails() -> None:
    """A service requiring an undefined document type is rejected, naming the reference."""
    raw = _raw_catalog()
    _first_service(raw)["required_documents"] = ["iqama", "birth_certificate"]
    with pytest.raises(ValidationError, match=r"unknown document 'birth_certificate'"):
        Catalog.model_validate(raw)


def test_bad_code_pattern_fails() -> None:
    """A code with uppercase letters or dashes is rejected."""
    raw = _raw_catalog()
    _first_service(raw)["code"] = "Renew-Iqama"
    with pytest.raises(ValidationError, match=r"code 'Renew-Iqama' must match"):
        Catalog.model_validate(raw)


def test_zero_response_time_fails() -> None:
    """A response time of zero hours is rejected."""
    raw = _raw_catalog()
    _first_service(raw)["response_time_hours"] = 0
    with pytest.raises(ValidationError, match=r"response_time_hours"):
        Catalog.model_validate(raw)


def test_response_time_above_thirty_days_fails() -> None:
    """A response time beyond 720 hours is rejected."""
    raw = _raw_catalog()
    _first_service(raw)["response_time_hours"] = 721
    with pytest.raises(ValidationError, match=r"response_time_hours"):
        Catalog.model_validate(raw)


def test_department_without_services_fails() -> None:
    """A department with an empty services list is rejected, naming the department."""
    raw = _raw_catalog()
    raw["agencies"][0]["departments"][1]["services"] = []
    with pytest.raises(ValidationError, match=r"department 'visas' has no services"):
        Catalog.model_validate(raw)


def test_non_arabic_name_ar_fails() -> None:
    """An English string in name_ar is rejected."""
    raw = _raw_catalog()
    _first_service(raw)["name_ar"] = "Renew iqama"
    with pytest.raises(ValidationError, match=r"must contain at least one Arabic letter"):
        Catalog.model_validate(raw)


def test_non_ascii_name_en_fails() -> None:
    """Arabic text in name_en is rejected."""
    raw = _raw_catalog()
    _first_service(raw)["name_en"] = "تجديد"
    with pytest.raises(ValidationError, match=r"must be printable ASCII"):
        Catalog.model_validate(raw)


def test_extra_unknown_field_fails() -> None:
    """An unknown key, such as a misspelt field, is rejected."""
    raw = _raw_catalog()
    _first_service(raw)["response_hours"] = 24
    with pytest.raises(ValidationError, match=r"response_hours"):
        Catalog.model_validate(raw)


def test_models_are_frozen() -> None:
    """Loaded catalog models cannot be mutated after validation."""
    catalog = Catalog.model_validate(_raw_catalog())
    with pytest.raises(ValidationError, match=r"frozen"):
        catalog.version = 2  # type: ignore[misc]


def test_invalid_yaml_file_raises_catalog_error(tmp_path: Path) -> None:
    """Malformed YAML becomes a CatalogError that names the file."""
    path = tmp_path / "broken.yaml"
    path.write_text("version: 1\nagencies: [unclosed\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"broken\.yaml: invalid YAML"):
        load_catalog_file(path)


def test_invalid_data_file_error_names_path_and_location(tmp_path: Path) -> None:
    """Schema errors from a file name the file and the offending service by index and code."""
    raw = copy.deepcopy(_raw_catalog())
    _first_service(raw)["response_time_hours"] = 0
    path = _write(tmp_path, raw)
    with pytest.raises(CatalogError) as excinfo:
        load_catalog_file(path)
    message = str(excinfo.value)
    assert str(path) in message
    assert "departments[0:residency].services[0:renew_iqama].response_time_hours" in message


def test_missing_file_raises_catalog_error(tmp_path: Path) -> None:
    """A missing catalog file becomes a CatalogError rather than a bare OSError."""
    with pytest.raises(CatalogError, match=r"cannot read catalog"):
        load_catalog_file(tmp_path / "absent.yaml")
