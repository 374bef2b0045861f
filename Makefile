# The two commands the README opens with: `make run` and `make test`.
# Each creates .venv, installs what is missing (Debian packages too, when run as root),
# then launches the app or runs the whole test suite.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
TEACHER_STAMP := $(VENV)/.teacher-musicnn-0.1.0

.PHONY: run test teacher onnx system-deps-run system-deps-test lint bench bundle bundle-smoke clean

run: system-deps-run $(STAMP)
	$(BIN)/soundalike

test: system-deps-test $(STAMP) $(TEACHER_STAMP)
	scripts/run-tests.sh

system-deps-run:
	@scripts/system-deps.sh run

system-deps-test:
	@scripts/system-deps.sh test

# The studio extra (PostgreSQL client, Ray) is in the dev venv: its tests run against a real
# server and cluster (scripts/system-deps.sh installs PostgreSQL for `make test`).
# torch is pinned to the CPU build first: a bare `torch` requirement would pull a CUDA build
# of several GB. A newer torch already present (e.g. a CUDA build on a GPU box) is kept.
$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[dev,studio]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

# The training-only musicnn teacher (model/training): resampy from the `teacher` extra, and the
# musicnn wheel for its TF checkpoints only (--no-deps: it declares numpy<1.17 and TensorFlow,
# neither of which the torch port needs).
teacher: $(TEACHER_STAMP)

$(TEACHER_STAMP): $(STAMP)
	$(BIN)/pip install -q -e ".[dev,studio,teacher]"
	$(BIN)/pip install -q --no-deps "musicnn==0.1.0"
	touch $(TEACHER_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check app model tests scripts
	$(BIN)/lint-imports

# The shipped model's ONNX twin (search without torch); re-run after replacing default.pt.
# (pip first: a venv made before onnx/onnxruntime were dependencies gets them.)
onnx: $(STAMP)
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/python -m model.export_onnx

bench: $(STAMP)
	$(BIN)/soundalike bench encode

# One-folder desktop bundle (build.spec) in dist/soundalike/; PyInstaller comes from the
# `bundle` extra. Builds from whatever torch the venv has: CPU torch -> a CPU bundle.
bundle: $(STAMP)
	$(BIN)/pip install -q -e ".[bundle]"
	nice $(BIN)/pyinstaller --noconfirm --distpath dist --workpath build build.spec
	du -sh dist/soundalike

bundle-smoke:
	scripts/bundle-smoke.sh

clean:
	rm -rf $(VENV) build dist *.egg-info
