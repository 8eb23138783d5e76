"""Static checks of the image recipe: deploy/Dockerfile, its ignore file and entrypoint.sh.

There is no Docker engine here, so the Dockerfile is parsed, and the entrypoint is run with
stand-ins for `uvicorn` and `python` that print the command they were given.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import stat
import subprocess
from dataclasses import dataclass, field

import pytest

from tests.deploy.processes import BY_NAME, DEPLOY, PROCESSES, ROOT

DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
ENTRYPOINT = DEPLOY / "entrypoint.sh"
USAGE_EXIT = 64  # EX_USAGE
BUILD_TOOLS = {"gcc", "g++", "cc", "make", "build-essential", "python3-dev", "libc6-dev", "clang"}
BASE_IMAGE = re.compile(r"^python:3\.11\.(\d+)-slim-bookworm(@sha256:[0-9a-f]{64})?$")


@dataclass
class Stage:
    """One FROM ... [AS name] section: its base, its name and its (keyword, argument) lines."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [rest for key, rest in self.instructions if key == keyword]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with continuation lines joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in lines:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--platform")]
            base = re.sub(
                r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), m.group(0)), words[0]
            )
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=base, name=name))
        elif not stages:
            if keyword == "ARG":
                key, _, value = rest.partition("=")
                global_args[key] = value.strip('"')
        else:
            stages[-1].instructions.append((keyword, rest))
    return global_args, stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())[1]


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


def test_multi_stage_build_with_a_builder_that_makes_wheels(stages: list[Stage]) -> None:
    assert len(stages) >= 2, "Dockerfile: expected a builder stage and a final stage"
    builder_runs = " ".join(run for stage in stages[:-1] for run in stage.args("RUN"))
    assert "pip wheel" in builder_runs, "Dockerfile: the builder stage must `pip wheel`"


def test_base_images_are_pinned_to_a_python_311_patch_release(stages: list[Stage]) -> None:
    stage_names = {s.name for s in stages if s.name}
    bases = [s.base for s in stages if s.base not in stage_names]
    assert bases, "Dockerfile: no base image found"
    for base in bases:
        assert "latest" not in base, f"Dockerfile: base image {base!r} must not be `latest`"
        assert BASE_IMAGE.match(base), (
            f"Dockerfile: base image {base!r} must be python:3.11.<patch>-slim-bookworm"
        )
    text = DOCKERFILE.read_text()
    assert re.search(r"#.*digest", text, re.IGNORECASE), (
        "Dockerfile: a comment must say to pin the base image digest in CI"
    )


def test_final_stage_runs_as_a_fixed_non_root_uid(final: Stage) -> None:
    users = final.args("USER")
    assert users, "Dockerfile final stage: USER is not set (it would run as root)"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), f"Dockerfile final stage: USER {uid!r} must be numeric (runAsNonRoot)"
    assert int(uid) == 10001, f"Dockerfile final stage: USER must be 10001, not {uid}"
    runs = " ".join(final.args("RUN"))
    assert re.search(r"useradd\b.*--uid 10001", runs), "Dockerfile: user 10001 must exist"


def test_final_stage_installs_no_build_tools(final: Stage) -> None:
    for run in final.args("RUN"):
        for command in re.split(r"&&|;|\|\|", run):
            words = command.split()
            if "apt-get" in words and "install" in words:
                packages = {w for w in words if not w.startswith("-")}
                assert not packages & BUILD_TOOLS, (
                    f"Dockerfile final stage installs build tools: {sorted(packages & BUILD_TOOLS)}"
                )
            if "pip" in words and "install" in words:
                assert "--no-index" in command, (
                    "Dockerfile final stage: pip install must use only the builder's wheels"
                )


def test_final_stage_layout_and_entrypoint(final: Stage) -> None:
    assert final.args("WORKDIR")[-1:] == ["/app"], "Dockerfile final stage: WORKDIR /app"
    entrypoint = final.args("ENTRYPOINT")
    assert entrypoint, "Dockerfile final stage: ENTRYPOINT is not set"
    assert json.loads(entrypoint[-1]) == ["/app/entrypoint.sh"], "ENTRYPOINT must be exec form"
    assert json.loads(final.args("CMD")[-1]) == ["gateway"], "CMD must default to the gateway"
    env = " ".join(final.args("ENV"))
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"):
        assert setting in env, f"Dockerfile final stage: ENV {setting}"
    copies = " ".join(final.args("COPY"))
    for needed in ("alembic.ini", "shared/migrations", "deploy/entrypoint.sh"):
        assert needed in copies, f"Dockerfile final stage must COPY {needed}"


def _copy_sources(stages: list[Stage]) -> list[str]:
    sources: list[str] = []
    for stage in stages:
        for rest in stage.args("COPY"):
            words = shlex.split(rest)
            if any(w.startswith("--from") for w in words):
                continue
            paths = [w for w in words if not w.startswith("--")]
            sources.extend(paths[:-1])
    return sources


def test_copied_files_exist_and_pass_the_ignore_file(stages: list[Stage]) -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "Dockerfile.dockerignore: start from `*` (an allow-list)"

    def included(path: str) -> bool:
        keep = True
        for pattern in patterns:
            negate = pattern.startswith("!")
            glob = pattern.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, glob) or path.startswith(glob + "/"):
                keep = negate
        return keep

    sources = _copy_sources(stages)
    assert sources, "Dockerfile: no COPY from the build context"
    for source in sources:
        path = source.rstrip("/")
        assert (ROOT / path).exists(), f"Dockerfile COPY {source}: not in the repository"
        assert included(path), f"Dockerfile COPY {source}: excluded by Dockerfile.dockerignore"
    for secret_like in (".venv", ".devdata", ".git", ".env", "tests"):
        assert not included(secret_like), f"Dockerfile.dockerignore must exclude {secret_like}"


def test_every_package_of_the_project_is_copied(stages: list[Stage]) -> None:
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r"include = \[([^\]]*)\]", text)
    assert match, "pyproject.toml: [tool.setuptools.packages.find] include not found"
    packages = {p.strip().strip('"').rstrip("*") for p in match.group(1).split(",") if p.strip()}
    copied = {s.strip("/").split("/")[0] for s in _copy_sources(stages[:-1])}
    assert packages <= copied, f"builder stage does not copy {sorted(packages - copied)}"


# --- entrypoint.sh -------------------------------------------------------------------------


def case_arms(script: str) -> set[str]:
    """The patterns of the `case "$process" in` arms, e.g. {"gateway", "-h", "--help", ...}."""
    body = script[script.index('case "$process" in') : script.index("esac")]
    arms: set[str] = set()
    for line in body.splitlines():
        match = re.fullmatch(r"\s*([^()\s][^()]*)\)\s*", line)
        if match:
            arms.update(part.strip() for part in match.group(1).split("|"))
    return arms


def test_entrypoint_is_a_posix_script_that_execs() -> None:
    text = ENTRYPOINT.read_text()
    assert text.startswith("#!/bin/sh\n"), "entrypoint.sh must be POSIX sh"
    assert re.search(r"^set -eu$", text, re.MULTILINE), "entrypoint.sh must `set -eu`"
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR, "entrypoint.sh must be executable"
    subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=True)


def test_entrypoint_has_an_arm_for_every_process() -> None:
    arms = case_arms(ENTRYPOINT.read_text())
    missing = {p.name for p in PROCESSES} - arms
    assert not missing, f"entrypoint.sh has no case arm for {sorted(missing)}"
    unknown = arms - {p.name for p in PROCESSES} - {"-h", "--help", "help", "*"}
    assert not unknown, f"entrypoint.sh starts processes the tests do not know: {unknown}"


@pytest.fixture(scope="module")
def stub_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PATH whose `uvicorn` and `python` print their command line instead of running."""
    bin_dir = tmp_path_factory.mktemp("stub-bin")
    for tool in ("uvicorn", "python"):
        stub = bin_dir / tool
        stub.write_text(
            "#!/bin/sh\n"
            f'echo "{tool} $*"\n'
            'case "$*" in *alembic*) exit "${STUB_ALEMBIC_EXIT:-0}" ;; esac\n'
        )
        stub.chmod(0o755)
    return f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"


def run_entrypoint(
    stub_path: str, *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *args],
        env={"PATH": stub_path, **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_entrypoint_execs_the_documented_command(stub_path: str, name: str) -> None:
    result = run_entrypoint(stub_path, name)
    assert result.returncode == 0, result.stderr
    assert tuple(result.stdout.splitlines()) == BY_NAME[name].commands


def test_failed_migration_stops_before_the_catalog(stub_path: str) -> None:
    result = run_entrypoint(stub_path, "migrate", extra_env={"STUB_ALEMBIC_EXIT": "3"})
    assert result.returncode == 3
    assert "services.db_loader" not in result.stdout


@pytest.mark.parametrize("args", [(), ("celery",), ("Gateway",)])
def test_entrypoint_refuses_unknown_processes(stub_path: str, args: tuple[str, ...]) -> None:
    result = run_entrypoint(stub_path, *args)
    assert result.returncode == USAGE_EXIT
    assert "usage:" in result.stderr
    assert result.stdout == ""
