# Two commands do all the set-up:  `make train`  and  `make test`.
# TORCH_SPEC picks the torch build (default: the CPU wheel); it is passed to pip as it is, so it
# may carry pip options for a CUDA build.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCHLPC_SPEC ?= torchlpc==0.7.2
EXPERIMENT ?= lpc_vocoder
ARGS ?=
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: train test lint format install clean-venv voices

install: $(STAMP)

# (Re)build the environment when it is missing, broken, or older than pyproject.toml/Makefile,
# or when TORCH_SPEC changed. torch goes first, pinned, so nothing can pull a CUDA build;
# torchlpc compiles against it without build isolation. The last step keeps build isolation
# (pysptk needs Cython to build); torch and torchlpc are satisfied by then, so nothing new of
# them is fetched.
$(STAMP): pyproject.toml Makefile $(if $(shell grep -qxF '$(TORCH_SPEC)' $(STAMP) 2>/dev/null || echo stale),FORCE)
	@$(PY) -c "import sys" 2>/dev/null || $(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install -q $(TORCH_SPEC)
	$(PY) -m pip install -q "setuptools<81" wheel
	$(PY) -m pip install -q --no-build-isolation "$(TORCHLPC_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	@echo "$(TORCH_SPEC)" > $(STAMP)

.PHONY: FORCE
FORCE:

train: $(STAMP)
	$(PY) train.py experiment=$(EXPERIMENT) $(ARGS)

# The multi-speaker training speech (3.2 h, 20 languages; not shipped): see ddsp/data/voices.py.
# Then: make train EXPERIMENT=lpc_vocoder_voices
VOICES_ROOT ?= $(HOME)/.cache/ddsp/voices
voices: $(STAMP)
	$(PY) -m ddsp.data.voices $(VOICES_ROOT)

# Writes nothing into the repository but the environment: no bytecode, ruff or pytest caches
# (a test at the end of the suite checks that no file appeared or changed).
test: $(STAMP)
	$(VENV)/bin/ruff check --no-cache .
	$(VENV)/bin/ruff format --no-cache --check .
	PYTHONDONTWRITEBYTECODE=1 $(PY) -m pytest -q -p no:cacheprovider --durations=12 $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean-venv:
	rm -rf $(VENV)
