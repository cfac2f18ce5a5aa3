package host

import (
	"context"

	"github.com/ovmsgo/ovms/plugins/shm"
	devicev1 "github.com/ovmsgo/ovms/proto/ovms/plugin/device/v1"
)

// Client is the host's view of a device plugin: the Device methods over
// gRPC plus Release for output leases. Errors are gRPC status errors.
type Client struct {
	rpc devicev1.DeviceClient
	dp  *dataPlane // set by AttachChannel
}

var _ Device = (*Client)(nil)

// NewClient wraps a gRPC device client.
func NewClient(rpc devicev1.DeviceClient) *Client { return &Client{rpc: rpc} }

// Info describes the plugin.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	r, err := c.rpc.Info(ctx, &devicev1.InfoRequest{})
	if err != nil {
		return nil, err
	}
	return &Info{Name: r.GetName(), Version: r.GetVersion(), Engine: r.GetEngine(), Devices: r.GetDevices(),
		Unavailable: r.GetUnavailable(), Reason: r.GetUnavailableReason()}, nil
}

// Load loads one model version in the plugin.
func (c *Client) Load(ctx context.Context, req *LoadRequest) (*ModelInfo, error) {
	preq := &devicev1.LoadRequest{
		Model:        keyToProto(req.Model),
		Path:         req.Path,
		ModelBytes:   req.ModelBytes,
		ModelFiles:   filesToProto(req.ModelFiles),
		PluginConfig: req.PluginConfig,
		TargetDevice: req.TargetDevice,
		Nireq:        req.Nireq,
		Shapes:       shapesToProto(req.Shapes),
		BatchSize:    req.BatchSize,
		Layouts:      req.Layouts,
		Stateful:     statefulToProto(req.Stateful),
	}
	if req.TakeSequencesFrom != nil {
		preq.TakeSequencesFrom = keyToProto(*req.TakeSequencesFrom)
	}
	r, err := c.rpc.Load(ctx, preq)
	if err != nil {
		return nil, err
	}
	return &ModelInfo{Inputs: infosFromProto(r.GetInputs()), Outputs: infosFromProto(r.GetOutputs()), Warnings: r.GetWarnings(),
		EmptyUnsafe: r.GetEmptyUnsafeOps(), RTInfo: rtInfo(r.GetRtInfoJson())}, nil
}

// Unload drops one model version in the plugin.
func (c *Client) Unload(ctx context.Context, key ModelKey) error {
	_, err := c.rpc.Unload(ctx, &devicev1.UnloadRequest{Model: keyToProto(key)})
	return err
}

// Infer runs one request, over the shared-memory channel when one is
// attached (the context then does not cancel the plugin's work), else as a
// gRPC call. On success the caller owns the output buffers until it calls
// Release with the response's Lease.
func (c *Client) Infer(ctx context.Context, req *InferRequest) (*InferResponse, error) {
	preq := &devicev1.InferRequest{Model: keyToProto(req.Model), Inputs: refsToProto(req.Inputs), Outputs: req.Outputs,
		SequenceId: req.SequenceID, SequenceControl: req.SequenceControl}
	if len(req.Placements) > 0 {
		preq.Placements = refsToProto(req.Placements)
	}
	var r *devicev1.InferResponse
	var err error
	if c.dp != nil {
		r, err = c.dp.infer(preq)
	} else {
		r, err = c.rpc.Infer(ctx, preq)
	}
	if err != nil {
		return nil, err
	}
	return &InferResponse{Outputs: refsFromProto(r.GetOutputs()), Lease: r.GetLease(), SequenceID: r.GetSequenceId(),
		EngineStart: r.GetEngineStartUnixNano(), EngineEnd: r.GetEngineEndUnixNano()}, nil
}

// Release hands output buffers back to the plugin.
func (c *Client) Release(ctx context.Context, leases ...uint64) error {
	if c.dp != nil {
		return c.dp.release(leases)
	}
	_, err := c.rpc.Release(ctx, &devicev1.ReleaseRequest{Leases: leases})
	return err
}

// MapRegion asks the plugin to map a client shared-memory region.
func (c *Client) MapRegion(ctx context.Context, s shm.RegionSpec) error {
	_, err := c.rpc.MapRegion(ctx, &devicev1.MapRegionRequest{Region: s.ID, Name: s.Name, Path: s.Path,
		Offset: s.Offset, Size: s.Size, Dev: s.Dev, Ino: s.Ino})
	return err
}

// UnmapRegion asks the plugin to drop a region mapping.
func (c *Client) UnmapRegion(ctx context.Context, id uint32) error {
	_, err := c.rpc.UnmapRegion(ctx, &devicev1.UnmapRegionRequest{Region: id})
	return err
}

func shapesToProto(m map[string][]int64) map[string]*devicev1.Dims {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]*devicev1.Dims, len(m))
	for k, v := range m {
		out[k] = &devicev1.Dims{Dims: v}
	}
	return out
}

func shapesFromProto(m map[string]*devicev1.Dims) map[string][]int64 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string][]int64, len(m))
	for k, v := range m {
		out[k] = v.GetDims()
	}
	return out
}
