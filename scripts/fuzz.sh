#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME (default 20s) each: `make fuzz`, and
# .ci/run after `make test`. The targets are the list below, one
# "package:FuzzName" a line; add yours there. `scripts/fuzz.sh -check` (run
# first by every run) fails when a Fuzz function of the repository is not
# listed, or a listed one does not exist. A failing target leaves its input in the package's
# testdata/fuzz/FuzzName/: fix the code and commit that file as a
# regression seed.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS='
./core/api/rest:FuzzParsePredict
./core/api/rest:FuzzParseInfer
./core/api/rest:FuzzParseInferChunked
./core/api/rest:FuzzCursorAgreesWithValidate
./core/api/rest:FuzzParseMatchesReference
./core/api/rest/rjson:FuzzValidateIndex
./core/api/grpc/rawcodec:FuzzSplitAgreesWithProto
./core/api/grpc/kserve:FuzzDecodeInputs
./core/api/grpc/tfs:FuzzDecodePredict
./devices/onnxmodel:FuzzModelLoad
./core/config:FuzzDecodeDoc
'

check() {
	local missing=0 file name pkg
	while IFS=: read -r file name; do
		pkg="./$(dirname "$file")"
		name="${name#func }"
		name="${name%%(*}"
		if ! grep -qx "${pkg}:${name}" <<<"$TARGETS"; then
			echo "scripts/fuzz.sh: ${pkg}:${name} is not in the list of fuzz targets" >&2
			missing=1
		fi
	done < <(git ls-files --cached --others --exclude-standard '*_test.go' | xargs grep -Ho '^func Fuzz[A-Za-z0-9_]*(' || true)
	# A listed target that no longer exists would fuzz nothing and pass
	# (go test -fuzz with no match only warns).
	for target in $TARGETS; do
		pkg="${target%%:*}"
		name="${target#*:}"
		if ! grep -qs "^func ${name}(" "${pkg}"/*_test.go; then
			echo "scripts/fuzz.sh: ${target} is listed but ${pkg} has no func ${name}" >&2
			missing=1
		fi
	done
	return "$missing"
}

check
[[ "${1:-}" == "-check" ]] && exit 0

failed=()
for target in $TARGETS; do
	pkg="${target%%:*}"
	name="${target#*:}"
	echo "== fuzz ${name} (${pkg}) for ${FUZZTIME:-20s}"
	if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "${FUZZTIME:-20s}" "$pkg"; then
		failed+=("$target")
	fi
done
if ((${#failed[@]})); then
	echo "fuzz targets that failed: ${failed[*]}" >&2
	exit 1
fi
