# archsearch: `make demo` runs a real search end to end; `make test` runs the test suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ARCHSEARCH := $(VENV)/bin/archsearch
FMNIST_DIR ?= /usr/share/datasets/fashion-mnist
DEMO_DIR ?= runs/demo

.PHONY: install test test-all demo fashion-mnist chromium clean

install: $(VENV)/.installed

# torch is pinned first so pip takes the CPU wheel on disk, not a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,images,plot,optuna,ray,export]'
	touch $@

test: install chromium
	$(PY) -m pytest -q

test-all: install chromium
	$(PY) -m pytest -q -m ''

# Headless Chromium for the report's browser test (skipped without it), from Debian when we may.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
		|| echo "Could not install chromium with apt-get; the browser test will be skipped."; \
	else \
		echo "Chromium is not installed (sudo apt-get install chromium); the browser test will be skipped."; \
	fi

# Fashion-MNIST from Debian's package when we may install it; otherwise the demo uses digits.
fashion-mnist:
	@if [ -f $(FMNIST_DIR)/train-images-idx3-ubyte.gz ]; then \
		echo "Fashion-MNIST found in $(FMNIST_DIR)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
		|| echo "Could not install dataset-fashion-mnist with apt-get; the demo uses digits."; \
	else \
		echo "Fashion-MNIST is not installed (sudo apt-get install dataset-fashion-mnist); the demo uses digits."; \
	fi

# The demo: a MnasNet-style search on small images (a cheap proxy of the task) for the most
# accurate cell within a compute target (hard constraint: 2 MFLOPs at 16x16, about the median
# of random cells at these settings, so about half of them exceed it and the constraint binds),
# then the best cell trained to the end on all 60,000 training images at full size, tested
# once, exported and reported. The target keeps the final training within ten minutes on 2 cores.
DEMO_SEARCH = --image-size 16 --n-train 3000 --val-fraction 0.05 --channels 8 --cells 1 \
	--strategy evolution:screen=3 --population-size 10 --sample-size 3 --budget 40 --epochs 3 \
	--lr 0.1 --mnas-target 2e6 --mnas-latency flops --mnas-constraint hard \
	--backend pool --workers 2 --threads 1
DEMO_FINAL = --image-size 28 --channels 16 --epochs 9 --batch-size 128 --lr 0.1 \
	--label-smoothing 0.1 --threads 2

# The demo may be run again: it resumes its search when one was started (config.json is
# written once the search exists), else starts one; --resume alone refuses an empty run.
demo: install fashion-mnist
	@set -e; start=$$(date +%s); \
	resume() { if [ -f "$$1/config.json" ]; then echo --resume; fi; }; \
	if [ -f $(FMNIST_DIR)/train-images-idx3-ubyte.gz ]; then \
		run=$(DEMO_DIR)/fashion-mnist; \
		echo "== search on Fashion-MNIST (16x16 images, 3,000 to train and 3,000 to validate)"; \
		$(ARCHSEARCH) search $$(resume $$run) --dataset fashion-mnist --run-dir $$run $(DEMO_SEARCH); \
		echo "== final training of the best architecture (28x28, all 60,000 training images)"; \
		$(ARCHSEARCH) train --run-dir $$run $(DEMO_FINAL); \
	else \
		run=$(DEMO_DIR)/digits; \
		echo "== search on digits (Fashion-MNIST not installed)"; \
		$(ARCHSEARCH) search $$(resume $$run) --dataset digits --run-dir $$run --channels 16 \
			--cells 2 --strategy evolution --budget 24 --epochs 10 --threads 2; \
		echo "== final training of the best architecture"; \
		$(ARCHSEARCH) train --run-dir $$run --epochs 60 --threads 2; \
	fi; \
	echo "== export and report"; \
	$(ARCHSEARCH) export $$run; \
	$(ARCHSEARCH) report $$run; \
	echo "demo wall time: $$(( $$(date +%s) - start )) s"

clean:
	rm -rf $(VENV) runs .pytest_cache
