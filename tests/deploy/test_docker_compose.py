"""The images and the Compose stack, checked without a Docker engine: docker-compose.yml against the
Compose specification's schema and for what the service needs (GPU reservation, durable Redis, a bucket
before the workers, secrets from .env only), the Dockerfiles with hadolint, the dependency locks
against pyproject and the base images, and the build context that .dockerignore leaves."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILES = sorted((ROOT / "docker").glob("*.Dockerfile"))
BIN = Path(sys.executable).parent  # check-jsonschema and hadolint come with the test extra
SERVICES = {"api", "worker-gpu", "worker-cpu", "redis", "seaweedfs", "bucket-init", "prometheus", "grafana"}
HDRTV_SERVICES = ("api", "worker-gpu", "worker-cpu")
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")
SECRET_NAME = re.compile(r"KEY|SECRET|PASSWORD|TOKEN")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())  # PyYAML resolves the `<<:` merge keys as Compose does


def run(*argv: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=ROOT)


# --- the Compose specification ----------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification():
    result = run(BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_refuses_a_broken_compose_file(tmp_path):
    broken = tmp_path / "compose.yml"
    broken.write_text("services:\n  api:\n    image: hdrtv-api\n    depends_on: 5\n    restart: sometimes\n")
    result = run(BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", broken)
    assert result.returncode != 0, "the vendored compose schema accepted a file it must refuse"


# --- what the stack must run ------------------------------------------------------------------------


def test_every_service_of_the_stack_exists(compose):
    assert SERVICES <= set(compose["services"]), SERVICES - set(compose["services"])


def test_api_and_workers_run_their_commands(compose):
    services = compose["services"]
    assert services["api"]["command"][:3] == ["serve", "--host", "0.0.0.0"]
    for name, queue in (("worker-gpu", "gpu"), ("worker-cpu", "cpu")):
        command = services[name]["command"]
        assert command[0] == "worker" and command[command.index("--queues") + 1] == queue
        # Prometheus scrapes the workers from its own container: not 127.0.0.1, and the port it expects.
        assert command[command.index("--metrics-port") + 1] == "9100"
        assert command[command.index("--metrics-host") + 1] == "0.0.0.0"
    assert "8000:8000" in services["api"]["ports"]


def test_gpu_worker_reserves_an_nvidia_gpu_and_the_cpu_worker_none(compose):
    devices = compose["services"]["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert [(d["driver"], d["count"], d["capabilities"]) for d in devices] == [("nvidia", 1, ["gpu"])]
    assert "deploy" not in compose["services"]["worker-cpu"]


def test_redis_persists_with_an_append_only_file_on_a_volume(compose):
    redis = compose["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(v.split(":")[0] in compose["volumes"] and v.endswith(":/data") for v in redis["volumes"])


def test_servers_have_healthchecks_and_start_in_order(compose):
    services = compose["services"]
    for name in ("redis", "seaweedfs"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    # The API's and the workers' healthchecks are their images' HEALTHCHECKs.
    assert "/healthz" in _instruction(ROOT / "docker/api.Dockerfile", "HEALTHCHECK")
    assert ":9100/metrics" in _instruction(ROOT / "docker/worker.Dockerfile", "HEALTHCHECK")
    assert services["bucket-init"]["depends_on"]["seaweedfs"]["condition"] == "service_healthy"
    for name in HDRTV_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["bucket-init"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_hdrtv_containers_run_with_a_read_only_root(compose):
    for name in (*HDRTV_SERVICES, "bucket-init"):
        assert compose["services"][name]["read_only"] is True, name
    for name in HDRTV_SERVICES:
        assert "/tmp" in compose["services"][name]["tmpfs"], name
    for name in ("worker-gpu", "worker-cpu"):  # chunks are written to the scratch folder
        assert "/scratch" in compose["services"][name]["volumes"], name
    assert "HDRTV_SCRATCH_DIR=/scratch" in _instruction(ROOT / "docker/worker.Dockerfile", "ENV")


def test_prometheus_and_grafana_get_their_configuration(compose):
    prometheus = compose["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus
    assert "./deploy/prometheus/rules:/etc/prometheus/rules:ro" in prometheus
    grafana = compose["services"]["grafana"]["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana


def test_every_host_path_and_build_file_exists(compose):
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} is mounted but not in the repository"
        if "build" in service:
            build = service["build"]
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name


def test_services_sharing_an_image_share_its_build(compose):
    builds: dict[str, dict] = {}
    for name, service in compose["services"].items():
        if "build" in service:
            assert builds.setdefault(service["image"], service["build"]) == service["build"], name


# --- secrets ----------------------------------------------------------------------------------------


def _env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_every_variable_the_compose_file_reads_is_documented_in_env_example():
    used = {match[0] for match in INTERPOLATION.findall(COMPOSE.read_text())}
    example = _env_example()
    assert used - set(example) == set(), "undocumented in .env.example"
    assert set(example) - used == set(), "documented but unused"
    assert example["HDRTV_ENVIRONMENT"] == "production"


def test_secrets_come_from_env_and_have_no_default(compose):
    for name, service in compose["services"].items():
        for variable, value in service.get("environment", {}).items():
            if SECRET_NAME.search(variable):
                match = INTERPOLATION.fullmatch(str(value))
                assert match and match[2] == "?", f"{name}: {variable} must be ${{VAR:?...}} from .env"
    # The images carry no secret; env files other than .env would bypass the documented one.
    assert all("env_file" not in service for service in compose["services"].values())
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
    for dockerfile in DOCKERFILES:
        assert not SECRET_NAME.search(_instruction(dockerfile, "ENV")), dockerfile.name


def test_examples_secrets_are_placeholders():
    for variable, value in _env_example().items():
        if SECRET_NAME.search(variable):
            assert value == "change-me", variable


# --- Dockerfiles ------------------------------------------------------------------------------------


def _instruction(dockerfile: Path, keyword: str) -> str:
    """The text of every `keyword` instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    return "\n".join(line for line in text.splitlines() if line.startswith(keyword + " "))


def test_images_exist_for_the_api_and_the_workers():
    assert {path.name for path in DOCKERFILES} == {"api.Dockerfile", "worker.Dockerfile"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_passes(dockerfile):
    assert not list(ROOT.glob(".hadolint.y*ml")), "rules are ignored inline, with a reason, not in a config"
    result = run(BIN / "hadolint", "--no-color", dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = dockerfile.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            assert number and lines[number - 1].startswith("#") and "hadolint" not in lines[number - 1], (
                f"{dockerfile.name}:{number + 1}: an ignored rule needs a comment line above saying why"
            )


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_images_pin_bases_run_as_non_root_and_have_a_healthcheck(dockerfile):
    for image in re.findall(r"^FROM (\S+)", dockerfile.read_text(), flags=re.M):
        name, _, tag = image.partition(":")
        assert tag and tag != "latest" and re.search(r"\d+\.\d+", tag), f"{image}: pin a version"
    users = re.findall(r"^USER (\S+)", dockerfile.read_text(), flags=re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the final stage must not run as root"
    assert _instruction(dockerfile, "HEALTHCHECK")


def test_api_lock_has_no_torch_and_the_worker_lock_the_pinned_one():
    api, worker = (_lock(ROOT / f"docker/requirements-{role}.txt") for role in ("api", "worker"))
    assert not {"torch", "triton", "opencv-python-headless"} & set(api)
    assert not any(name.startswith(("nvidia-", "cuda-")) for name in api)
    pinned = dict(_requirement(r) for r in _pyproject()["project"]["dependencies"])
    assert f"=={worker['torch']}" == pinned["torch"]
    dropped = {line.split(";")[0].strip().lower() for line in _lines(ROOT / "docker/api-overrides.txt")}
    for name in pinned:  # the locks follow pyproject: every dependency is in them (lock.sh regenerates)
        assert name in worker, f"{name} missing from requirements-worker.txt: run docker/lock.sh"
        assert name in api or name in dropped, f"{name} missing from requirements-api.txt: run docker/lock.sh"
    for lock in ("requirements-api.txt", "requirements-worker.txt", "build-constraints.txt"):
        text = (ROOT / "docker" / lock).read_text()
        hashed = re.findall(r"^[A-Za-z0-9_.-]+==\S+[^\n]* \\\n    --hash=sha256:", text, re.M)
        assert len(hashed) == len(_lock(ROOT / "docker" / lock)) > 0, f"{lock}: every pin carries its hashes"


def test_worker_base_image_cuda_matches_the_torch_build():
    """PyPI's torch wheel names the CUDA runtime it was built for; the image's CUDA is the same release."""
    worker = _lock(ROOT / "docker/requirements-worker.txt")
    runtime = worker["nvidia-cuda-runtime"]  # e.g. 13.0.96: CUDA 13.0
    base = re.findall(r"^FROM nvidia/cuda:(\d+)\.(\d+)\.\d+-", (ROOT / "docker/worker.Dockerfile").read_text(), re.M)
    assert base and set(base) == {tuple(runtime.split(".")[:2])}, (base, runtime)


def test_images_run_the_python_the_package_requires():
    assert _pyproject()["project"]["requires-python"] == ">=3.11,<3.12"
    assert re.search(r"^FROM python:3\.11\.\d+-slim", (ROOT / "docker/api.Dockerfile").read_text(), re.M)
    assert re.search(r"uv python install 3\.11\.\d+", (ROOT / "docker/worker.Dockerfile").read_text())


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirement(spec: str) -> tuple[str, str]:
    name, version = re.match(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?\s*(.*)", spec).groups()
    return name.lower().replace("_", "-"), version


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def _lock(path: Path) -> dict[str, str]:
    return {m[0].lower(): m[1] for m in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", path.read_text(), re.M)}


# --- the build context ------------------------------------------------------------------------------


def _patterns() -> list[tuple[bool, re.Pattern]]:
    """.dockerignore as Docker reads it: (negated, regex), the last matching pattern deciding."""
    patterns = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        for token in re.split(r"(\*\*/|\*\*|\*|\?)", pattern):
            regex += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
        patterns.append((negated, re.compile(regex)))
    return patterns


def _excluded(path: str, patterns: list[tuple[bool, re.Pattern]]) -> bool:
    """A pattern that matches a path or one of its parent folders applies to it (moby's patternmatcher)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negated, regex in patterns:
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = not negated
    return excluded


def _context() -> dict[str, int]:
    """Relative path -> size of every file `docker build .` would send."""
    patterns = _patterns()
    negations = [regex.pattern for negated, regex in patterns if negated]
    sent = {}
    for folder, dirs, files in os.walk(ROOT):
        here = Path(folder).relative_to(ROOT).as_posix()
        prefix = "" if here == "." else here + "/"
        # Skip excluded folders (runs/, .venv/: gigabytes) unless a `!pattern` reaches inside them.
        dirs[:] = [
            d for d in dirs if not _excluded(prefix + d, patterns) or any(n.startswith(prefix + d) for n in negations)
        ]
        for name in files:
            if not _excluded(prefix + name, patterns):
                sent[prefix + name] = (Path(folder) / name).stat().st_size
    return sent


def test_dockerignore_keeps_the_build_context_small():
    sent = _context()
    for leftover in (".git/", ".venv/", "runs/", "tests/", ".pytest_cache/", "__pycache__/", "out/", ".env"):
        assert not [path for path in sent if path.startswith(leftover) or f"/{leftover}" in path], leftover
    size = sum(bytes_ for path, bytes_ in sent.items() if not path.startswith("model/weights/"))
    assert size < 4 * 1024 * 1024, f"build context {size / 1e6:.1f} MB without model/weights/"


def test_dockerignore_keeps_what_the_dockerfiles_copy():
    sent = _context()
    for dockerfile in DOCKERFILES:
        for line in _instruction(dockerfile, "COPY").splitlines():
            if "--from=" in line:
                continue
            for source in line.split()[1:-1]:
                assert any(path == source or path.startswith(source.rstrip("/") + "/") for path in sent), (
                    f"{dockerfile.name}: COPY {source} is excluded by .dockerignore"
                )


def test_dockerignore_matcher_follows_docker_semantics():
    patterns = [(False, re.compile("[^/]*")), (True, re.compile("model")), (False, re.compile("(?:.*/)?__pycache__"))]
    assert _excluded(".git/config", patterns)
    assert not _excluded("model/network/dslnet.py", patterns)
    assert _excluded("model/__pycache__/x.pyc", patterns)
