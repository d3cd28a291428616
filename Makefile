# The two commands a user needs: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
export RASA_TELEMETRY_ENABLED := false
PY := .venv/bin/python
RASA := .venv/bin/rasa
# First line of each step of `make test`: when it started, so a slow CI run shows which step was slow.
STEP_START = @echo "[$@] started $$(date -u +%T) UTC"

.PHONY: setup train validate run chat shell interactive test test-unit test-e2e test-browser test-reliability soak test-stories nlu-report clean

setup:                       ## create .venv from requirements.lock (once; seconds afterwards)
	@bash scripts/setup.sh

train: setup                 ## train the model if domain, config or data changed
	$(STEP_START)
	@bash scripts/train.sh

validate: setup              ## check domain and training data, named paths and module sizes
	$(PY) scripts/check_layout.py
	$(RASA) data validate --fail-on-warnings
	$(PY) scripts/validate_data.py

run: train                   ## run the assistant with embedded defaults and the web preview (http://127.0.0.1:8700/)
	@bash scripts/run.sh

chat: train                  ## the same with the terminal chat instead of the web preview
	@bash scripts/run.sh terminal

shell: train                 ## Rasa's `rasa shell` with the project's endpoints (local only; ARGS="--conversation-id anna")
	@bash scripts/designer_tools.sh shell $(ARGS)

interactive: train           ## Rasa's `rasa interactive` (write stories) with the project's endpoints (local only)
	@bash scripts/designer_tools.sh interactive $(ARGS)

test-unit: setup             ## pytest suites (PostgreSQL and Redis tests need the servers; CI requires them)
	$(STEP_START)
	@bash scripts/ensure_services.sh
	$(PY) -m pytest -q -p no:cacheprovider -m "not e2e and not browser" --durations=8

test-e2e: train              ## the trained assistant driven through the WhatsApp webhook
	$(STEP_START)
	@bash scripts/ensure_services.sh
	$(PY) -m pytest -q -p no:cacheprovider -m "e2e and not reliability and not browser" --durations=12

test-browser: train          ## the preview's pages in headless Chromium (Debian's; screenshots in results/screenshots/)
	$(STEP_START)
	@bash scripts/ensure_services.sh
	$(PY) -m pytest -q -p no:cacheprovider -m browser --durations=5

test-reliability: train      ## storm, Graph faults, database outages, kill -9, fuzzing (bounded form)
	$(STEP_START)
	@bash scripts/ensure_services.sh
	$(PY) -m pytest -q -p no:cacheprovider -m reliability --durations=8

soak: train                  ## the reliability suite's long form (not part of `make test`)
	RELIABILITY_SOAK=1 $(PY) -m pytest -q -p no:cacheprovider -m reliability

test-stories: train          ## the test conversations in tests/test_*.yml
	$(STEP_START)
	$(PY) -m rasa_compat.with_hot_path test core --stories tests/ --e2e --model models/current.tar.gz --fail-on-prediction-errors --out results/stories

nlu-report: train            ## seeded NLU cross-validation and the held-out set: reports/nlu-cross-validation.md, reports/nlu-heldout.md
	$(STEP_START)
	$(PY) scripts/nlu_cross_validation.py --folds 3 --seed 2026 --config config.yml --nlu data --out results/nlu-cv
	@if [ -f tests/nlu/heldout.yml ]; then \
	  set -x; $(PY) scripts/nlu_overlap.py && \
	  $(PY) scripts/nlu_heldout.py --heldout tests/nlu/heldout.yml --model models/current.tar.gz --out results/nlu-heldout; \
	else \
	  echo "nlu-report: no held-out set (tests/nlu/heldout.yml), held-out evaluation skipped"; rm -f results/nlu-heldout/heldout.json; \
	fi
	$(PY) scripts/summarize_nlu_report.py results/nlu-cv reports/nlu-cross-validation.md --heldout results/nlu-heldout reports/nlu-heldout.md

test: validate test-unit test-e2e test-browser test-reliability test-stories nlu-report   ## everything CI runs

clean:
	rm -rf results models .rasa
