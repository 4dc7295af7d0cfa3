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

# Debian's Chromium for the browser tests (never `playwright install`: it downloads a browser). The tests
# drive /usr/bin/chromium itself, so that exact path is what is checked (another `chromium` on PATH won't do).
browser-deps:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; \
	  else echo "Debian's Chromium (/usr/bin/chromium) is missing and this is not root: the browser tests will be skipped"; fi; }

# Two pytest workers (pytest-xdist), each test file kept in one worker so its module fixtures are built once:
# on 2 cores the suite takes ~4.7 min instead of ~8 (BENCHMARKS, "The test suite"). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
XDIST = $(if $(filter 0,$(TEST_WORKERS)),-p no:xdist,-n $(TEST_WORKERS) --dist loadfile)

test: setup browser-deps
	GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

# Without the tests marked browser, server or slow (pyproject.toml): no Chromium, no `chroma run`, no MiniLM index.
test-fast: setup
	GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(XDIST) -m "not browser and not server and not slow" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
