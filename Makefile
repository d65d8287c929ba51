# Set-up and checks, on a machine with only python3 (3.11-3.13) and make:
#   make lab          create/reuse .venv from the lock, open JupyterLab on lesson 0
#   make test         same set-up, then the unit tests and strict nbval over every notebook
#   make test-grading the grading tests (adds the `grading` extra; CI runs it after `make test`)
# Maintainers:
#   make lock         re-resolve requirements/lock.txt after changing pyproject.toml (keeps other pins)
#   make lock-upgrade re-resolve everything to the newest releases pyproject.toml allows
#   make test-latest  the whole suite in .venv-latest, built from the newest allowed releases (drift check)
#   make portability  strict nbval under several OpenBLAS CPU kernels and thread counts
#
# Every install takes its versions from requirements/lock.txt (as constraints), so learners, CI and
# Binder run what CI tested.  The venv re-installs when pyproject.toml, the lock or EXTRAS change.

PYTHON ?= python3
VENV   ?= .venv
EXTRAS ?= course,dev
LOCK   := requirements/lock.txt
# uv resolves and installs ~20x faster than pip; pinned so `make lock` is reproducible.
UV_VERSION := 0.13.9
NBVAL_JOBS ?= 2
SUPPORTED_PYTHONS := 3.11 3.12 3.13

BIN    := $(VENV)/bin
comma  := ,
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
NBVAL_SANITIZE := $(if $(wildcard notebooks/sanitize.cfg),--nbval-sanitize-with notebooks/sanitize.cfg,)
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root,)
LAB_SETTINGS := binder/overrides.json
UV_LOCK_ARGS := pyproject.toml --all-extras --universal --fork-strategy fewest --python-version 3.11 \
                --no-header --output-file $(LOCK)

.PHONY: lab test unit nbval test-grading install lock lock-upgrade test-latest portability clean-venv

lab: $(STAMP)
	$(BIN)/jupyter lab $(LAB_FLAGS) --ServerApp.root_dir="$(CURDIR)" notebooks/00_welcome.ipynb

test: unit nbval

unit: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider tests

# Two notebooks at a time (pytest-xdist); --dist loadscope keeps each notebook's cells in one kernel, in order.
nbval: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider -n $(NBVAL_JOBS) --dist loadscope --nbval notebooks $(NBVAL_SANITIZE)

# The sandboxed grader's tests; they need the grading extra (otter-grader) and bubblewrap or Docker.
test-grading:
	$(MAKE) install EXTRAS=$(EXTRAS),grading
	$(BIN)/python -m pytest -p no:cacheprovider tests/test_grading.py

install: $(STAMP)

$(BIN)/python:
	@v=$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])') || exit 1; \
	 case " $(SUPPORTED_PYTHONS) " in *" $$v "*) ;; \
	 *) echo "mlmkit needs Python $(SUPPORTED_PYTHONS); '$(PYTHON)' is $$v. Use e.g. make lab PYTHON=python3.11" >&2; exit 1;; esac
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"

$(STAMP): pyproject.toml $(LOCK) $(LAB_SETTINGS) | $(BIN)/python
	$(BIN)/uv pip install --python $(BIN)/python --constraint $(LOCK) -e ".[$(EXTRAS)]"
	@# JupyterLab reads overrides.json from its app settings folder: no news pop-up, no update check.
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp $(LAB_SETTINGS) $(VENV)/share/jupyter/lab/settings/overrides.json
	@rm -f $(VENV)/.installed-*
	touch $@

lock: | $(BIN)/python
	$(BIN)/uv pip compile $(UV_LOCK_ARGS)

lock-upgrade: | $(BIN)/python
	$(BIN)/uv pip compile --upgrade $(UV_LOCK_ARGS)

# Not part of CI: what breaks here gets fixed in the code, or an upper bound (with the reason) in pyproject.toml.
test-latest: | $(BIN)/python
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	$(BIN)/uv pip install --python .venv-latest/bin/python --upgrade --resolution highest -e ".[course,dev,grading]"
	.venv-latest/bin/python -m pip list --format=freeze | grep -iE '^(numpy|scipy|pandas|matplotlib|statsmodels|formulaic|pymc|bambi)='
	.venv-latest/bin/python -m pytest -p no:cacheprovider tests
	.venv-latest/bin/python -m pytest -p no:cacheprovider --nbval notebooks $(NBVAL_SANITIZE)

# KERNELS/THREADS can be narrowed, e.g. `make portability KERNELS=Haswell THREADS=1` (what CI runs).
KERNELS ?= Haswell SkylakeX Sandybridge
THREADS ?= 1 2
portability: $(STAMP)
	$(BIN)/python tools/check_portability.py --kernels $(KERNELS) --threads $(THREADS)

clean-venv:
	rm -rf $(VENV) .venv-latest

# ---- the course as a website and as workshop slides ----------------------------------------------
#   make book       website from the stored, executed notebooks -> _build/html/ (Sphinx + myst-nb; the
#                   "book" extra); EXERCISES=dir picks the student notebooks (default exercises/student)
#   make slides     reveal.js decks, one per lesson -> _build/slides/ (nbconvert)
#   make test-book  build both and check them in headless Chromium (tests/test_book.py; CI runs it)
# Both fetch MathJax 3 / reveal.js once with npm into _build/.assets/; the results work offline.
.PHONY: book slides test-book

book:
	$(MAKE) install EXTRAS=$(EXTRAS),book
	$(BIN)/python tools/build_book.py $(if $(EXERCISES),--exercises $(EXERCISES),)

slides: $(STAMP)
	$(BIN)/python tools/build_slides.py

test-book:
	$(MAKE) install EXTRAS=$(EXTRAS),book,grading
	$(BIN)/python -m pytest -p no:cacheprovider tests/test_book.py tests/test_explore.py
