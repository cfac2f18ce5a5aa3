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
./devices/irmodel:FuzzDecodeNetAgrees
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

# fuzz_one PKG NAME runs one target and prints its output. It returns 0 on a
# pass, 1 on a failure, and 2 on Go's coordinator race (go.dev/issue/75804,
# fixed in Go 1.27, not in 1.26): a duration -fuzztime can end a clean run with
# a bare "context deadline exceeded" and no failing input written. Only that
# exact shape counts as the race; anything else, or a new file under
# testdata/fuzz/NAME, is a failure.
fuzz_one() {
	local pkg=$1 name=$2 out before after rc=0
	out=$(mktemp)
	before=$(ls "${pkg}/testdata/fuzz/${name}" 2>/dev/null | sort || true)
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "${FUZZTIME:-20s}" "$pkg" 2>&1 | tee "$out" || rc=$?
	after=$(ls "${pkg}/testdata/fuzz/${name}" 2>/dev/null | sort || true)
	if ((rc == 0)); then
		rm -f "$out"
		return 0
	fi
	if [[ "$before" == "$after" ]] &&
		grep -q "^--- FAIL: ${name} " "$out" &&
		[[ "$(grep -A1 "^--- FAIL: ${name} " "$out" | tail -n1)" == "    context deadline exceeded" ]] &&
		! grep -q "Failing input written" "$out"; then
		rm -f "$out"
		return 2
	fi
	rm -f "$out"
	return 1
}

failed=()
for target in $TARGETS; do
	pkg="${target%%:*}"
	name="${target#*:}"
	echo "== fuzz ${name} (${pkg}) for ${FUZZTIME:-20s}"
	rc=0
	fuzz_one "$pkg" "$name" || rc=$?
	if ((rc == 2)); then
		# The race, not an input: run the target once more, and count
		# that run whatever it gives.
		echo "== fuzz ${name}: ended with Go's fuzztime race (go.dev/issue/75804, no input written); running it again"
		rc=0
		fuzz_one "$pkg" "$name" || rc=$?
	fi
	if ((rc != 0)); then
		failed+=("$target")
	fi
done
if ((${#failed[@]})); then
	echo "fuzz targets that failed: ${failed[*]}" >&2
	exit 1
fi
