package device

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/ovmsgo/ovms/plugins/shm"
	devicev1 "github.com/ovmsgo/ovms/proto/ovms/plugin/device/v1"
)

// server serves a Device over gRPC in the plugin process and keeps the
// output leases: lease id -> plugin-zone offsets to free on Release.
type server struct {
	devicev1.UnimplementedDeviceServer
	impl    Device
	arena   *shm.Arena
	log     *logrus.Entry
	next    atomic.Uint64
	leases  sync.Map     // uint64 -> []uint64
	running atomic.Int64 // channel requests being answered
}

func newServer(impl Device, arena *shm.Arena, log *logrus.Entry) *server {
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = logrus.NewEntry(l)
	}
	return &server{impl: impl, arena: arena, log: log}
}

func (s *server) Info(ctx context.Context, _ *devicev1.InfoRequest) (*devicev1.InfoResponse, error) {
	info, err := s.impl.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &devicev1.InfoResponse{Name: info.Name, Version: info.Version, Engine: info.Engine, Devices: info.Devices}, nil
}

func (s *server) Load(ctx context.Context, req *devicev1.LoadRequest) (*devicev1.LoadResponse, error) {
	mi, err := s.impl.Load(ctx, &LoadRequest{
		Model:        keyFromProto(req.GetModel()),
		Path:         req.GetPath(),
		ModelBytes:   req.GetModelBytes(),
		PluginConfig: req.GetPluginConfig(),
		TargetDevice: req.GetTargetDevice(),
		Nireq:        req.GetNireq(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &devicev1.LoadResponse{Inputs: infosToProto(mi.Inputs), Outputs: infosToProto(mi.Outputs)}, nil
}

func (s *server) Unload(ctx context.Context, req *devicev1.UnloadRequest) (*devicev1.UnloadResponse, error) {
	if err := s.impl.Unload(ctx, keyFromProto(req.GetModel())); err != nil {
		return nil, toStatus(err)
	}
	return &devicev1.UnloadResponse{}, nil
}

func (s *server) Infer(ctx context.Context, req *devicev1.InferRequest) (*devicev1.InferResponse, error) {
	inputs := refsFromProto(req.GetInputs())
	if s.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		s.logRequest(req, inputs)
	}
	for _, in := range inputs {
		if !s.arena.HostZone().Contains(in.Offset, in.Length) {
			return nil, status.Errorf(codes.InvalidArgument, "input %q: range [%d, +%d) is outside the host zone", in.Name, in.Offset, in.Length)
		}
	}
	resp, err := s.impl.Infer(ctx, &InferRequest{Model: keyFromProto(req.GetModel()), Inputs: inputs, Outputs: req.GetOutputs()})
	if err != nil {
		return nil, toStatus(err)
	}
	offs := make([]uint64, len(resp.Outputs))
	for i, out := range resp.Outputs {
		if !s.arena.PluginZone().Contains(out.Offset, out.Length) {
			s.free(offs[:i])
			return nil, status.Errorf(codes.Internal, "device returned output %q outside the plugin zone", out.Name)
		}
		offs[i] = out.Offset
	}
	if ctx.Err() != nil { // the host gave up: nobody will release the lease
		s.free(offs)
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	lease := s.next.Add(1)
	s.leases.Store(lease, offs)
	return &devicev1.InferResponse{Outputs: refsToProto(resp.Outputs), Lease: lease}, nil
}

func (s *server) Release(_ context.Context, req *devicev1.ReleaseRequest) (*devicev1.ReleaseResponse, error) {
	var unknown []uint64
	for _, l := range req.GetLeases() {
		if !s.release(l) {
			unknown = append(unknown, l)
		}
	}
	if len(unknown) > 0 {
		return nil, status.Errorf(codes.InvalidArgument, "unknown leases %v", unknown)
	}
	return &devicev1.ReleaseResponse{}, nil
}

// release frees the buffers of a lease; false if the lease is unknown.
func (s *server) release(lease uint64) bool {
	v, ok := s.leases.LoadAndDelete(lease)
	if ok {
		s.free(v.([]uint64))
	}
	return ok
}

func (s *server) free(offs []uint64) {
	for _, off := range offs {
		_ = s.arena.PluginZone().Free(off) // duplicates in one response are harmless
	}
}

// toStatus keeps gRPC status errors and turns any other error into Internal.
func toStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Internal, fmt.Sprint(err))
}

// logRequest records the size of the control message and where each input
// lies in the arena: proof that tensor bytes did not travel over gRPC.
func (s *server) logRequest(req *devicev1.InferRequest, inputs []TensorRef) {
	descs := make([]string, len(inputs))
	for i, in := range inputs {
		descs[i] = fmt.Sprintf("%s:arena[%d,+%d]", in.Name, in.Offset, in.Length)
	}
	s.log.WithFields(logrus.Fields{
		"model":         req.GetModel().GetName(),
		"version":       req.GetModel().GetVersion(),
		"control_bytes": proto.Size(req),
		"inputs":        strings.Join(descs, " "),
	}).Debug("infer request")
}
