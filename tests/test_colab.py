"""The Colab set-up cell: one template, one URL from _config.yml."""

import subprocess
import sys

import pytest

from course_lib.colab import repository_url, setup_cell_source


def test_repository_url_is_read_from_the_book_config(repo_root):
    url = repository_url(repo_root / "_config.yml")
    assert url.startswith("https://github.com/")


def test_setup_cell_installs_from_the_configured_url_only_when_missing():
    source = setup_cell_source("https://github.com/example/course")
    assert "git+https://github.com/example/course" in source
    assert 'find_spec("course_lib") is None' in source


def test_setup_cell_does_nothing_when_course_lib_is_importable():
    # Executing the cell here (where course_lib is installed) must not call pip.
    code = setup_cell_source("https://github.com/example/course").replace("subprocess.run(", "raise SystemExit(")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("bad", ["", "github.com/x/y", "ftp://example.org/x", "https://x y"])
def test_setup_cell_rejects_urls_that_are_not_https_git_repositories(bad):
    with pytest.raises(ValueError, match="repository_url"):
        setup_cell_source(bad)


def test_repository_url_without_entry_raises(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text("title: x\n")
    with pytest.raises(ValueError, match="repository"):
        repository_url(config)
