"""The front page's chapter map (_ext/chapter_map.py) is generated from _toc.yml and the chapters, so it
cannot go stale: every page of the table of contents appears with its own title, reading time and goals."""

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "_ext"))
import chapter_map


def _toc_files(root: Path) -> list[str]:
    toc = chapter_map.read_toc(root)
    return [ch["file"] for part in toc["parts"] for ch in part["chapters"]]


def test_the_map_lists_every_page_of_the_toc_in_order_with_its_own_title():
    entries = [e for part in chapter_map.chapter_entries(ROOT) for e in part.entries]
    assert [e.docname for e in entries] == _toc_files(ROOT)
    for entry in entries:
        text = "\n".join(chapter_map._page_text(chapter_map.page_path(ROOT, entry.docname)))
        first_heading = re.search(r"^# (.+)$", text, re.MULTILINE).group(1).strip()
        assert entry.title == first_heading
        assert entry.minutes >= 5 and entry.minutes % 5 == 0


def test_every_numbered_chapter_has_learning_goals_in_the_map():
    for part in chapter_map.chapter_entries(ROOT):
        for entry in part.entries:
            if re.match(r"chapters/\d\d_", entry.docname):
                assert len(entry.goals) >= 2, f"{entry.docname}: no '**Learning goals.**' list found"
                assert all(goal and not goal.startswith("-") for goal in entry.goals)


def test_index_uses_the_generated_map_and_numbers_the_five_sources():
    index = (ROOT / "index.md").read_text(encoding="utf-8")
    assert "```{chapter-map}" in index
    assert "(planned)" not in index
    for number in ("000", "001", "002", "003", "004"):
        assert f"**{number}**" in index, f"source {number} is not listed with its number"


def _notebook(title: str, goals: list[str], extra: str = "") -> str:
    cell = {"cell_type": "markdown", "metadata": {}, "source": f"# {title}\n\nIntro citing source 003.\n\n"
            "**Learning goals.** After this chapter you can\n\n" + "".join(f"- {g}\n" for g in goals) + extra}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_a_new_chapter_appears_with_its_title_goals_and_sources(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "08_x.ipynb").write_text(_notebook("8. Eight", ["a;", "b."]))
    (tmp_path / "chapters" / "09_schedules.ipynb").write_text(
        _notebook("9. Learning-rate schedules", ["derive the\n  warm-up;", "measure $x$."], "\nMore text " * 400))
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: index\nparts:\n  - caption: P\n    chapters:\n"
                                       "      - file: chapters/08_x\n      - file: chapters/09_schedules\n")
    (part,) = chapter_map.chapter_entries(tmp_path)
    nine = part.entries[1]
    assert nine.title == "9. Learning-rate schedules"
    assert nine.goals == ["derive the warm-up;", "measure $x$."]
    assert nine.sources == ["003"]
    assert nine.minutes == 10  # about 820 words at 150 per minute, rounded up to 5
    text = chapter_map.map_markdown([part])
    assert "{doc}`/chapters/09_schedules`" in text and "- measure $x$." in text
    assert text.count("start here") == 1


def test_a_toc_entry_without_a_file_is_an_error(tmp_path):
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: chapters/missing\n")
    with pytest.raises(FileNotFoundError, match="missing"):
        chapter_map.chapter_entries(tmp_path)
