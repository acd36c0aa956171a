"""The Colab set-up cell: one template, one URL from _config.yml, one plain sentence when it fails."""

import importlib.util
import io
import shutil
import subprocess
import sys

import nbformat
import pytest

from course_tools import colab
from course_tools.colab import check, fix_setup_cell, repository_url, setup_cell_problems, setup_cell_source

URL = "https://github.com/example/course"


def test_repository_url_is_read_from_the_book_config(repo_root):
    url = repository_url(repo_root / "_config.yml")
    assert url.startswith("https://github.com/")


def test_setup_cell_installs_from_the_configured_url_only_when_missing():
    source = setup_cell_source(URL)
    assert f'_URL = "{URL}"' in source and '"git+{_URL}"' in source
    assert 'find_spec("course_lib") is None' in source


def test_setup_cell_is_a_colab_form_and_fits_the_column():
    source = setup_cell_source(URL)
    assert source.startswith("#@title "), "Colab folds a cell to its #@title line"
    assert max(len(line) for line in source.splitlines()) <= 88


def test_setup_cell_does_nothing_when_course_lib_is_importable():
    # Executing the cell here (where course_lib is installed) must neither print nor call pip.
    code = "import subprocess\nsubprocess.run = lambda *a, **k: exit(3)\n" + setup_cell_source(URL)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def _run_in_ipython(monkeypatch, returncode: int, stderr: str = ""):
    """Run the cell in an IPython shell as if course_lib were missing, with pip mocked (no network)."""
    from IPython.core.interactiveshell import InteractiveShell

    calls = []

    def fake_run(args, **kwargs):
        calls.append(args)
        return subprocess.CompletedProcess(args, returncode, stdout="", stderr=stderr)

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "course_lib" else real_find_spec(name, *a))
    monkeypatch.setattr(subprocess, "run", fake_run)
    shell = InteractiveShell.instance()
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    result = shell.run_cell(setup_cell_source(URL), store_history=False)
    return result, out.getvalue() + err.getvalue(), calls


def test_setup_cell_says_it_is_installing_and_is_silent_when_pip_succeeds(monkeypatch):
    result, output, calls = _run_in_ipython(monkeypatch, returncode=0)
    assert result.success
    assert output.strip() == "Installing the course's library (about 15 s)..."
    assert calls and calls[0][-1] == f"git+{URL}" and "-q" in calls[0]


GIT_NOT_FOUND = (f"  Running command git clone --filter=blob:none --quiet {URL} /tmp/pip-req\n"
                 "  remote: Repository not found.\n"
                 f"  fatal: repository '{URL}/' not found\n"
                 "  error: subprocess-exited-with-error\n"
                 "ERROR: Command errored out with exit status 128: git clone ... Check the logs.\n")


def test_a_missing_repository_is_named_with_gits_own_line_and_what_to_do(monkeypatch):
    result, output, _ = _run_in_ipython(monkeypatch, returncode=1, stderr=GIT_NOT_FOUND)
    assert not result.success
    message = output.strip().splitlines()[-1]
    assert message.startswith("SetupError: repository not found: " + URL)
    assert f"fatal: repository '{URL}/' not found" in message, "git's own error line is quoted"
    assert "Colab button" in message and "run this cell again" in message
    assert "online" not in message and "offline" not in message, "a missing repository is not a network problem"


def test_an_offline_runtime_is_told_to_reconnect(monkeypatch):
    stderr = "  fatal: unable to access 'https://github.com/x/': Could not resolve host: github.com\nERROR: x\n"
    result, output, _ = _run_in_ipython(monkeypatch, returncode=1, stderr=stderr)
    message = output.strip().splitlines()[-1]
    assert not result.success
    assert "offline" in message and "Could not resolve host" in message and "not found" not in message


def test_a_failed_install_stops_run_all_with_one_plain_sentence(monkeypatch):
    pip_error = "ERROR: No matching distribution."
    result, output, _ = _run_in_ipython(monkeypatch, returncode=1, stderr=f"noise\n{pip_error}\n")
    assert not result.success, "the cell must raise, so that Run all stops before cells that need course_lib"
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert lines[0].startswith("Installing")
    assert len(lines) == 2, f"expected one error line after the progress line, got:\n{output}"
    assert "Traceback" not in output and "CalledProcessError" not in output
    message = lines[1]
    assert message.startswith("SetupError: pip could not install") and URL in message and pip_error in message
    assert "run this cell again" in message


@pytest.mark.parametrize("bad", ["", "github.com/x/y", "ftp://example.org/x", "https://x y"])
def test_setup_cell_rejects_urls_that_are_not_https_git_repositories(bad):
    with pytest.raises(ValueError, match="repository_url"):
        setup_cell_source(bad)


def test_repository_url_without_entry_raises(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text("title: x\n")
    with pytest.raises(ValueError, match="repository"):
        repository_url(config)


# --- the maintainers' command: python -m course_tools colab check [--fix]

def _repo(tmp_path, url=URL, first_source=None):
    (tmp_path / "_config.yml").write_text(f"title: t\nrepository:\n  url: {url}\n  branch: main\n")
    for folder in colab.NOTEBOOK_FOLDERS:
        (tmp_path / folder).mkdir(parents=True)
        nb = nbformat.v4.new_notebook()
        setup = nbformat.v4.new_code_cell(first_source if first_source is not None else setup_cell_source(url))
        setup.metadata = {"tags": ["remove-cell"], "cellView": "form", "exercise": {"role": "setup"}}
        nb.cells = [setup, nbformat.v4.new_markdown_cell("# 1. Title")]
        nbformat.write(nb, tmp_path / folder / "01_x.ipynb")
    return tmp_path


@pytest.fixture
def no_network(monkeypatch):
    """git ls-remote is mocked: the tests never reach the network."""
    calls = []

    def fake_run(args, **kwargs):
        calls.append(args)
        if "unreachable" in args[3]:
            return subprocess.CompletedProcess(args, 128, "", "fatal: repository 'x' not found\n")
        if "slow" in args[3]:
            raise subprocess.TimeoutExpired(args, kwargs["timeout"])
        return subprocess.CompletedProcess(args, 0, "abc\tHEAD\n", "")

    monkeypatch.setattr(colab.subprocess, "run", fake_run)
    return calls


def test_check_passes_when_every_notebook_points_at_the_url_and_it_answers(tmp_path, no_network):
    out = io.StringIO()
    assert check(_repo(tmp_path), out=out) == 0
    assert no_network[0][:4] == ["git", "ls-remote", "--exit-code", URL]
    assert out.getvalue().startswith("OK: 4 notebooks")


@pytest.mark.parametrize("url, expected", [("https://github.com/example/unreachable", "not found"),
                                           ("https://github.com/example/slow", "did not answer within 20 s")])
def test_check_reports_a_url_that_does_not_answer(tmp_path, no_network, url, expected):
    out = io.StringIO()
    assert check(_repo(tmp_path, url=url), out=out) == 1
    assert expected in out.getvalue()


def test_check_names_every_notebook_that_installs_from_another_url_and_fix_rewrites_them(tmp_path, no_network):
    root = _repo(tmp_path, first_source=setup_cell_source("https://github.com/old/place"))
    out = io.StringIO()
    assert check(root, out=out) == 4
    assert "chapters/01_x.ipynb: the set-up cell installs from https://github.com/old/place" in out.getvalue()
    assert check(root, fix=True, out=io.StringIO()) == 0
    nb = nbformat.read(root / "exercises/source/01_x.ipynb", as_version=4)
    assert nb.cells[0].source == setup_cell_source(URL)
    assert nb.cells[0].metadata["exercise"] == {"role": "setup"}, "--fix keeps the generator's metadata"
    assert len(nb.cells) == 2
    assert check(root, out=io.StringIO()) == 0


def test_fix_inserts_a_missing_setup_cell_and_adds_tag_and_form_metadata():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title")]
    assert fix_setup_cell(nb, setup_cell_source(URL))
    assert setup_cell_problems(nb.cells[0], setup_cell_source(URL)) == []
    assert not fix_setup_cell(nb, setup_cell_source(URL)), "a second fix changes nothing"
    bare = nbformat.v4.new_code_cell(setup_cell_source(URL))
    problems = setup_cell_problems(bare, setup_cell_source(URL))
    assert any("remove-cell" in p for p in problems) and any("cellView" in p for p in problems)


def test_check_offline_skips_the_network(tmp_path, no_network):
    assert check(_repo(tmp_path), network=False, out=io.StringIO()) == 0
    assert no_network == []


def test_the_command_line_exit_status(tmp_path, no_network):
    root = _repo(tmp_path, url="https://github.com/example/unreachable")
    assert colab.main(["check", "--root", str(root)]) == 1
    assert colab.main(["check", "--root", str(root), "--offline"]) == 0


def test_the_tools_command_line_dispatches_colab_check(tmp_path, no_network):
    from course_tools.__main__ import main

    root = _repo(tmp_path, url="https://github.com/example/unreachable")
    assert main(["colab", "check", "--root", str(root), "--offline"]) == 0
    assert main(["colab", "check", "--root", str(root)]) == 1


def test_the_config_is_read_as_yaml(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text("title: x\nrepository:\n  # the one place\n  url: 'https://github.com/a/b'\n  branch: dev\n")
    assert repository_url(config) == "https://github.com/a/b"
    assert colab.repository_config(config)["branch"] == "dev"


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_url_answers_reports_a_local_path_that_is_not_a_repository(tmp_path):
    # a real git call without network: a folder that is not a repository fails fast
    assert colab.url_answers(str(tmp_path / "nothing"), timeout=10) is not None
