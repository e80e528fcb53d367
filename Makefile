# The two commands of the README's quick start, and the pieces CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: setup demo test lint typecheck pytest docs gallery benchmarks examples clean

# The dev extra brings the integrations' extras (serve, mkdocs, sphinx) and selenium; the browser tests
# (tests/integrations/test_browser.py, marker `browser`) also need Debian's Chromium and its driver:
# apt-get install -y chromium chromium-driver (they skip, saying so, without them).
# Also installs torchvision (test-only, beside the CPU torch: see tests/zoo/reference.py) and the worked example of a plugin (examples/plugin, see docs/custom-ops.md): tests/plugins need it
# installed, entry point and all.
$(STAMP): pyproject.toml examples/plugin/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip install --quiet -e ./examples/plugin
	$(BIN)/pip install --quiet --no-deps torchvision==0.28.0  # the zoo's test reference (tests/zoo/reference.py)
	@command -v dot >/dev/null || echo "note: Graphviz's 'dot' is missing (PNG/SVG/PDF diagrams need it): apt-get install graphviz"
	touch $(STAMP)

setup: $(STAMP)

## Quick start 1: compile VGG-16: print its summary, write ONNX, weights and a diagram to out/
demo: $(STAMP)
	$(BIN)/archspec compile vgg16 --onnx --pt --svg --out-dir out

## Quick start 2: lint, type-check and run the whole test suite
test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check archspec tests benchmarks examples scripts

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -n 2 -q

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf out site .pytest_cache .mypy_cache .ruff_cache
