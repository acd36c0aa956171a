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

.PHONY: book test env lint unit nbval build-check browser seeds robustness exercises clean benchmark

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --editable '.[book,test]'
	@rm -f $(VENV)/.installed-*
	@touch $@

env: $(STAMP)

book: env
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

test: env lint unit nbval build-check browser

lint: env
	$(VENV)/bin/ruff check course_lib course_tools tests benchmarks chapters _ext

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
	COURSE_BUILT_BOOK=_build/html $(PY) -m pytest tests/book/test_built_book.py -p no:cacheprovider

# The built pages in headless Chromium (tests/book/test_browser.py): console errors, math, overflow, animations, captions.
BROWSER_HINT := The browser test needs headless Chromium: install it with 'sudo apt-get install -y chromium chromium-driver' (Debian), or run .ci/run, which installs it.
browser: env
	@{ command -v chromium || command -v chromium-browser; } >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
	    || { echo "$(BROWSER_HINT)"; exit 1; }
	@test -f _build/html/index.html || { echo "No built book in _build/html: run 'make book' first."; exit 1; }
	COURSE_BUILT_BOOK=_build/html $(PY) -m pytest tests/book/test_browser.py -p no:cacheprovider

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
