# The course's two commands (see README.md):
#   make book   build the HTML book into _build/html, executing every notebook
#   make test   run every test: unit tests, notebook checks, nbval, the book build, the built-page checks
# Both create the virtual environment .venv when it is missing (or when pyproject.toml changed) and are
# safe to run again.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
JOBS   ?= 2

.PHONY: book test env lint unit nbval build-check exercises clean benchmark

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --editable '.[book,test]'
	@rm -f $(VENV)/.installed-*
	@touch $@

env: $(STAMP)

book: env
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

test: env lint unit nbval build-check

lint: env
	$(VENV)/bin/ruff check course_lib tests benchmarks chapters _ext

# One thread per worker: with two workers on two cores, torch's default threading oversubscribes the CPU
# (the notebooks then run several times slower).
unit: env
	OMP_NUM_THREADS=1 $(PY) -m pytest tests -n $(JOBS) -p no:cacheprovider

# Every chapter and every exercise notebook (solutions with their hidden checks) executes, on the CPU.
nbval: env
	CUDA_VISIBLE_DEVICES="" OMP_NUM_THREADS=1 $(PY) -m pytest --nbval-lax -n $(JOBS) --dist loadfile -p no:cacheprovider \
	    chapters exercises/source exercises/solutions

# The book builds with warnings as errors, then the built pages are checked (Colab buttons, math, pages).
build-check: env
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	COURSE_BUILT_BOOK=_build/html $(PY) -m pytest tests/test_built_book.py -p no:cacheprovider

exercises: env
	$(PY) -m course_lib.exercises build

benchmark: env
	$(PY) benchmarks/notebook_times.py

clean:
	rm -rf _build
