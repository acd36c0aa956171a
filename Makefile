# The course's two commands (see README.md):
#   make book   build the HTML book into _build/html, executing every notebook
#   make pdf    the whole book as one PDF, _build/html/book.pdf, printed from the built HTML by headless Chromium
#   make colab  regenerate the Colab editions of the chapters in colab/ (commit them)
#   make test   run every test: lint, unit tests (which execute the exercise notebooks), the book build
#               (which executes the chapters), the built-page checks and the browser test
# Both create the virtual environment .venv when it is missing (or when pyproject.toml or the book's
# constraints changed) and are safe to run again, and under `make -j`.
#
# Each notebook executes once per `make test`: the chapters in the book build (which fails on any cell
# error), the exercise sources and student versions in tests/book/test_exercises_notebooks.py; the
# solutions are the sources minus their hidden cells, which tests/tools/test_exercises_build.py proves
# without executing them. `make nbval` still executes the chapters and the exercise sources under nbval.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints-book.txt | cksum | cut -d' ' -f1)
JOBS   ?= 2

.PHONY: book pdf colab test env lint unit nbval build-check test-alone test-unit test-book test-pdf test-built browser test-browser seeds robustness exercises clean benchmark

$(STAMP): pyproject.toml constraints-book.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --constraint constraints-book.txt --editable '.[book,test]'
	@rm -f $(VENV)/.installed-*
	@touch $@

env: $(STAMP)

# The build records when it started in _build/html/.build-started once it succeeds; the browser test
# refuses a build older than any of its sources (tests/book/test_browser.py).
# The notebooks are executed into the build's cache first (course_tools/book_execute.py): the pages whose
# timings are their subject alone, the others $(JOBS) at a time; the build then reads every page's
# outputs from there. $(call BUILD_BOOK,PHASE): all, or rest (after `book_execute --phase alone`).
BUILD_BOOK = rm -f _build/html/.build-started && started=$$(date +%s.%N) \
	&& $(PY) -m course_tools.book_execute --jobs $(JOBS) --phase $(1) \
	&& $(VENV)/bin/jupyter-book build . --all -W -n --keep-going \
	&& echo $$started > _build/html/.build-started

book: env
	$(call BUILD_BOOK,all)

# The parts run side by side, each printing its output whole when it ends: the unit tests beside the
# book build (which executes $(JOBS) notebooks at a time), then, once the book is built, its PDF and the
# built-page checks beside the browser test. Every part is CPU-bound on one core or two, so up to four
# at once keep a 2-core machine busy while a part that waits (a sandboxed submission's time limit,
# Chromium's rendering) leaves its core to the others.
test: env
	@$(MAKE) --no-print-directory -j4 --output-sync=target lint test-unit test-built test-browser

# First, with nothing beside them, the pages whose timings are their subject (chapters 7 and 8); the unit
# tests and the rest of the book start when they are done.
test-alone: env
	rm -f _build/html/.build-started && $(PY) -m course_tools.book_execute --phase alone

# The PDF is printed from the HTML build (same numbers, figures and equation numbers); builds the book first if needed.
pdf: env
	@test -f _build/html/index.html || $(MAKE) book
	$(PY) -m course_tools.book_pdf _build/html

# The Colab editions (plain Jupyter Markdown) of every chapter; tests/tools/test_colab_editions.py fails when they are stale.
colab: env
	$(PY) -m course_tools colab build

lint: env
	$(VENV)/bin/ruff check course_lib course_tools tests benchmarks chapters _ext

# One thread per worker: with two workers on two cores, torch's default threading oversubscribes the CPU
# (the notebooks then run several times slower).
UNIT_TESTS = OMP_NUM_THREADS=1 $(PY) -m pytest tests -n $(JOBS) --dist loadgroup -p no:cacheprovider --durations=15

unit: env
	$(UNIT_TESTS)

test-unit: test-alone
	$(UNIT_TESTS)

# Not part of `make test` (the book build executes the chapters, the unit tests the exercise sources):
# every chapter and exercise source under nbval, on the CPU.
nbval: env
	CUDA_VISIBLE_DEVICES="" OMP_NUM_THREADS=1 $(PY) -m pytest --nbval-lax -n $(JOBS) --dist loadfile -p no:cacheprovider \
	    chapters exercises/source

# The book builds with warnings as errors, executing every chapter (a cell error fails the build), then
# the built pages are checked (Colab buttons, math, pages).
build-check: test-built

test-book: test-alone
	$(call BUILD_BOOK,rest)

test-pdf: test-book
	$(PY) -m course_tools.book_pdf _build/html

test-built: test-pdf
	COURSE_BUILT_BOOK=_build/html $(PY) -m pytest tests/book/test_built_book.py -n $(JOBS) -p no:cacheprovider

# The built pages in headless Chromium (tests/book/test_browser.py): console errors, math, overflow, animations, captions.
BROWSER_HINT := The browser test needs headless Chromium: install it with 'sudo apt-get install -y chromium chromium-driver' (Debian), or run .ci/run, which installs it.
BROWSER_TEST = @{ command -v chromium || command -v chromium-browser; } >/dev/null 2>&1 \
	    && command -v chromedriver >/dev/null 2>&1 || { echo "$(BROWSER_HINT)"; exit 1; }; \
	test -f _build/html/.build-started || { echo "No complete build in _build/html: run 'make book' first."; exit 1; }; \
	COURSE_BUILT_BOOK=_build/html $(PY) -m pytest tests/book/test_browser.py -n $(JOBS) -p no:cacheprovider

# `make browser`: the browser test alone, on the book `make book` built (refused if a source is newer).
browser: env
	$(BROWSER_TEST)

# Within `make test` the browser test waits for the build, not for the PDF (so `make -j test` is safe).
test-browser: test-book
	$(BROWSER_TEST)

# Every chapter notebook and exercise solution under COURSE_SEED offsets 0..4: a table of pass / failing assert.
SEEDS ?= 0 1 2 3 4
seeds: env
	CUDA_VISIBLE_DEVICES="" $(PY) benchmarks/run_seeds.py --seeds $(SEEDS) --threads 1 --jobs $(JOBS)

# The robustness table: every chapter and the errata under COURSE_SEED 0..4 x OMP_NUM_THREADS 1 and 2, then
# once beside one competing CPU-bound process per core. One table of passes and failing claims.
robustness: env
	CUDA_VISIBLE_DEVICES="" $(PY) benchmarks/run_seeds.py --chapters-only --seeds $(SEEDS) --threads 1 2 --load --jobs $(JOBS)

exercises: env
	$(PY) -m course_tools build

benchmark: env
	$(PY) benchmarks/notebook_times.py

clean:
	rm -rf _build
