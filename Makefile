# archsearch: `make demo` runs a real search end to end; `make test` runs the test suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ARCHSEARCH := $(VENV)/bin/archsearch
FMNIST_DIR ?= /usr/share/datasets/fashion-mnist
DEMO_DIR ?= runs/demo

.PHONY: install test test-all demo fashion-mnist clean

install: $(VENV)/.installed

# torch is pinned first so pip takes the CPU wheel on disk, not a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,images,plot,optuna,ray,export]'
	touch $@

test: install
	$(PY) -m pytest -q

test-all: install
	$(PY) -m pytest -q -m ''

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

demo: install fashion-mnist
	@set -e; \
	if [ -f $(FMNIST_DIR)/train-images-idx3-ubyte.gz ]; then \
		echo "== search on Fashion-MNIST"; \
		$(ARCHSEARCH) search --resume --dataset fashion-mnist --run-dir $(DEMO_DIR)/fashion-mnist \
			--channels 16 --cells 1 --strategy evolution --population-size 8 --sample-size 3 \
			--budget 16 --epochs 2 --n-train 5000 --val-fraction 0.1 --batch-size 64 --lr 0.05 \
			--threads 2; \
		echo "== final training of the best architecture"; \
		$(ARCHSEARCH) train --run-dir $(DEMO_DIR)/fashion-mnist --epochs 7 --batch-size 128 \
			--lr 0.1 --threads 2; \
	else \
		echo "== search on digits (Fashion-MNIST not installed)"; \
		$(ARCHSEARCH) search --resume --dataset digits --run-dir $(DEMO_DIR)/digits --channels 16 \
			--cells 2 --strategy evolution --budget 24 --epochs 10 --threads 2; \
		echo "== final training of the best architecture"; \
		$(ARCHSEARCH) train --run-dir $(DEMO_DIR)/digits --epochs 60 --threads 2; \
	fi

clean:
	rm -rf $(VENV) runs .pytest_cache
