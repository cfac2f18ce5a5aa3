package bench

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	grpcapi "github.com/ovmsgo/ovms/core/api/grpc"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// maxMessage is the largest gRPC message sent or accepted (as ovms).
const maxMessage = 1 << 30

// rawMessage is a request marshalled once and sent as is.
type rawMessage struct{ b []byte }

// rawReply is a response that is received but not decoded.
type rawReply struct{ n int }

// rawCodec sends rawMessage bytes without copying them and receives
// rawReply without decoding; other messages go through protobuf (probes,
// metadata). It keeps the client's work per request to the transport.
type rawCodec struct{}

// Marshal returns a rawMessage's bytes as they are, or a message marshalled.
func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	switch m := v.(type) {
	case *rawMessage:
		if len(m.b) == 0 {
			return mem.BufferSlice{}, nil
		}
		return mem.BufferSlice{mem.SliceBuffer(m.b)}, nil
	case proto.Message:
		b, err := proto.Marshal(m)
		return mem.BufferSlice{mem.SliceBuffer(b)}, err
	}
	return nil, fmt.Errorf("raw codec: cannot marshal %T", v)
}

// Unmarshal records a rawReply's size, or decodes a message.
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *rawReply:
		m.n = data.Len()
		return nil
	case proto.Message:
		return proto.Unmarshal(data.Materialize(), m)
	}
	return fmt.Errorf("raw codec: cannot unmarshal into %T", v)
}

// Name is "proto": on the wire this is the ordinary protobuf codec.
func (rawCodec) Name() string { return "proto" }

var rawCall = []grpc.CallOption{grpc.ForceCodecV2(rawCodec{})}

// InvokeEncoded sends req, a request already marshalled, as the unary
// method on conn and decodes the answer into resp: for clients that
// marshal (part of) their requests themselves (the bench suite's stateful
// steps).
func InvokeEncoded(ctx context.Context, conn *grpc.ClientConn, method string, req []byte, resp proto.Message) error {
	return conn.Invoke(ctx, method, &rawMessage{req}, resp, rawCall...)
}

// DialGRPC opens a client connection (lazily connected) to addr as ovms
// bench's workers do, for clients that send requests of their own (the
// bench suite's). Its
// flow-control windows are fixed at the server's sizes (grpcapi), so that
// the client sends no bandwidth-delay probe (a WINDOW_UPDATE and a PING)
// after a response and the server has no PING to answer: work per request
// that belongs to neither the server nor the protocol's payload.
func DialGRPC(addr string) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStaticStreamWindowSize(grpcapi.FlowStreamWindowBytes), grpc.WithStaticConnWindowSize(grpcapi.FlowConnWindowBytes),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)))
	if err != nil {
		return nil, fmt.Errorf("grpc connection to %s: %w", addr, err)
	}
	return conn, nil
}

// grpcDoer sends one pre-marshalled request per Do.
type grpcDoer struct {
	conn   *grpc.ClientConn
	method string
	req    *rawMessage
}

// Do sends the request and waits for the (undecoded) response.
func (d *grpcDoer) Do(ctx context.Context) error {
	var r rawReply
	return d.conn.Invoke(ctx, d.method, d.req, &r, rawCall...)
}

// kserveRequest builds a ModelInferRequest: raw_input_contents, or with a
// plan shared-memory parameters on inputs and requested outputs.
func kserveRequest(model string, version int64, inputs []*inputTensor, plan *shmPlan) *kpb.ModelInferRequest {
	req := &kpb.ModelInferRequest{ModelName: model}
	if version > 0 {
		req.ModelVersion = strconv.FormatInt(version, 10)
	}
	for i, t := range inputs {
		in := &kpb.ModelInferRequest_InferInputTensor{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape}
		if plan != nil {
			in.Parameters = shmParams(plan.in[i])
		} else {
			req.RawInputContents = append(req.RawInputContents, t.kserveRaw())
		}
		req.Inputs = append(req.Inputs, in)
	}
	if plan != nil {
		for _, ref := range plan.out {
			req.Outputs = append(req.Outputs, &kpb.ModelInferRequest_InferRequestedOutputTensor{Name: ref.name, Parameters: shmParams(ref)})
		}
	}
	return req
}

// shmParams are the KServe tensor parameters naming a shared-memory place.
func shmParams(ref shmRef) map[string]*kpb.InferParameter {
	return map[string]*kpb.InferParameter{
		"shared_memory_region":    {ParameterChoice: &kpb.InferParameter_StringParam{StringParam: ref.region}},
		"shared_memory_offset":    {ParameterChoice: &kpb.InferParameter_Int64Param{Int64Param: ref.offset}},
		"shared_memory_byte_size": {ParameterChoice: &kpb.InferParameter_Int64Param{Int64Param: ref.size}},
	}
}

// tfsRequest builds a PredictRequest: tensor_content, or string_val for
// BYTES inputs.
func tfsRequest(model string, version int64, inputs []*inputTensor) *tfspb.PredictRequest {
	req := &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: model}, Inputs: map[string]*fw.TensorProto{}}
	if version > 0 {
		req.ModelSpec.VersionChoice = &tfspb.ModelSpec_Version{Version: wrapperspb.Int64(version)}
	}
	for _, t := range inputs {
		tp := &fw.TensorProto{Dtype: t.dt.tfs, TensorShape: &fw.TensorShapeProto{}}
		for _, d := range t.Shape {
			tp.TensorShape.Dim = append(tp.TensorShape.Dim, &fw.TensorShapeProto_Dim{Size: d})
		}
		if t.dt.name == "BYTES" {
			tp.StringVal = t.strs
		} else {
			tp.TensorContent = t.raw
		}
		req.Inputs[t.Name] = tp
	}
	return req
}

// marshal serializes a request once, deterministically.
func marshal(m proto.Message) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("marshal request: %w", err)
	}
	return b, nil
}

// kserveGRPCMetadata reads a model's inputs and outputs with ModelMetadata.
func kserveGRPCMetadata(ctx context.Context, conn *grpc.ClientConn, model string, version int64) (in, out []TensorInfo, err error) {
	req := &kpb.ModelMetadataRequest{Name: model}
	if version > 0 {
		req.Version = strconv.FormatInt(version, 10)
	}
	md, err := kpb.NewGRPCInferenceServiceClient(conn).ModelMetadata(ctx, req)
	if err != nil {
		return nil, nil, fmt.Errorf("model metadata: %w", err)
	}
	conv := func(ts []*kpb.ModelMetadataResponse_TensorMetadata) []TensorInfo {
		var out []TensorInfo
		for _, t := range ts {
			out = append(out, TensorInfo{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape})
		}
		return out
	}
	return conv(md.Inputs), conv(md.Outputs), nil
}

// tfsGRPCMetadata reads the serving_default signature with GetModelMetadata.
func tfsGRPCMetadata(ctx context.Context, conn *grpc.ClientConn, model string, version int64) (in, out []TensorInfo, err error) {
	req := &tfspb.GetModelMetadataRequest{ModelSpec: &tfspb.ModelSpec{Name: model}, MetadataField: []string{"signature_def"}}
	if version > 0 {
		req.ModelSpec.VersionChoice = &tfspb.ModelSpec_Version{Version: wrapperspb.Int64(version)}
	}
	md, err := tfspb.NewPredictionServiceClient(conn).GetModelMetadata(ctx, req)
	if err != nil {
		return nil, nil, fmt.Errorf("model metadata: %w", err)
	}
	var sigs tfspb.SignatureDefMap
	if a := md.Metadata["signature_def"]; a == nil {
		return nil, nil, fmt.Errorf("model metadata has no signature_def")
	} else if err := a.UnmarshalTo(&sigs); err != nil {
		return nil, nil, fmt.Errorf("model metadata: %w", err)
	}
	sig := sigs.SignatureDef["serving_default"]
	if sig == nil {
		return nil, nil, fmt.Errorf("model metadata has no serving_default signature")
	}
	conv := func(m map[string]*fw.TensorInfo) ([]TensorInfo, error) {
		var out []TensorInfo
		for alias, t := range m {
			dt, err := fromTFS(t.Dtype)
			if err != nil {
				return nil, fmt.Errorf("tensor %s: %w", alias, err)
			}
			ti := TensorInfo{Name: alias, Datatype: dt.name, Shape: []int64{}}
			for _, d := range t.GetTensorShape().GetDim() {
				ti.Shape = append(ti.Shape, d.Size)
			}
			out = append(out, ti)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out, nil
	}
	if in, err = conv(sig.Inputs); err != nil {
		return nil, nil, err
	}
	out, err = conv(sig.Outputs)
	return in, out, err
}

// grpcShm registers regions over the KServe gRPC extension.
type grpcShm struct {
	c kpb.GRPCInferenceServiceClient
}

func (g grpcShm) register(r *shmRegion) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := g.c.SystemSharedMemoryRegister(ctx, &kpb.SystemSharedMemoryRegisterRequest{
		Name: r.name, Key: r.key, Offset: 0, ByteSize: uint64(len(r.mem))})
	if status.Code(err) == codes.Unimplemented {
		return fmt.Errorf("register shared memory region %s: %w: %w", r.name, errShmOff, err)
	}
	if err != nil {
		return fmt.Errorf("register shared memory region %s: %w", r.name, err)
	}
	st, err := g.c.SystemSharedMemoryStatus(ctx, &kpb.SystemSharedMemoryStatusRequest{Name: r.name})
	if err != nil {
		return fmt.Errorf("shared memory status of %s: %w", r.name, err)
	}
	if got := st.Regions[r.name]; got == nil || got.Key != r.key || got.ByteSize != uint64(len(r.mem)) {
		return fmt.Errorf("shared memory status of %s: the server reports %v", r.name, got)
	}
	return nil
}

func (g grpcShm) unregister(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := g.c.SystemSharedMemoryUnregister(ctx, &kpb.SystemSharedMemoryUnregisterRequest{Name: name}); err != nil {
		return fmt.Errorf("unregister shared memory region %s: %w", name, err)
	}
	return nil
}
