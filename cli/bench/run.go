// Package bench is the load generator behind `ovms bench`, in the spirit of
// Triton's perf_analyzer: it shapes inputs from a model's metadata, builds
// one request once (pre-marshalled protobuf, JSON or binary body) and sends
// it over KServe gRPC, KServe REST (JSON or the binary tensor extension),
// TF Serving gRPC or TF Serving REST, optionally with the inputs and outputs
// in client-created POSIX shared memory (the KServe system shared-memory
// extension).
//
// # Load
//
// A concurrency level runs N workers in a closed loop (each sends its next
// request when the previous one is answered); a request rate runs an open
// loop where a dispatcher schedules sends at a constant or Poisson rate and
// a pool of workers sends them, latency being measured from the scheduled
// send time, so a server that falls behind shows it in the latency
// (no coordinated omission).
//
// # Measurement
//
// After a warm-up, samples are gathered in back-to-back windows. A level is
// stable once the last three windows agree: each one's throughput and p50
// latency lie within ±Stability percent of the three windows' mean. The
// level's figures are then computed over the samples of those three
// windows; after MaxTrials windows without agreement the level is reported
// from its last three windows and marked unstable. Percentiles use the
// nearest-rank method (see Percentile). Errors are counted, never fatal;
// the first error message of a level is kept. Only the first request (the
// probe, sent before measuring) must succeed.
//
// Run measures a server; Measure runs the same load and statistics on any
// Doer, which is how the benchmark suite measures the engine in-process.
package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/grpc"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// Run benchmarks the model cfg names on a server: it reads the model's
// metadata, builds the request once, sends it once as a probe (which must
// succeed), sets up shared memory when asked, and measures every level.
// Shared-memory regions are unregistered and removed before Run returns,
// also when ctx is cancelled; the levels finished by then are returned
// with ctx's error.
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	tg, err := Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	t := tg.t
	cfg = t.cfg
	defer func() { err = errors.Join(err, t.close()) }()
	rep, err = Measure(ctx, cfg, t.doer)
	if rep != nil {
		rep.Model, rep.Version, rep.Protocol, rep.URL, rep.SharedMemory = cfg.Model, cfg.Version, cfg.Protocol, cfg.URL, cfg.SharedMemory
		rep.RequestBytes = t.requestBytes
		for _, in := range t.inputs {
			rep.Inputs = append(rep.Inputs, in.TensorInfo)
		}
	}
	return rep, err
}

// target is a server and model with the request built and probed.
type target struct {
	cfg          Config
	conns        []*grpc.ClientConn
	http         *http.Client
	inputs       []*inputTensor
	outputs      []TensorInfo
	shm          *shmSession
	doers        []Doer
	requestBytes int
}

// outputSize is the size of one output in a probe's response.
type outputSize struct {
	name string
	size int64
}

func newTarget(ctx context.Context, cfg Config) (t *target, err error) {
	t = &target{cfg: cfg}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.close())
			t = nil
		}
	}()
	mctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var ins []TensorInfo
	switch cfg.Protocol {
	case KServeGRPC, TFSGRPC:
		for range cfg.GRPCConnections {
			conn, err := DialGRPC(cfg.URL)
			if err != nil {
				return t, err
			}
			t.conns = append(t.conns, conn)
		}
		if cfg.Protocol == KServeGRPC {
			ins, t.outputs, err = kserveGRPCMetadata(mctx, t.conns[0], cfg.Model, cfg.Version)
		} else {
			ins, t.outputs, err = tfsGRPCMetadata(mctx, t.conns[0], cfg.Model, cfg.Version)
		}
	default:
		conns := cfg.MaxThreads
		for _, c := range cfg.Concurrency {
			conns = max(conns, c)
		}
		t.http = newHTTPClient(conns)
		if cfg.Protocol == TFSREST {
			ins, t.outputs, err = tfsRESTMetadata(mctx, t.http, cfg.URL, cfg.Model, cfg.Version)
		} else {
			ins, t.outputs, err = kserveRESTMetadata(mctx, t.http, cfg.URL, cfg.Model, cfg.Version)
		}
	}
	if err != nil {
		return t, err
	}
	if t.inputs, err = makeInputs(cfg, ins); err != nil {
		return t, err
	}
	if cfg.SharedMemory == SharedMemorySystem {
		if err := t.build(nil); err != nil {
			return t, err
		}
		sizes, err := t.probe(mctx, false)
		if err != nil {
			return t, fmt.Errorf("probe request without shared memory: %w", err)
		}
		var names []string
		var bytes []int64
		for _, o := range sizes {
			names, bytes = append(names, o.name), append(bytes, o.size)
		}
		var reg shmRegistrar = restShm{client: t.http, base: cfg.URL}
		if cfg.Protocol.GRPC() {
			reg = grpcShm{c: kpb.NewGRPCInferenceServiceClient(t.conns[0])}
		}
		if t.shm, err = newShmSession(reg, t.inputs, names, bytes); err != nil {
			return t, err
		}
	}
	var plan *shmPlan
	if t.shm != nil {
		plan = &t.shm.plan
	}
	if err := t.build(plan); err != nil {
		return t, err
	}
	if _, err := t.probe(mctx, plan != nil); err != nil {
		return t, fmt.Errorf("probe request: %w", err)
	}
	return t, nil
}

// build prepares the request of the protocol and one Doer per connection.
func (t *target) build(plan *shmPlan) error {
	cfg := t.cfg
	t.doers = t.doers[:0]
	if cfg.Protocol.GRPC() {
		var b []byte
		var err error
		method := kpb.GRPCInferenceService_ModelInfer_FullMethodName
		if cfg.Protocol == KServeGRPC {
			b, err = marshal(kserveRequest(cfg.Model, cfg.Version, t.inputs, plan))
		} else {
			method = tfspb.PredictionService_Predict_FullMethodName
			b, err = marshal(tfsRequest(cfg.Model, cfg.Version, t.inputs))
		}
		if err != nil {
			return err
		}
		t.requestBytes = len(b)
		for _, c := range t.conns {
			t.doers = append(t.doers, &grpcDoer{conn: c, method: method, req: &rawMessage{b: b}})
		}
		return nil
	}
	var body []byte
	jsonLen := -1
	url := cfg.URL + modelPath("v2", cfg.Model, cfg.Version) + "/infer"
	switch cfg.Protocol {
	case TFSREST:
		url = cfg.URL + modelPath("v1", cfg.Model, cfg.Version) + ":predict"
		body = tfsRESTBody(t.inputs)
	case KServeRESTBinary:
		names := make([]string, len(t.outputs))
		for i, o := range t.outputs {
			names[i] = o.Name
		}
		body, jsonLen = kserveJSONBody(t.inputs, names, true, plan)
		if plan != nil {
			jsonLen = -1 // no binary part: a plain JSON body
		}
	default:
		body, _ = kserveJSONBody(t.inputs, nil, false, plan)
	}
	t.requestBytes = len(body)
	t.doers = append(t.doers, newRESTDoer(t.http, url, body, jsonLen))
	return nil
}

// doer is the DoerFactory: workers share the Doers round-robin.
func (t *target) doer(worker int) (Doer, error) { return t.doers[worker%len(t.doers)], nil }

// probe sends the built request once, checks the response and returns the
// size of each output (KServe). With shm set, outputs must have been
// written to shared memory rather than returned.
func (t *target) probe(ctx context.Context, shm bool) ([]outputSize, error) {
	switch d := t.doers[0].(type) {
	case *grpcDoer:
		if t.cfg.Protocol == TFSGRPC {
			var resp tfspb.PredictResponse
			if err := d.conn.Invoke(ctx, d.method, d.req, &resp, rawCall...); err != nil {
				return nil, err
			}
			if len(resp.Outputs) == 0 {
				return nil, errors.New("the response has no outputs")
			}
			return nil, nil
		}
		var resp kpb.ModelInferResponse
		if err := d.conn.Invoke(ctx, d.method, d.req, &resp, rawCall...); err != nil {
			return nil, err
		}
		return kserveGRPCSizes(&resp, shm)
	case *restDoer:
		body, jsonLen, err := d.probe(ctx)
		if err != nil {
			return nil, err
		}
		if t.cfg.Protocol == TFSREST {
			return nil, checkTFSREST(body)
		}
		return kserveRESTSizes(body, jsonLen, shm)
	}
	return nil, fmt.Errorf("no request built")
}

// Target is a model on a server with its request built and probed, as Run
// prepares it, for a caller that sends the requests itself (one Doer per
// worker goroutine): the bench suite alternates two models' requests on one
// client this way.
type Target struct{ t *target }

// Open prepares cfg's model as Run does (metadata, the request, a probe,
// shared-memory regions when asked). Close releases what it set up.
func Open(ctx context.Context, cfg Config) (*Target, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t, err := newTarget(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Target{t}, nil
}

// Doer returns the Doer of worker number worker.
func (t *Target) Doer(worker int) (Doer, error) { return t.t.doer(worker) }

// Close unregisters and removes shared-memory regions and closes the
// connections.
func (t *Target) Close() error { return t.t.close() }
