# struct_det: the two commands a newcomer runs are `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
SAMPLE := data/evalmuse_sample
RESULTS ?= results/demo
PYTEST_ARGS ?=

.PHONY: setup data demo test test-fast lint bench clean-data

# Builds $(VENV) idempotently and incrementally: re-run only when the requirements or the
# setup change (mmcv's wheel is built once and cached in ~/.cache/struct_det). VENV may be
# relative (to this directory) or absolute: the script resolves every path once.
setup: $(VENV)/.struct_det_setup

$(VENV)/.struct_det_setup: tools/misc/setup_env.sh setup.py requirements/runtime.txt \
		requirements/tests.txt requirements/lint.txt requirements/constraints.txt
	bash tools/misc/setup_env.sh $(VENV)

# The last file written marks the sample as complete.
$(SAMPLE)/annotations/evalmuse_test.json: struct_det/testing/sample_data.py struct_det/datasets/converter.py
	$(PY) tools/misc/make_sample_data.py --out $(SAMPLE) --seed 0
	$(PY) tools/dataset_converters/evalmuse_structure.py \
		--info $(SAMPLE)/train/train_info.json --img-dir $(SAMPLE)/train/images \
		--out $(SAMPLE)/annotations/evalmuse.json --val-ratio 0.2 --seed 0
	$(PY) tools/dataset_converters/evalmuse_structure.py \
		--info $(SAMPLE)/test/test_info.json --img-dir $(SAMPLE)/test/images \
		--out $(SAMPLE)/annotations/evalmuse_test.json

# The bundled synthetic EvalMuse-Structure sample, converted to COCO.
data: setup $(SAMPLE)/annotations/evalmuse_test.json

# The main job on the sample data: convert, train, TTA-test the joint model, score, submit.
demo: data
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} PATH=$(abspath $(VENV))/bin:$$PATH bash tools/misc/demo.sh $(RESULTS)

test: setup
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} PATH=$(abspath $(VENV))/bin:$$PATH $(PY) -m pytest $(PYTEST_ARGS)

# The edit loop: everything but the end-to-end trainings marked `slow` (CI runs them all).
test-fast: setup
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} PATH=$(abspath $(VENV))/bin:$$PATH $(PY) -m pytest -m 'not slow' $(PYTEST_ARGS)

# OpenMMLab's style (setup.cfg): import order, formatting, flake8. CI runs it before the tests.
LINT_DIRS := struct_det tools tests benchmarks configs setup.py
lint: setup
	$(VENV)/bin/isort --check-only --diff $(LINT_DIRS)
	$(VENV)/bin/yapf --diff --recursive $(LINT_DIRS)
	$(VENV)/bin/flake8 $(LINT_DIRS)

bench: setup
	# released_scorer_procedure.py is structure_score_speed.py's anchor (it needs files), not a benchmark.
	for b in benchmarks/*.py; do case $$b in benchmarks/_*|benchmarks/released_scorer_procedure.py) continue;; esac; \
	  $(PY) $$b || exit 1; done

clean-data:
	rm -rf $(SAMPLE)
