# Two commands do all the set-up on a machine with only python3:
#   make lab    create/reuse .venv, install mlmkit + extras, open JupyterLab on notebooks/
#   make test   same set-up, then the unit tests and nbval over every notebook
# EXTRAS=dev,grading (as .ci/run does) adds the grading tools.  Re-installs only when pyproject.toml
# changes (or EXTRAS differ), tracked by a stamp file inside the venv.

PYTHON ?= python3
VENV   ?= .venv
EXTRAS ?= dev

BIN    := $(VENV)/bin
comma  := ,
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
NBVAL_SANITIZE := $(if $(wildcard notebooks/sanitize.cfg),--nbval-sanitize-with notebooks/sanitize.cfg,)
NOTEBOOKS := $(shell find notebooks -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' 2>/dev/null)
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root,)

.PHONY: lab test unit nbval install clean-venv

lab: $(STAMP)
	@mkdir -p notebooks
	$(BIN)/jupyter lab $(LAB_FLAGS) notebooks/

test: unit nbval

unit: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider tests

nbval: $(STAMP)
ifeq ($(strip $(NOTEBOOKS)),)
	@echo "nbval: no notebooks in notebooks/ yet -- nothing to check"
else
	$(BIN)/python -m pytest -p no:cacheprovider --nbval notebooks $(NBVAL_SANITIZE)
endif

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e ".[$(EXTRAS)]"
	@rm -f $(VENV)/.installed-*
	touch $@

clean-venv:
	rm -rf $(VENV)

# ---- the course as a website and as workshop slides (issue 18) ----------------------------------
#   make book     website from the stored, executed notebooks -> _build/html/ (Sphinx + myst-nb; the
#                 "book" extra); EXERCISES=dir picks the student notebooks (default exercises/student)
#   make slides   reveal.js decks, one per lesson -> _build/slides/ (nbconvert, from the "dev" extra)
# Both fetch MathJax 3 / reveal.js once with npm into _build/.assets/; the results work offline.
BOOK_STAMP := $(VENV)/.book-installed

.PHONY: book slides

$(BOOK_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e ".[$(EXTRAS),book]"
	touch $@

book: $(BOOK_STAMP)
	$(BIN)/python tools/build_book.py $(if $(EXERCISES),--exercises $(EXERCISES),)

slides: $(STAMP)
	$(BIN)/python tools/build_slides.py
