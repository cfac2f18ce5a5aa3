package security

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/tap"

	"github.com/ovmsgo/ovms/core/apierr"
)

// grpcClasses are the gRPC methods that are not inference endpoints;
// every other method (reflection included) is one.
var grpcClasses = map[string]Class{
	"/inference.GRPCInferenceService/ServerLive":                   Open,
	"/inference.GRPCInferenceService/ServerReady":                  Open,
	"/inference.GRPCInferenceService/RepositoryModelLoad":          Control,
	"/inference.GRPCInferenceService/RepositoryModelUnload":        Control,
	"/inference.GRPCInferenceService/SystemSharedMemoryRegister":   Control,
	"/inference.GRPCInferenceService/SystemSharedMemoryUnregister": Control,
	"/inference.GRPCInferenceService/SystemSharedMemoryStatus":     Control,
	"/tensorflow.serving.ModelService/HandleReloadConfigRequest":   Control,
}

// grpcHealth is the standard health service, open to probes.
const grpcHealth = "/grpc.health.v1.Health/"

// GRPCClass is the class of a gRPC method (its full name).
func GRPCClass(fullMethod string) Class {
	if c, ok := grpcClasses[fullMethod]; ok {
		return c
	}
	if strings.HasPrefix(fullMethod, grpcHealth) {
		return Open
	}
	return Inference
}

// GRPCOptions are the server options that check API keys: none for a nil
// Authorizer, so that calls cost nothing when keys are off. The key is
// checked on the call's headers (a tap handle), before gRPC reads its
// message: a refused call costs its headers, where an interceptor would run
// only once the whole message (up to the receive limit, 1 GiB by default)
// had been received and decoded. The answer is the same either way: the
// status of Authorize's error, as a trailers-only response.
func (a *Authorizer) GRPCOptions() []grpc.ServerOption {
	if a == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.InTapHandle(a.tapGRPC)}
}

// tapGRPC checks the "authorization" header of a call as its headers
// arrive. gRPC calls it with its connection's lock held: it must not block
// (Authorize reads the key sets it holds).
func (a *Authorizer) tapGRPC(ctx context.Context, info *tap.Info) (context.Context, error) {
	c := GRPCClass(info.FullMethodName)
	if c == Open {
		return ctx, nil
	}
	var v string
	if vals := info.Header.Get("authorization"); len(vals) > 0 {
		v = vals[0]
	}
	if err := a.Authorize(c, v); err != nil {
		return ctx, apierr.GRPCStatus(err)
	}
	return ctx, nil
}
