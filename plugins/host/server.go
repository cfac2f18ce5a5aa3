package host

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

	"github.com/ovmsgo/ovms/internal/lowprio"
	"github.com/ovmsgo/ovms/plugins/shm"
	devicev1 "github.com/ovmsgo/ovms/proto/ovms/plugin/device/v1"
)

// server serves a Device over gRPC in the plugin process and keeps the
// output leases: lease id -> plugin-zone offsets to free on Release.
type server struct {
	devicev1.UnimplementedDeviceServer
	impl    Device
	arena   *shm.Arena
	regions *shm.RegionTable
	log     *logrus.Entry
	next    atomic.Uint64
	leases  sync.Map     // uint64 -> *lease
	running atomic.Int64 // channel requests being answered
	// runAvg is a moving average of how long channel requests take to
	// answer (ns; 0 before the first): the receiver polls through runs
	// expected to be short (see serveChannel).
	runAvg atomic.Int64
	// served counts the requests run (Infer); loadSeen is its value at the
	// start of the last Load. A load while requests are being served runs
	// at a lower CPU priority (see Load).
	served   atomic.Uint64
	loadSeen atomic.Uint64
}

func newServer(impl Device, arena *shm.Arena, regions *shm.RegionTable, log *logrus.Entry) *server {
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = logrus.NewEntry(l)
	}
	return &server{impl: impl, arena: arena, regions: regions, log: log}
}

func (s *server) Info(ctx context.Context, _ *devicev1.InfoRequest) (*devicev1.InfoResponse, error) {
	info, err := s.impl.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &devicev1.InfoResponse{Name: info.Name, Version: info.Version, Engine: info.Engine, Devices: info.Devices,
		Unavailable: info.Unavailable, UnavailableReason: info.Reason}, nil
}

func (s *server) Load(ctx context.Context, req *devicev1.LoadRequest) (*devicev1.LoadResponse, error) {
	lreq := &LoadRequest{
		Model:        keyFromProto(req.GetModel()),
		Path:         req.GetPath(),
		ModelBytes:   req.GetModelBytes(),
		ModelFiles:   filesFromProto(req.GetModelFiles()),
		PluginConfig: req.GetPluginConfig(),
		TargetDevice: req.GetTargetDevice(),
		Nireq:        req.GetNireq(),
		Shapes:       shapesFromProto(req.GetShapes()),
		BatchSize:    req.GetBatchSize(),
		Layouts:      req.GetLayouts(),
		Stateful:     statefulFromProto(req.GetStateful()),
	}
	if k := req.GetTakeSequencesFrom(); k != nil {
		key := keyFromProto(k)
		lreq.TakeSequencesFrom = &key
	}
	if s.serving() {
		// The engine's session creation (tens of milliseconds to seconds
		// of one thread's work) gives way to the requests being served:
		// the device runs it through lowprio.Do.
		ctx = lowprio.Background(ctx)
	}
	mi, err := s.impl.Load(ctx, lreq)
	if err != nil {
		return nil, toStatus(err)
	}
	return &devicev1.LoadResponse{Inputs: infosToProto(mi.Inputs), Outputs: infosToProto(mi.Outputs), Warnings: mi.Warnings,
		EmptyUnsafeOps: mi.EmptyUnsafe, RtInfoJson: string(mi.RTInfo)}, nil
}

// serving reports whether requests are running or ran since the previous
// load began: a load then is background work (internal/lowprio), whose
// session creation the device runs at a lower CPU priority than the
// requests. The loads of a start, before any request, and those
// of an idle plugin keep the normal priority: nothing to give way to, and
// the time to serve stays what it was.
func (s *server) serving() bool {
	n := s.served.Load()
	return s.loadSeen.Swap(n) != n || s.running.Load() > 0
}

func (s *server) Unload(ctx context.Context, req *devicev1.UnloadRequest) (*devicev1.UnloadResponse, error) {
	if err := s.impl.Unload(ctx, keyFromProto(req.GetModel())); err != nil {
		return nil, toStatus(err)
	}
	return &devicev1.UnloadResponse{}, nil
}

func (s *server) Infer(ctx context.Context, req *devicev1.InferRequest) (*devicev1.InferResponse, error) {
	s.served.Add(1)
	inputs := refsFromProto(req.GetInputs())
	placements := refsFromProto(req.GetPlacements())
	if s.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		s.logRequest(req, inputs)
	}
	for _, in := range inputs {
		// An input may also lie in one of this plugin's leased outputs,
		// which the host passes on to the next model (a pipeline) without
		// a copy.
		if in.Region == 0 && s.arena.PluginZone().Contains(in.Offset, in.Length) && s.inLease(in) {
			continue
		}
		if err := s.checkRef(in, "input"); err != nil {
			return nil, err
		}
	}
	for _, p := range placements {
		if p.Region == 0 {
			return nil, status.Errorf(codes.InvalidArgument, "output %q: placements must be in a client region", p.Name)
		}
		if err := s.checkRef(p, "output"); err != nil {
			return nil, err
		}
	}
	resp, err := s.impl.Infer(ctx, &InferRequest{Model: keyFromProto(req.GetModel()), Inputs: inputs, Outputs: req.GetOutputs(), Placements: placements,
		SequenceID: req.GetSequenceId(), SequenceControl: req.GetSequenceControl()})
	if err != nil {
		return nil, toStatus(err)
	}
	offs := make([]uint64, 0, len(resp.Outputs))
	var leased []TensorRef
	for _, out := range resp.Outputs {
		switch {
		case out.Region != 0 && placedWithin(out, placements):
			continue // the host's memory: not leased
		case out.Region == 0 && s.arena.PluginZone().Contains(out.Offset, out.Length):
			offs = append(offs, out.Offset)
			leased = append(leased, out)
		default:
			s.free(offs)
			return nil, status.Errorf(codes.Internal, "device returned output %q outside the plugin zone and its placement", out.Name)
		}
	}
	if ctx.Err() != nil { // the host gave up: nobody will release the lease
		s.free(offs)
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	lease := s.next.Add(1)
	s.leases.Store(lease, &leaseEntry{offs: offs, outputs: leased})
	return &devicev1.InferResponse{Outputs: refsToProto(resp.Outputs), Lease: lease, SequenceId: resp.SequenceID,
		EngineStartUnixNano: resp.EngineStart, EngineEndUnixNano: resp.EngineEnd}, nil
}

// leaseEntry is one answer's outputs leased to the host.
type leaseEntry struct {
	offs    []uint64    // plugin-zone buffers to free on Release
	outputs []TensorRef // the outputs in them
}

// inLease reports whether ref lies within an output leased to the host
// now.
func (s *server) inLease(ref TensorRef) bool {
	found := false
	s.leases.Range(func(_, v any) bool {
		for _, o := range v.(*leaseEntry).outputs {
			if ref.Offset >= o.Offset && ref.Length <= o.Length && ref.Offset-o.Offset <= o.Length-ref.Length {
				found = true
				return false
			}
		}
		return true
	})
	return found
}

// checkRef checks that a tensor from the host lies in the host zone or in
// a mapped client region.
func (s *server) checkRef(ref TensorRef, what string) error {
	if ref.Region == 0 {
		if !s.arena.HostZone().Contains(ref.Offset, ref.Length) {
			return status.Errorf(codes.InvalidArgument, "%s %q: range [%d, +%d) is outside the host zone", what, ref.Name, ref.Offset, ref.Length)
		}
		return nil
	}
	if s.regions == nil {
		return status.Errorf(codes.InvalidArgument, "%s %q: client regions are not supported", what, ref.Name)
	}
	if err := s.regions.InBounds(ref.Region, ref.Offset, ref.Length); err != nil {
		return status.Errorf(codes.InvalidArgument, "%s %q: %v", what, ref.Name, err)
	}
	return nil
}

// placedWithin reports whether an output lies inside its placement.
func placedWithin(out TensorRef, placements []TensorRef) bool {
	for _, p := range placements {
		if p.Name == out.Name && p.Region == out.Region && out.Offset >= p.Offset &&
			out.Length <= p.Length && out.Offset-p.Offset <= p.Length-out.Length {
			return true
		}
	}
	return false
}

func (s *server) MapRegion(_ context.Context, req *devicev1.MapRegionRequest) (*devicev1.MapRegionResponse, error) {
	if s.regions == nil {
		return nil, status.Error(codes.Unimplemented, "client shared-memory regions are not supported by this plugin")
	}
	if err := s.regions.Map(shm.RegionSpec{ID: req.GetRegion(), Name: req.GetName(), Path: req.GetPath(),
		Offset: req.GetOffset(), Size: req.GetSize(), Dev: req.GetDev(), Ino: req.GetIno()}); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &devicev1.MapRegionResponse{}, nil
}

func (s *server) UnmapRegion(_ context.Context, req *devicev1.UnmapRegionRequest) (*devicev1.UnmapRegionResponse, error) {
	if s.regions != nil {
		s.regions.Unmap(req.GetRegion())
	}
	return &devicev1.UnmapRegionResponse{}, nil
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
		s.free(v.(*leaseEntry).offs)
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
		where := "arena"
		if in.Region != 0 {
			where = fmt.Sprintf("region%d", in.Region)
		}
		descs[i] = fmt.Sprintf("%s:%s[%d,+%d]%v", in.Name, where, in.Offset, in.Length, in.Shape)
	}
	s.log.WithFields(logrus.Fields{
		"model":         req.GetModel().GetName(),
		"version":       req.GetModel().GetVersion(),
		"control_bytes": proto.Size(req),
		"inputs":        strings.Join(descs, " "),
	}).Debug("infer request")
}
