package host

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Mock is a Device whose behaviour is set per test through function fields;
// a nil field answers Unimplemented. It is meant for contract tests and for
// fault injection in the host's tests.
type Mock struct {
	// InfoF implements Info.
	InfoF func(ctx context.Context) (*Info, error)
	// LoadF implements Load.
	LoadF func(ctx context.Context, req *LoadRequest) (*ModelInfo, error)
	// UnloadF implements Unload.
	UnloadF func(ctx context.Context, key ModelKey) error
	// InferF implements Infer.
	InferF func(ctx context.Context, req *InferRequest) (*InferResponse, error)
}

var _ Device = (*Mock)(nil)

// Info calls InfoF.
func (m *Mock) Info(ctx context.Context) (*Info, error) {
	if m.InfoF == nil {
		return nil, status.Error(codes.Unimplemented, "mock: Info")
	}
	return m.InfoF(ctx)
}

// Load calls LoadF.
func (m *Mock) Load(ctx context.Context, req *LoadRequest) (*ModelInfo, error) {
	if m.LoadF == nil {
		return nil, status.Error(codes.Unimplemented, "mock: Load")
	}
	return m.LoadF(ctx, req)
}

// Unload calls UnloadF.
func (m *Mock) Unload(ctx context.Context, key ModelKey) error {
	if m.UnloadF == nil {
		return status.Error(codes.Unimplemented, "mock: Unload")
	}
	return m.UnloadF(ctx, key)
}

// Infer calls InferF.
func (m *Mock) Infer(ctx context.Context, req *InferRequest) (*InferResponse, error) {
	if m.InferF == nil {
		return nil, status.Error(codes.Unimplemented, "mock: Infer")
	}
	return m.InferF(ctx, req)
}
