"""Pydantic models that validate the e-service catalog before anything trusts it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

CODE_PATTERN = r"^[a-z][a-z0-9_]{1,62}$"
_CODE_RE = re.compile(CODE_PATTERN)


def _check_code(value: str) -> str:
    """Reject codes that are not lowercase snake_case ASCII, so they are safe as keys and slugs."""
    if not _CODE_RE.fullmatch(value):
        raise ValueError(f"code {value!r} must match {CODE_PATTERN}")
    return value


def _check_text(value: str) -> str:
    """Reject blank text or text padded with whitespace, which renders badly in SMS and UI."""
    if not value.strip():
        raise ValueError("text must not be blank")
    if value != value.strip():
        raise ValueError(f"text {value!r} must not start or end with whitespace")
    return value


def _check_arabic(value: str) -> str:
    """Require at least one Arabic letter so an English string is not shipped as Arabic."""
    _check_text(value)
    if not any("\u0600" <= char <= "\u06ff" and char.isalpha() for char in value):
        raise ValueError(f"text {value!r} must contain at least one Arabic letter")
    return value


def _check_ascii(value: str) -> str:
    """Require printable ASCII so English names survive every SMS gateway and log line."""
    _check_text(value)
    if not all(" " <= char <= "~" for char in value):
        raise ValueError(f"text {value!r} must be printable ASCII")
    return value


Code = Annotated[str, AfterValidator(_check_code)]
Text = Annotated[str, AfterValidator(_check_text)]
ArabicText = Annotated[str, AfterValidator(_check_arabic)]
AsciiText = Annotated[str, AfterValidator(_check_ascii)]


def _duplicates(codes: Iterable[str]) -> list[str]:
    """Return each code that occurs more than once, in first-seen order."""
    seen: set[str] = set()
    repeated: list[str] = []
    for code in codes:
        if code in seen and code not in repeated:
            repeated.append(code)
        seen.add(code)
    return repeated


class _Frozen(BaseModel):
    """Base for catalog models: unknown keys are typos, and loaded data must not change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DocumentType(_Frozen):
    """A kind of supporting document that a service can ask the resident to attach."""

    code: Code
    name_ar: ArabicText
    name_en: AsciiText


class ServiceType(_Frozen):
    """One e-service a resident can request, with its documents and promised response time."""

    code: Code
    name_ar: ArabicText
    name_en: AsciiText
    description_ar: ArabicText
    description_en: Text
    required_documents: tuple[Code, ...] = ()
    response_time_hours: int = Field(strict=True, ge=1, le=720)
    # Working hours to resolve; 49 = the 7 working days the public service promises.
    resolution_hours: int = Field(default=49, strict=True, ge=1, le=2000)
    active: bool = Field(default=True, strict=True)

    @model_validator(mode="after")
    def _documents_listed_once(self) -> ServiceType:
        """Reject a document listed twice, which would ask the resident for it twice."""
        repeated = _duplicates(self.required_documents)
        if repeated:
            raise ValueError(f"service {self.code!r} lists documents more than once: {repeated}")
        return self


class Department(_Frozen):
    """A passports department that receives and answers requests for its services."""

    code: Code
    name_ar: ArabicText
    name_en: AsciiText
    description_ar: ArabicText
    description_en: Text
    services: tuple[ServiceType, ...]

    @model_validator(mode="after")
    def _has_services(self) -> Department:
        """Reject an empty department, since residents could never reach it."""
        if not self.services:
            raise ValueError(f"department {self.code!r} has no services")
        return self


class Agency(_Frozen):
    """A government agency owning departments; requests are routed within it."""

    code: Code
    name_ar: ArabicText
    name_en: AsciiText
    departments: tuple[Department, ...]

    @model_validator(mode="after")
    def _has_departments(self) -> Agency:
        """Reject an agency with no departments, since nothing could be routed to it."""
        if not self.departments:
            raise ValueError(f"agency {self.code!r} has no departments")
        return self


class Catalog(_Frozen):
    """The whole catalog file: document types plus agencies, checked for cross-references."""

    version: int = Field(strict=True, ge=1)
    document_types: tuple[DocumentType, ...]
    agencies: tuple[Agency, ...]

    @model_validator(mode="after")
    def _codes_unique_and_resolved(self) -> Catalog:
        """Enforce catalog-wide code uniqueness and that every document reference exists."""
        problems: list[str] = [] if self.agencies else ["catalog has no agencies"]
        for kind, codes in (
            ("document type", [doc.code for doc in self.document_types]),
            ("agency", [agency.code for agency in self.agencies]),
        ):
            problems += [
                f"{kind} code {code!r} is defined more than once" for code in _duplicates(codes)
            ]

        departments: dict[str, list[str]] = {}
        services: dict[str, list[str]] = {}
        known_documents = {doc.code for doc in self.document_types}
        for a, agency in enumerate(self.agencies):
            for d, department in enumerate(agency.departments):
                dept_path = f"agencies[{a}].departments[{d}]"
                departments.setdefault(department.code, []).append(dept_path)
                for s, service in enumerate(department.services):
                    path = f"{dept_path}.services[{s}]"
                    services.setdefault(service.code, []).append(path)
                    problems += [
                        f"service {service.code!r} at {path} requires unknown document {ref!r}"
                        for ref in service.required_documents
                        if ref not in known_documents
                    ]
        for kind, places in (("department", departments), ("service", services)):
            problems += [
                f"{kind} code {code!r} is used more than once: {', '.join(paths)}"
                for code, paths in places.items()
                if len(paths) > 1
            ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def documents_for(self, service: ServiceType) -> tuple[DocumentType, ...]:
        """Resolve a service's document codes to their document types, in the listed order."""
        by_code = {doc.code: doc for doc in self.document_types}
        return tuple(by_code[code] for code in service.required_documents)
