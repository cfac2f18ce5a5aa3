package apierr

import (
	"net/http"

	"google.golang.org/grpc/codes"
)

// OVMS's custom node statuses (status.cpp, NODE_LIBRARY_*), numbered apart
// from the codes in codes.go. OVMS maps none of them to a gRPC or HTTP
// status of its own; ovms answers INTERNAL / 500, and UNAVAILABLE / 503 for
// a library whose process is not serving.
const (
	// NodeLibraryMissing: a pipeline names a library that is not in
	// custom_node_library_config_list (or failed to start).
	NodeLibraryMissing Code = 2000 + iota
	// NodeLibraryExecutionFailed: execute returned an error.
	NodeLibraryExecutionFailed
	// NodeLibraryMissingOutput: execute left out a declared output.
	NodeLibraryMissingOutput
	// NodeLibraryInvalidPrecision: an output of another type than declared.
	NodeLibraryInvalidPrecision
	// NodeLibraryInvalidShape: an output whose shape does not fit the
	// declared one.
	NodeLibraryInvalidShape
	// NodeLibraryInvalidContentSize: an output whose size does not match
	// its shape.
	NodeLibraryInvalidContentSize
	// NodeLibraryMetadataFailed: the library's metadata is unusable.
	NodeLibraryMetadataFailed
	// NodeLibraryInitializeFailed: initialize failed for the node's params.
	NodeLibraryInitializeFailed
	// NodeLibraryUnavailable: the library's process ended (requests it was
	// running fail; it is restarted) or is not serving yet.
	NodeLibraryUnavailable
)

func init() {
	for c, i := range map[Code]info{
		NodeLibraryMissing:            {"Custom node library not found", codes.Internal, http.StatusInternalServerError},
		NodeLibraryExecutionFailed:    {"Custom node failed during execution", codes.Internal, http.StatusInternalServerError},
		NodeLibraryMissingOutput:      {"Custom node output is missing", codes.Internal, http.StatusInternalServerError},
		NodeLibraryInvalidPrecision:   {"Custom node has produced tensor with unspecified precision", codes.Internal, http.StatusInternalServerError},
		NodeLibraryInvalidShape:       {"Custom node has produced tensor with not matching shape", codes.Internal, http.StatusInternalServerError},
		NodeLibraryInvalidContentSize: {"Custom node output has invalid content size", codes.Internal, http.StatusInternalServerError},
		NodeLibraryMetadataFailed:     {"Custom node failed on metadata call", codes.Internal, http.StatusInternalServerError},
		NodeLibraryInitializeFailed:   {"Failure during custom node library initialization", codes.Internal, http.StatusInternalServerError},
		NodeLibraryUnavailable:        {"Device plugin is unavailable", codes.Unavailable, http.StatusServiceUnavailable},
	} {
		table[c] = i
	}
}
