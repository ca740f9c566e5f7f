# The two commands of the README: `make run` (the main job) and `make test` (the suite; .ci/run calls it).
# Everything installs from this repo's own files into .venv; data comes from MUREC_DATA (default ../shared/data).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The extras installed: CI adds `spark` (pyspark, ~25 s to install) for the Spark test; a plain `make test` skips it
EXTRAS ?= dev
comma  := ,
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
export TF_CPP_MIN_LOG_LEVEL ?= 2
export NUMBA_CACHE_DIR ?= $(CURDIR)/var/numba-cache
# The pretrained music CNN (musicnn, ISC), rebuilt in our Keras from the wheel's TF1 checkpoints (a few seconds).
# Defined before the rules that depend on it: make expands prerequisites as it reads them.
PRETRAINED := recommenders/audio/pretrained/MSD_musicnn.keras

.PHONY: run test test-fast setup audio-data lint bench clean

run: setup
	$(BIN)/murecom run

test: $(STAMP) audio-data $(PRETRAINED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -m fast
	$(BIN)/pytest -m "not fast and not postgres and not redis and not spark" -n 2 --durations=15  # both cores (pytest-xdist); the slowest listed
	$(BIN)/pytest -m "postgres or redis or spark"  # one shared database, one Redis, one JVM: one test at a time

# The fast tier alone, while editing: unit tests on small real data, no TensorFlow, no subprocess (under a minute).
test-fast: $(STAMP)
	$(BIN)/pytest -m fast

setup: $(STAMP) audio-data $(PRETRAINED)
	$(BIN)/murecom setup

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

$(PRETRAINED): $(STAMP)
	$(BIN)/pip show -q musicnn >/dev/null 2>&1 || $(BIN)/pip install --quiet --no-deps musicnn==0.1.0  # pins numpy<1.17
	$(BIN)/murecom convert-musicnn

# Real audio (Debian soundtrack packages, music21 pieces rendered with fluidsynth) into var/audio-src.
audio-data: $(STAMP)
	@if [ -x scripts/get_audio.sh ]; then bash scripts/get_audio.sh; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf var/models var/eval
