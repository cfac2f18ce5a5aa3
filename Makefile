# ovms: an OpenVINO Model Server compatible model server in Go.
# `make help` lists the targets.

SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

GO        ?= go
BIN       := bin
MODELS    := build/models
# The release is internal/version.Release; git describe adds the commit (see internal/version).
DESCRIBE  ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS   := -X github.com/ovmsgo/ovms/internal/version.Describe=$(DESCRIBE)
# ovms leaves out urfave/cli's man page and markdown generators (never used; their markdown library's
# initialisation costs every start about 3 ms).
OVMS_TAGS := urfave_cli_no_docs
DEVICES := cpu gpu myriad hddl cuda mock
# Custom node libraries of the repository (docs/custom-nodes.md), built as bin/ovms-node-NAME.
NODES := argmax cropboxes
LOADERS := example aesgcm
# Measured with a cold build cache (GOCACHE=$$(mktemp -d) time make build), module cache warm, on an idle
# 2-core machine: 2 min 55 s (230 s user, 89 s system CPU time); see README.md.
FIRST_BUILD := 3 min
GRPC_PORT ?= 9000
REST_PORT ?= 8000

.PHONY: help
help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-16s %s\n", $$1, $$2}'

.PHONY: onnxruntime
onnxruntime: ## fetch ONNX Runtime 1.30 into .cache/ (once; ORT_LIB overrides)
	@./scripts/fetch-onnxruntime.sh >/dev/null

.PHONY: build
build: onnxruntime ## build ovms, every device plugin, the custom node libraries and the custom loaders into ./bin
	@mkdir -p $(BIN)
	@echo "building $(BIN)/ovms (the first build compiles about 800 packages: about $(FIRST_BUILD) on 2 cores; later builds take seconds)"
	@$(GO) build -tags '$(OVMS_TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/ovms ./cli/ovms
	@$(MAKE) --no-print-directory plugins nodes loaders
	@ln -sf "$$(./scripts/fetch-onnxruntime.sh)" $(BIN)/libonnxruntime.so.1
	@echo "built $(BIN)/ovms, the device plugins ($(DEVICES)), the custom node libraries ($(NODES)) and the custom loaders ($(LOADERS))"

.PHONY: plugins
plugins: ## build the device plugin binaries into ./bin
	@mkdir -p $(BIN)
	@for d in $(DEVICES); do echo "building $(BIN)/ovms-device-$$d"; \
	  $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ovms-device-$$d ./devices/$$d || exit 1; done

.PHONY: nodes
nodes: ## build the custom node libraries of examples/ into ./bin (ovms-node-NAME)
	@mkdir -p $(BIN)
	@for n in $(NODES); do echo "building $(BIN)/ovms-node-$$n"; \
	  $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ovms-node-$$n ./examples/$$n || exit 1; done

.PHONY: loaders
loaders: ## build the custom model loader binaries into ./bin
	@mkdir -p $(BIN)
	@for l in $(LOADERS); do echo "building $(BIN)/ovms-loader-$$l"; \
	  $(GO) build -ldflags '$(LDFLAGS) -X github.com/ovmsgo/ovms/plugins/loader.Version=$(DESCRIBE)' -o $(BIN)/ovms-loader-$$l ./loaders/$$l || exit 1; done

.PHONY: cuda-provider
cuda-provider: onnxruntime ## fetch ONNX Runtime's CUDA provider (about 180 MB; for ovms-device-cuda on an NVIDIA GPU)
	@./scripts/fetch-cuda-provider.sh >/dev/null

.PHONY: cuda-check
cuda-check: build cuda-provider ## on an NVIDIA GPU machine: check and measure the CUDA plugin against the CPU one
	$(GO) build -o $(BIN)/benchsuite ./scripts/benchsuite
	./scripts/cuda-check.sh "$$(dirname "$$(readlink -f "$$(./scripts/fetch-onnxruntime.sh)")")" $(BIN) build/cuda-check

.PHONY: models
models: ## generate the example and test models into build/models
	@echo "generating the test models into $(MODELS)"
	@$(GO) run ./scripts/testmodels -out $(MODELS)

.PHONY: run
run: build models ## build, then serve the dummy model on gRPC :9000 and REST :8000
	@echo
	@echo "Serving dummy (b -> a = b + 1). In another terminal:"
	@echo "  curl -s -X POST http://localhost:$(REST_PORT)/v2/models/dummy/infer -d '{\"inputs\":[{\"name\":\"b\",\"shape\":[1,10],\"datatype\":\"FP32\",\"data\":[1,2,3,4,5,6,7,8,9,10]}]}'"
	@echo
	exec $(BIN)/ovms --model_name dummy --model_path $(MODELS)/dummy --port $(GRPC_PORT) --rest_port $(REST_PORT)

.PHONY: test
test: onnxruntime ## run every test: unit, conformance, plugin contract and integration
	@./scripts/install-deps.sh test
	$(GO) test -count=1 ./...

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME (default 20s) each
	@./scripts/fuzz.sh

.PHONY: integration
integration: onnxruntime ## run the black-box suite against the real binaries
	$(GO) test -count=1 -v ./integration/...

.PHONY: bench
bench: build ## measure ovms against the raw engine and a gRPC echo server; exits 1 on a missed target (BENCH_FLAGS=-quick, -only GROUP, -json FILE)
	@$(GO) run ./scripts/testmodels -out $(MODELS) -bench >/dev/null
	$(GO) run ./scripts/benchsuite -bin $(BIN) -models $(MODELS) $(BENCH_FLAGS)

SOAK_DURATION ?= 10m
SOAK_INTERVAL ?= 30s

.PHONY: soak
soak: build models ## mixed load with load/unload cycles and reloads for SOAK_DURATION (10m); prints RSS, fds, goroutines, mappings every 30 s; fails on growth
	$(GO) run ./scripts/soak -bin $(BIN) -models $(MODELS) -duration $(SOAK_DURATION) -interval $(SOAK_INTERVAL) $(SOAK_FLAGS)

IMAGE      ?= ovms:latest
IMAGE_CTX  := build/image
IMAGE_DEVICES := $(filter-out mock,$(DEVICES))
export DOCKER_HOST ?= unix:///run/podman/podman.sock

.PHONY: image-context
image-context: build ## stage the image's build context into build/image (binaries without the mock plugin, the custom node libraries and loaders, ONNX Runtime, CA bundle)
	@rm -rf $(IMAGE_CTX) && mkdir -p $(IMAGE_CTX)/bin $(IMAGE_CTX)/lib $(IMAGE_CTX)/cuda $(IMAGE_CTX)/certs
	@cp $(BIN)/ovms $(addprefix $(BIN)/ovms-device-,$(IMAGE_DEVICES)) $(addprefix $(BIN)/ovms-node-,$(NODES)) $(addprefix $(BIN)/ovms-loader-,$(LOADERS)) $(IMAGE_CTX)/bin/
	@cp -L $(BIN)/libonnxruntime.so.1 $(IMAGE_CTX)/lib/
	@cp -L /etc/ssl/certs/ca-certificates.crt $(IMAGE_CTX)/certs/ 2>/dev/null || cp -L /etc/pki/tls/certs/ca-bundle.crt $(IMAGE_CTX)/certs/ca-certificates.crt
	@chmod 0755 $(IMAGE_CTX)/bin/* && chmod 0644 $(IMAGE_CTX)/lib/* $(IMAGE_CTX)/certs/*

.PHONY: image
image: image-context ## build the container image $(IMAGE) (installs and starts podman where there is no Docker engine; see docs/container.md)
	@./scripts/image/build.sh ovms $(IMAGE)

.PHONY: image-cuda
image-cuda: image-context cuda-provider ## build $(IMAGE)-cuda: the image plus ONNX Runtime's CUDA provider (about 180 MB fetched)
	@cp -L "$$(./scripts/fetch-cuda-provider.sh)"/libonnxruntime_providers_*.so $(IMAGE_CTX)/cuda/
	@./scripts/image/build.sh cuda $(IMAGE)-cuda

.PHONY: prometheus-image
prometheus-image: ## build ovms-prometheus:latest from Debian's prometheus package, for docker-compose.metrics.yml (about 10 s; nothing when up to date)
	@./scripts/image/prometheus-image.sh ovms-prometheus:latest

.PHONY: image-test
image-test: image models prometheus-image ## build the image, then run the container tests (docker CLI and docker-compose against podman's API socket)
	@$(GO) build -o build/image-test/s3server ./scripts/s3server
	$(GO) vet -tags container ./integration/container
	OVMS_IMAGE=$(IMAGE) $(GO) test -tags container -count=1 -v -timeout 30m ./integration/container

.PHONY: proto
proto: ## regenerate the Go code of proto/ (pinned protoc plugins)
	@./scripts/install-deps.sh generate
	./scripts/gen-proto.sh

.PHONY: check-generated
check-generated: ## fail when the generated Go code of proto/ is out of date
	@./scripts/install-deps.sh generate
	./scripts/gen-proto.sh
	@git diff --exit-code -- proto || { echo "generated code in proto/ is out of date: run make proto" >&2; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- proto)" || { git status --short -- proto; echo "untracked generated files in proto/" >&2; exit 1; }

.PHONY: check-tidy
check-tidy: ## fail when go.mod/go.sum are not what go mod tidy makes them (prints the difference)
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy" >&2; exit 1; }

.PHONY: lint
lint: ## gofmt, go vet, and every Fuzz function listed in scripts/fuzz.sh
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); test -z "$$out" || { echo "gofmt needed: $$out" >&2; exit 1; }
	$(GO) vet ./...
	@./scripts/fuzz.sh -check

.PHONY: clean
clean: ## remove build outputs (keeps the ONNX Runtime cache)
	rm -rf $(BIN) build
