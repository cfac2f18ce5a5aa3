// Package tfs serves the TensorFlow Serving gRPC API (PredictionService and
// ModelService) the way OVMS does, on top of the model manager.
package tfs

import (
	"context"
	"sort"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/ovmsgo/ovms/core/api/grpc/rawcodec"
	"github.com/ovmsgo/ovms/core/api/grpc/rpcctx"
	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/metrics"
	"github.com/ovmsgo/ovms/core/modelmanager"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/core/tracing"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tferr "github.com/ovmsgo/ovms/proto/tensorflow/core/protobuf"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// Service implements tensorflow.serving.PredictionService and ModelService.
type Service struct {
	tfspb.UnimplementedPredictionServiceServer
	tfspb.UnimplementedModelServiceServer
	models *modelmanager.Manager
	// maxRequestBytes bounds the memory decoding one request may take
	// beyond its message (single-value broadcasts); 0: no bound.
	maxRequestBytes int64
}

// Register adds both TFS services to s; maxRequestBytes is the request
// memory budget (--max_request_memory_mb; 0: no bound).
func Register(s *grpc.Server, models *modelmanager.Manager, maxRequestBytes int64) {
	svc := &Service{models: models, maxRequestBytes: maxRequestBytes}
	tfspb.RegisterPredictionServiceServer(s, svc)
	tfspb.RegisterModelServiceServer(s, svc)
}

// Predict runs inference; outputs go back as tensor_content aliasing the
// plugin's arena until the response has been written.
func (s *Service) Predict(ctx context.Context, req *tfspb.PredictRequest) (_ *tfspb.PredictResponse, err error) {
	start := metrics.Now()
	ctx, sp := tracing.StartGRPC(ctx, "tensorflow.serving.PredictionService", "Predict", tracing.TFS)
	defer func() { sp.EndGRPC(err) }()
	// The tensor_content of a large request stays in the received buffers
	// (rawcodec): they go back to gRPC when the handler returns, on every
	// path; the inputs are in the arena by then.
	var content map[string][][]byte
	if raw := rawcodec.TakePredict(req); raw != nil {
		defer raw.Free()
		content = raw.Content
	}
	spec := req.GetModelSpec()
	sp.Model(spec.GetName(), spec.GetVersion().GetValue())
	v, err := s.models.Acquire(ctx, spec.GetName(), spec.GetVersion().GetValue())
	if err != nil {
		return nil, apierr.GRPCStatus(err)
	}
	defer v.Release()
	sp.Version(v.Number)
	met, ok := v.Metrics(), false
	met.Begin()
	defer func() { met.End(metrics.TFSGRPCPredict, start, ok) }()
	treq := &tensor.Request{API: tensor.TFS, Outputs: req.GetOutputFilter()}
	names := make([]string, 0, len(req.GetInputs()))
	for name := range req.GetInputs() {
		names = append(names, name)
	}
	sort.Strings(names)
	budget := tensor.NewBudget(s.maxRequestBytes)
	for _, name := range names {
		in, err := decodeInput(name, req.GetInputs()[name], content[name], budget)
		if err != nil {
			return nil, apierr.GRPCStatus(tensor.NameModel(err, v.Model, v.Number))
		}
		treq.Inputs = append(treq.Inputs, in)
	}
	resp, err := v.Infer(ctx, treq)
	if err != nil {
		return nil, apierr.GRPCStatus(err)
	}
	out := &tfspb.PredictResponse{Outputs: make(map[string]*fw.TensorProto, len(resp.Outputs))}
	for i := range resp.Outputs {
		tp, err := encodeOutput(&resp.Outputs[i])
		if err != nil {
			resp.Release()
			return nil, apierr.GRPCStatus(apierr.Wrap(apierr.InternalError, err, "%v", err))
		}
		out.Outputs[resp.Outputs[i].Name] = tp
	}
	// Large outputs are sent from the arena itself (rawcodec.LendPredict):
	// the release waits for the transport to have written them.
	finish := rawcodec.LendPredict(ctx, out, resp.Release)
	if !rpcctx.OnFinish(ctx, finish) {
		detach(out)
		finish()
	}
	ok = true
	return out, nil
}

// detach copies aliased output bytes to the Go heap (only for callers that
// bypass the server, such as tests calling the service directly).
func detach(r *tfspb.PredictResponse) {
	for _, tp := range r.Outputs {
		tp.TensorContent = append([]byte(nil), tp.TensorContent...)
		for i, s := range tp.StringVal {
			tp.StringVal[i] = append([]byte(nil), s...)
		}
	}
}

// GetModelMetadata returns the serving_default signature of a version.
func (s *Service) GetModelMetadata(_ context.Context, req *tfspb.GetModelMetadataRequest) (*tfspb.GetModelMetadataResponse, error) {
	if req.GetModelSpec() == nil {
		return nil, apierr.GRPCStatus(apierr.New(apierr.ModelSpecMissing))
	}
	if f := req.GetMetadataField(); len(f) != 1 || f[0] != "signature_def" {
		return nil, apierr.GRPCStatus(apierr.New(apierr.InvalidSignatureDef))
	}
	spec := req.GetModelSpec()
	v, err := s.models.Available(spec.GetName(), spec.GetVersion().GetValue())
	if err != nil {
		return nil, apierr.GRPCStatus(err)
	}
	resp, err := Metadata(v)
	v.Metrics().Count(metrics.TFSGRPCGetModelMetadata, err == nil)
	if err != nil {
		return nil, apierr.GRPCStatus(err)
	}
	return resp, nil
}

// Metadata builds the GetModelMetadata response of a version (also used by
// the REST API).
func Metadata(v *modelmanager.Version) (*tfspb.GetModelMetadataResponse, error) {
	info := v.Info()
	sig := &fw.SignatureDef{Inputs: map[string]*fw.TensorInfo{}, Outputs: map[string]*fw.TensorInfo{}}
	for _, t := range info.Inputs {
		sig.Inputs[t.Name] = tensorInfo(t.Name, t.DType, t.Shape)
	}
	for _, t := range info.Outputs {
		sig.Outputs[t.Name] = tensorInfo(t.Name, t.DType, t.Shape)
	}
	anyMap, err := anypb.New(&tfspb.SignatureDefMap{SignatureDef: map[string]*fw.SignatureDef{"serving_default": sig}})
	if err != nil {
		return nil, apierr.Wrap(apierr.InternalError, err, "%v", err)
	}
	return &tfspb.GetModelMetadataResponse{
		ModelSpec: &tfspb.ModelSpec{Name: v.Model, VersionChoice: &tfspb.ModelSpec_Version{Version: wrapperspb.Int64(v.Number)}},
		Metadata:  map[string]*anypb.Any{"signature_def": anyMap},
	}, nil
}

func tensorInfo(name string, dt tensor.DataType, shape []int64) *fw.TensorInfo {
	return &fw.TensorInfo{
		Encoding:    &fw.TensorInfo_Name{Name: name},
		Dtype:       fw.DataType(tensor.TFSType(dt)),
		TensorShape: shapeProto(shape),
	}
}

// GetModelStatus reports one version, or all versions of a model.
func (s *Service) GetModelStatus(_ context.Context, req *tfspb.GetModelStatusRequest) (*tfspb.GetModelStatusResponse, error) {
	spec := req.GetModelSpec()
	resp, err := Status(s.models, spec.GetName(), spec.GetVersion().GetValue())
	if err != nil {
		return nil, apierr.GRPCStatus(err)
	}
	return resp, nil
}

// Status builds a GetModelStatus response (also used by the REST API).
func Status(models *modelmanager.Manager, name string, version int64) (*tfspb.GetModelStatusResponse, error) {
	mod, err := models.Model(name)
	if err != nil {
		return nil, err
	}
	vs := mod.Versions()
	if version != 0 {
		v := mod.Version(version)
		if v == nil {
			return nil, apierr.New(apierr.ModelVersionMissing)
		}
		vs = []*modelmanager.Version{v}
	}
	resp := &tfspb.GetModelStatusResponse{ModelVersionStatus: []*tfspb.ModelVersionStatus{}}
	for _, v := range vs {
		state, code := v.Status()
		resp.ModelVersionStatus = append(resp.ModelVersionStatus, &tfspb.ModelVersionStatus{
			Version: v.Number,
			State:   tfspb.ModelVersionStatus_State(state),
			Status:  &tfspb.StatusProto{ErrorCode: tferr.Code(code), ErrorMessage: code.String()},
		})
	}
	return resp, nil
}

// HandleReloadConfigRequest answers OK and changes nothing, as OVMS does.
func (s *Service) HandleReloadConfigRequest(context.Context, *tfspb.ReloadConfigRequest) (*tfspb.ReloadConfigResponse, error) {
	return &tfspb.ReloadConfigResponse{}, nil
}
