# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint setup sandbox-tools

setup: $(STAMP) sandbox-tools

# The Claude Code CLI, pinned, for the end-to-end test of the subagent (skipped without npm).
test-tools: setup
	@bash scripts/install_claude_code.sh

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# bubblewrap gives the sandbox its strongest isolation level; itarch falls back without it.
sandbox-tools:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && apt-get install -y -qq bubblewrap) >/dev/null 2>&1 \
	      || echo "note: could not install bubblewrap; the sandbox will use a weaker level"; \
	  else echo "note: install bubblewrap (e.g. apt-get install bubblewrap) for the strongest sandbox"; fi; }

demo: setup
	$(VENV)/bin/itarch demo

lint: $(STAMP)
	$(VENV)/bin/ruff check agent tests benchmarks evals
	$(VENV)/bin/ruff format --check agent tests benchmarks evals
	$(VENV)/bin/mypy agent

test: setup test-tools lint
	$(PY) -m pytest -q
