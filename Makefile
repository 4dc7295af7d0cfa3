# The two commands of the README:
#   make run    set everything up, index the bundled corpus on first use, open the chat on http://127.0.0.1:7860
#   make test   set everything up and run the test suite
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test test-fast browser-deps clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch lies on this machine's disk; installed first, so nothing pulls a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 $(BIN)/rag ui

# Debian's Chromium for the browser tests (never `playwright install`: it downloads a browser).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -qq chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium); \
	  else echo "chromium is not installed and this is not root: the browser tests will be skipped"; fi; }

test: setup browser-deps
	GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -m "not browser and not server and not slow" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
