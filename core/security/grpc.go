package security

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

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

// authorizeGRPC checks the "authorization" metadata of a call.
func (a *Authorizer) authorizeGRPC(ctx context.Context, fullMethod string) error {
	c := GRPCClass(fullMethod)
	if c == Open {
		return nil
	}
	var v string
	if vals := metadata.ValueFromIncomingContext(ctx, "authorization"); len(vals) > 0 {
		v = vals[0]
	}
	if err := a.Authorize(c, v); err != nil {
		return apierr.GRPCStatus(err)
	}
	return nil
}

// GRPCOptions are the server options that check API keys: none for a nil
// Authorizer, so that calls cost nothing when keys are off.
func (a *Authorizer) GRPCOptions() []grpc.ServerOption {
	if a == nil {
		return nil
	}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := a.authorizeGRPC(ctx, info.FullMethod); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := a.authorizeGRPC(ss.Context(), info.FullMethod); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	}
}
