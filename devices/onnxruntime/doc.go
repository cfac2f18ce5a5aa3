// Package onnxruntime is the project's own thin cgo binding over the ONNX
// Runtime C API, the engine of the device plugins.
//
// # Loading
//
// The library (libonnxruntime.so.1) is loaded at run time with dlopen: the
// package links only -ldl and builds without any ONNX Runtime file. Init
// loads it once per process (FindLibrary says where it is looked for; ORT_LIB
// overrides). The package asks for OrtApi version 30 and falls back to the
// lowest version that has every function it uses. One OrtEnv, logging at
// WARNING, is created on first use and kept for the life of the process. Its
// messages go through a pipe to a goroutine that calls the SetLogHandler
// handler (standard error by default, never standard output); C never calls
// back into Go, which lets Run pass its arrays to C from the stack.
//
// The C ABI is declared by the package itself in ortabi.h; the OrtApi
// function table is used as an array of function pointers indexed by slot
// numbers that gen-abi.sh derives from the real onnxruntime_c_api.h
// (ortabi_slots.h, committed). abi_test.go re-derives them when that header
// is in the Go module cache.
//
// # Sessions
//
// NewSession creates a session from model bytes with SessionOptions
// (ParseSessionOptions maps an OVMS plugin_config to them). Inputs and
// Outputs describe the model; dynamic dimensions are -1. Session.Run is safe
// for concurrent use, takes no locks and, with preallocated outputs, makes no
// heap allocation. Session.Close must not race with Run.
//
// # Buffer ownership
//
//   - NewTensor wraps memory the caller owns without copying. ONNX Runtime
//     reads inputs from it and writes preallocated outputs into it, so it must
//     stay valid and in place until the Value is closed: C memory, a mapping
//     outside the Go heap (the plugin's shared-memory arena) or Go memory
//     pinned with runtime.Pinner. Closing the Value leaves that memory alone;
//     the caller may reuse it once the Value is closed (or, for an input,
//     once every Run using it has returned).
//   - NewTensorCopy copies into C memory the Value owns and frees on Close.
//   - NewStringTensor and Run outputs passed as nil are allocated by ONNX
//     Runtime and freed by Value.Close, which the caller must call.
//   - Value.Bytes is a view valid until Close; Value.Strings returns copies.
//
// Values are not safe for concurrent Close; reading one value from many Runs
// at once is fine.
package onnxruntime
