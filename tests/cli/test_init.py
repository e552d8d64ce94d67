"""`tempest-sdk init`: the scaffold passes its own tests in a fresh virtualenv."""

from __future__ import annotations

import subprocess
import sys
import venv

from .conftest import ROOT


def test_init_writes_the_project(cli, tmp_path):
    result = cli("init", "my-app")
    assert result.returncode == 0, result.stderr
    project = tmp_path / "my-app"
    for path in (
        "pyproject.toml",
        "README.md",
        ".gitignore",
        "Dockerfile",
        "my_app/app.py",
        "tests/test_app.py",
    ):
        assert (project / path).is_file(), path
    assert "tempest-sdk serve my_app/app.py --emulator" in result.stdout


def test_init_project_passes_its_own_tests_in_a_fresh_virtualenv(cli, tmp_path):
    assert cli("init", "fresh-app").returncode == 0
    project = tmp_path / "fresh-app"
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / ("Scripts" if sys.platform == "win32" else "bin") / "python"

    # The project's own dependency line finds the SDK: this checkout, by direct reference.
    pyproject = (project / "pyproject.toml").read_text()
    assert f"tempest-sdk @ {ROOT.as_uri()}" in pyproject or "tempest-sdk>=" in pyproject
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"{project}[test]"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    tests = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout

    describe = subprocess.run(
        [str(python), "-m", "tempest_sdk", "describe", "fresh_app/app.py"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert describe.returncode == 0, describe.stderr
    assert "item" in describe.stdout
