// Package kserve serves the KServe v2 gRPC API (inference.GRPCInferenceService)
// the way OVMS does, on top of the model manager.
package kserve

import (
	"context"
	"errors"
	"io"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/core/api/grpc/rawcodec"
	"github.com/ovmsgo/ovms/core/api/grpc/rpcctx"
	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/clientshm"
	"github.com/ovmsgo/ovms/core/metrics"
	"github.com/ovmsgo/ovms/core/modelmanager"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/core/tracing"
	"github.com/ovmsgo/ovms/plugins/device"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// ServerName is what ServerMetadata reports, as OVMS does.
const ServerName = "OpenVINO Model Server"

// Platform is what ModelMetadata reports, as OVMS does.
const Platform = "OpenVINO"

// Service implements inference.GRPCInferenceService.
type Service struct {
	kpb.UnimplementedGRPCInferenceServiceServer
	models  *modelmanager.Manager
	version string
	shm     *clientshm.Registry // nil: the shared-memory extension is off
	// maxRequestBytes bounds the memory decoding one request may take
	// beyond its message (tensor.Budget); 0: no bound.
	maxRequestBytes int64
}

// Register adds the service to s; version is the server version string,
// shm the client shared-memory registry (nil keeps the extension off, as in
// OVMS: its RPCs then answer UNIMPLEMENTED) and maxRequestBytes the
// request memory budget (--max_request_memory_mb; 0: no bound).
func Register(s *grpc.Server, models *modelmanager.Manager, version string, shm *clientshm.Registry, maxRequestBytes int64) {
	kpb.RegisterGRPCInferenceServiceServer(s, &Service{models: models, version: version, shm: shm, maxRequestBytes: maxRequestBytes})
}

// ParseVersion parses a KServe version string; "" means the default.
func ParseVersion(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	// OVMS's stoi64: an optional minus, digits only, no leading zero.
	digits := strings.TrimPrefix(s, "-")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || digits == "" || strings.TrimLeft(digits, "0123456789") != "" || (len(s) > 1 && digits[0] == '0') {
		return 0, apierr.New(apierr.ModelVersionInvalidFormat)
	}
	return n, nil
}

// ServerLive is always true while the process serves.
func (s *Service) ServerLive(context.Context, *kpb.ServerLiveRequest) (*kpb.ServerLiveResponse, error) {
	return &kpb.ServerLiveResponse{Live: true}, nil
}

// ServerReady is true once the initial configuration was applied.
func (s *Service) ServerReady(context.Context, *kpb.ServerReadyRequest) (*kpb.ServerReadyResponse, error) {
	return &kpb.ServerReadyResponse{Ready: s.models.Ready()}, nil
}

// ServerMetadata names the server.
func (s *Service) ServerMetadata(context.Context, *kpb.ServerMetadataRequest) (*kpb.ServerMetadataResponse, error) {
	return &kpb.ServerMetadataResponse{Name: ServerName, Version: s.version}, nil
}

// ModelReady reports whether a version is AVAILABLE.
func (s *Service) ModelReady(_ context.Context, req *kpb.ModelReadyRequest) (*kpb.ModelReadyResponse, error) {
	v, err := resolve(s.models, req.GetName(), req.GetVersion())
	if err != nil {
		return nil, apierr.GRPCStatus(err)
	}
	st, _ := v.Status()
	v.Metrics().Count(metrics.KServeGRPCModelReady, true)
	return &kpb.ModelReadyResponse{Ready: st == modelmanager.StateAvailable}, nil
}

func resolve(models *modelmanager.Manager, name, version string) (*modelmanager.Version, error) {
	mod, err := models.Model(name)
	if err != nil {
		return nil, err
	}
	n, err := ParseVersion(version)
	if err != nil {
		return nil, err
	}
	return mod.Resolve(n)
}

// ModelMetadata describes an AVAILABLE version.
func (s *Service) ModelMetadata(_ context.Context, req *kpb.ModelMetadataRequest) (*kpb.ModelMetadataResponse, error) {
	n, err := ParseVersion(req.GetVersion())
	if err != nil {
		return nil, apierr.GRPCStatus(err)
	}
	v, err := s.models.Available(req.GetName(), n)
	if err != nil {
		return nil, apierr.GRPCStatus(err)
	}
	v.Metrics().Count(metrics.KServeGRPCModelMetadata, true)
	return Metadata(s.models, v), nil
}

// Metadata builds a ModelMetadata response (also used by the REST API):
// AVAILABLE versions ascending, tensors in name order.
func Metadata(models *modelmanager.Manager, v *modelmanager.Version) *kpb.ModelMetadataResponse {
	resp := &kpb.ModelMetadataResponse{Name: v.Model, Platform: Platform, Versions: []string{}}
	if mod, err := models.Model(v.Model); err == nil {
		for _, av := range mod.Available() {
			resp.Versions = append(resp.Versions, strconv.FormatInt(av.Number, 10))
		}
	}
	info := v.Info()
	resp.Inputs = tensorMetadata(info.Inputs)
	resp.Outputs = tensorMetadata(info.Outputs)
	return resp
}

func tensorMetadata(ts []device.TensorInfo) []*kpb.ModelMetadataResponse_TensorMetadata {
	out := make([]*kpb.ModelMetadataResponse_TensorMetadata, len(ts))
	for i, t := range ts {
		shape := t.Shape
		if shape == nil {
			shape = []int64{}
		}
		out[i] = &kpb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: tensor.KServeName(t.DType), Shape: shape}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ModelInfer runs inference; outputs go back in raw_output_contents that
// alias the plugin's arena until the response has been written (large ones
// until the transport has sent them, see rawcodec.Lend).
func (s *Service) ModelInfer(ctx context.Context, req *kpb.ModelInferRequest) (*kpb.ModelInferResponse, error) {
	out, done, err := s.infer(ctx, req, "ModelInfer")
	if err != nil {
		return nil, err
	}
	// Large outputs are sent from the arena itself (rawcodec.Lend): the
	// release waits for the transport to have written them.
	finish := rawcodec.Lend(ctx, out, done)
	if !rpcctx.OnFinish(ctx, finish) {
		for i, b := range out.RawOutputContents {
			out.RawOutputContents[i] = append([]byte(nil), b...)
		}
		finish()
	}
	return out, nil
}

// infer runs one request of the RPC method (its trace span's name). The
// response's raw outputs alias the arena until done is called, after the
// response has been serialized.
func (s *Service) infer(ctx context.Context, req *kpb.ModelInferRequest, method string) (_ *kpb.ModelInferResponse, _ func(), err error) {
	start := metrics.Now()
	ctx, sp := tracing.StartGRPC(ctx, "inference.GRPCInferenceService", method, tracing.KServe)
	defer func() { sp.EndGRPC(err) }()
	// Raw contents kept in the received buffers (large requests) go back to
	// gRPC when the handler returns, on every path; the inputs are in the
	// arena by then.
	var parts [][][]byte
	if raw := rawcodec.Take(req); raw != nil {
		defer raw.Free()
		parts = raw.Parts
	}
	n, err := ParseVersion(req.GetModelVersion())
	sp.Model(req.GetModelName(), n)
	if err != nil {
		return nil, nil, apierr.GRPCStatus(err)
	}
	v, err := s.models.Acquire(ctx, req.GetModelName(), n)
	if err != nil {
		return nil, nil, apierr.GRPCStatus(err)
	}
	defer v.Release()
	sp.Version(v.Number)
	met, ok := v.Metrics(), false
	met.Begin()
	defer func() { met.End(metrics.KServeGRPCModelInfer, start, ok) }()
	if err := v.ValidateInputCount(len(req.GetInputs()), func(i int) string { return req.GetInputs()[i].GetName() }); err != nil {
		return nil, nil, apierr.GRPCStatus(err)
	}
	inputs, held, err := DecodeInputs(req.GetInputs(), req.GetRawInputContents(), parts, s.shm, tensor.NewBudget(s.maxRequestBytes))
	if err != nil {
		return nil, nil, apierr.GRPCStatus(tensor.NameModel(err, v.Model, v.Number))
	}
	placements, heldOut, err := Placements(req.GetOutputs(), s.shm)
	if err != nil {
		held.Release()
		return nil, nil, apierr.GRPCStatus(err)
	}
	held = append(held, heldOut...)
	treq := &tensor.Request{API: tensor.KServe, Inputs: inputs, Placements: placements}
	if treq.Sequence, err = SequenceParams(req.GetParameters()); err != nil {
		held.Release()
		return nil, nil, apierr.GRPCStatus(err)
	}
	for _, o := range req.GetOutputs() {
		treq.Outputs = append(treq.Outputs, o.GetName())
	}
	resp, err := v.Infer(ctx, treq)
	if err != nil {
		held.Release()
		return nil, nil, apierr.GRPCStatus(err)
	}
	out := &kpb.ModelInferResponse{
		ModelName:    resp.Model,
		ModelVersion: strconv.FormatInt(resp.Version, 10),
		Id:           req.GetId(),
	}
	for i := range resp.Outputs {
		o := &resp.Outputs[i]
		out.Outputs = append(out.Outputs, &kpb.ModelInferResponse_InferOutputTensor{
			Name: o.Name, Datatype: tensor.KServeName(o.DType), Shape: o.Shape,
			Parameters: OutputParameters(o, placements),
		})
		// An output in shared memory keeps its index with an empty buffer.
		out.RawOutputContents = append(out.RawOutputContents, o.Data)
	}
	ok = true
	return out, func() { resp.Release(); held.Release() }, nil
}

// ModelStreamInfer runs every request of the stream as ModelInfer does and
// answers each in order; a failed request gets error_message (Triton's
// semantics) and the stream goes on. OVMS offers the stream for MediaPipe
// graphs only; ovms serves it for every model.
func (s *Service) ModelStreamInfer(stream kpb.GRPCInferenceService_ModelStreamInferServer) error {
	ctx := stream.Context()
	for {
		req, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		out, done, err := s.infer(ctx, req, "ModelStreamInfer")
		if err != nil {
			err = stream.Send(&kpb.ModelStreamInferResponse{ErrorMessage: status.Convert(err).Message(),
				InferResponse: &kpb.ModelInferResponse{ModelName: req.GetModelName(), ModelVersion: req.GetModelVersion(), Id: req.GetId()}})
		} else {
			err = stream.Send(&kpb.ModelStreamInferResponse{InferResponse: out})
			done() // Send has serialized the response
		}
		if err != nil {
			return err
		}
	}
}

// SystemSharedMemoryRegister registers a client region.
func (s *Service) SystemSharedMemoryRegister(_ context.Context, req *kpb.SystemSharedMemoryRegisterRequest) (*kpb.SystemSharedMemoryRegisterResponse, error) {
	if s.shm == nil {
		return nil, status.Error(codes.Unimplemented, "method SystemSharedMemoryRegister not implemented")
	}
	if err := s.shm.Register(req.GetName(), req.GetKey(), req.GetOffset(), req.GetByteSize()); err != nil {
		return nil, apierr.GRPCStatus(err)
	}
	return &kpb.SystemSharedMemoryRegisterResponse{}, nil
}

// SystemSharedMemoryUnregister drops one region or all.
func (s *Service) SystemSharedMemoryUnregister(_ context.Context, req *kpb.SystemSharedMemoryUnregisterRequest) (*kpb.SystemSharedMemoryUnregisterResponse, error) {
	if s.shm == nil {
		return nil, status.Error(codes.Unimplemented, "method SystemSharedMemoryUnregister not implemented")
	}
	if err := s.shm.Unregister(req.GetName()); err != nil {
		return nil, apierr.GRPCStatus(err)
	}
	return &kpb.SystemSharedMemoryUnregisterResponse{}, nil
}

// SystemSharedMemoryStatus lists one region or all.
func (s *Service) SystemSharedMemoryStatus(_ context.Context, req *kpb.SystemSharedMemoryStatusRequest) (*kpb.SystemSharedMemoryStatusResponse, error) {
	if s.shm == nil {
		return nil, status.Error(codes.Unimplemented, "method SystemSharedMemoryStatus not implemented")
	}
	regions, err := s.shm.Status(req.GetName())
	if err != nil {
		return nil, apierr.GRPCStatus(err)
	}
	resp := &kpb.SystemSharedMemoryStatusResponse{Regions: map[string]*kpb.SystemSharedMemoryStatusResponse_RegionStatus{}}
	for _, r := range regions {
		resp.Regions[r.Name] = &kpb.SystemSharedMemoryStatusResponse_RegionStatus{Name: r.Name, Key: r.Key, Offset: r.Offset, ByteSize: r.Size}
	}
	return resp, nil
}

// RepositoryIndex lists the models and versions (Triton's model
// repository extension).
func (s *Service) RepositoryIndex(_ context.Context, req *kpb.RepositoryIndexRequest) (*kpb.RepositoryIndexResponse, error) {
	out := &kpb.RepositoryIndexResponse{}
	for _, e := range s.models.Index(req.GetReady()) {
		out.Models = append(out.Models, &kpb.RepositoryIndexResponse_ModelIndex{Name: e.Name, Version: e.Version, State: e.State, Reason: e.Reason})
	}
	return out, nil
}

// RepositoryModelLoad loads (or reloads) a configured model.
func (s *Service) RepositoryModelLoad(ctx context.Context, req *kpb.RepositoryModelLoadRequest) (*kpb.RepositoryModelLoadResponse, error) {
	if err := s.models.LoadModel(ctx, req.GetModelName()); err != nil {
		return nil, apierr.GRPCStatus(err)
	}
	return &kpb.RepositoryModelLoadResponse{}, nil
}

// RepositoryModelUnload unloads every version of a model.
func (s *Service) RepositoryModelUnload(ctx context.Context, req *kpb.RepositoryModelUnloadRequest) (*kpb.RepositoryModelUnloadResponse, error) {
	if err := s.models.UnloadModel(ctx, req.GetModelName()); err != nil {
		return nil, apierr.GRPCStatus(err)
	}
	return &kpb.RepositoryModelUnloadResponse{}, nil
}
