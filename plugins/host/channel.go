package host

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/ovmsgo/ovms/plugins/host/dataplane"
	"github.com/ovmsgo/ovms/plugins/shm"
	devicev1 "github.com/ovmsgo/ovms/proto/ovms/plugin/device/v1"
)

// Message kinds on the data-plane channel. A request or result that does not
// fit a ring slot is written into the arena and the slot carries its
// location (offset, length): host-zone for requests (freed by the host after
// the result), plugin-zone for results (freed with the result's lease).
const (
	kindInfer        uint32 = 1 // host -> plugin: InferRequest
	kindInferArena   uint32 = 2 // host -> plugin: InferRequest in the arena
	kindRelease      uint32 = 3 // host -> plugin: lease ids, no answer
	kindResult       uint32 = 4 // plugin -> host: InferResponse
	kindResultArena  uint32 = 5 // plugin -> host: InferResponse in the arena
	kindError        uint32 = 6 // plugin -> host: uint32 gRPC code + message
	maxReleasePerMsg        = dataplane.SlotPayload / 8
)

// result is what a waiting Infer call gets.
type result struct {
	resp *devicev1.InferResponse
	err  error
}

// dataPlane is the host side of the channel: Infer sends a request and
// waits for its result, which one receiver goroutine delivers.
type dataPlane struct {
	ep       *dataplane.Endpoint
	arena    *shm.Arena
	next     atomic.Uint64
	pending  sync.Map     // id -> chan result
	inFlight atomic.Int64 // requests sent and not answered
	rtt      atomic.Int64 // moving average of round trips, ns
	closed   atomic.Bool
	kickRTT  time.Duration // round trips up to this are polled from the send
}

// Polling for results is worth it only for short round trips: a result due
// within maxPollRTT is polled for (a little longer than the usual round
// trip), a longer one is slept for. Waking the core costs 50-100 us in a VM,
// a sizeable part of a 12 MiB inference from client shared memory (~400 us).
const maxPollRTT = 2 * time.Millisecond

// A request whose round trip is short is polled for from the moment it is
// sent: Infer kicks the receiving goroutine, which would otherwise sleep
// on its doorbell (nothing was in flight when it last looked) until the
// plugin rang it, and the result would wait for that wake-up (40-70 us on
// the 2-vCPU VM, measured with a probe). Only for round trips up to
// maxKickRTT (a model whose run is a few microseconds, like dummy): polling
// through a longer engine run takes a CPU from the engine's own threads, and
// on 2 vCPUs kicking under 2 ms cost small_cnn 1.5x and 12 MiB from client
// shared memory 1.4x at p50 in alternating runs; under 250 us, dummy's p50
// was 0.92x in 10 alternating rounds (docs/performance.md, "Sixth session").
const maxKickRTT = 250 * time.Microsecond

func (d *dataPlane) spinFor() time.Duration {
	if d.inFlight.Load() == 0 {
		return 0
	}
	rtt := time.Duration(d.rtt.Load())
	if rtt > maxPollRTT {
		return 0
	}
	return rtt + rtt/4 + 20*time.Microsecond
}

// AttachChannel makes Infer and Release use the shared-memory channel
// instead of gRPC calls. It starts the goroutine that receives results.
func (c *Client) AttachChannel(ep *dataplane.Endpoint, arena *shm.Arena) {
	d := &dataPlane{ep: ep, arena: arena, kickRTT: maxKickRTT}
	ep.SpinFor = d.spinFor
	c.dp = d
	go d.receive()
}

// Close fails every request in flight on the channel (the plugin is gone).
func (c *Client) Close() {
	if c.dp != nil {
		c.dp.fail()
	}
}

func (d *dataPlane) receive() {
	_ = d.ep.Receive(func(id uint64, kind uint32, payload []byte) {
		v, ok := d.pending.LoadAndDelete(id)
		if !ok {
			return
		}
		v.(chan result) <- d.decode(kind, payload)
	})
	d.fail()
}

// fail ends every pending call with Unavailable; later calls fail at once.
func (d *dataPlane) fail() {
	if d.closed.Swap(true) {
		return
	}
	d.pending.Range(func(k, v any) bool {
		if _, ok := d.pending.LoadAndDelete(k); ok {
			v.(chan result) <- result{err: status.Error(codes.Unavailable, "device plugin is gone")}
		}
		return true
	})
}

func (d *dataPlane) decode(kind uint32, payload []byte) result {
	switch kind {
	case kindError:
		if len(payload) < 4 {
			return result{err: status.Error(codes.Internal, "malformed error from the device plugin")}
		}
		return result{err: status.Error(codes.Code(binary.LittleEndian.Uint32(payload)), string(payload[4:]))}
	case kindResultArena:
		if len(payload) != 16 {
			return result{err: status.Error(codes.Internal, "malformed result location from the device plugin")}
		}
		b, err := d.arena.Bytes(binary.LittleEndian.Uint64(payload), binary.LittleEndian.Uint64(payload[8:]))
		if err != nil {
			return result{err: status.Error(codes.Internal, err.Error())}
		}
		payload = b
	case kindResult:
	default:
		return result{err: status.Errorf(codes.Internal, "unknown message kind %d from the device plugin", kind)}
	}
	resp := &devicev1.InferResponse{}
	if err := proto.Unmarshal(payload, resp); err != nil {
		return result{err: status.Errorf(codes.Internal, "decoding the device plugin's result: %v", err)}
	}
	return result{resp: resp}
}

func (d *dataPlane) infer(req *devicev1.InferRequest) (*devicev1.InferResponse, error) {
	if d.closed.Load() {
		return nil, status.Error(codes.Unavailable, "device plugin is gone")
	}
	msg, err := proto.Marshal(req)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encoding request: %v", err)
	}
	kind := kindInfer
	if len(msg) > dataplane.SlotPayload {
		off, err := d.arena.HostZone().Alloc(uint64(len(msg)))
		if err != nil {
			return nil, status.Errorf(codes.ResourceExhausted, "request message: %v", err)
		}
		defer d.arena.HostZone().Free(off)
		dst, _ := d.arena.Bytes(off, uint64(len(msg)))
		copy(dst, msg)
		msg = binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(msg[:0], off), uint64(len(dst)))
		kind = kindInferArena
	}
	start := time.Now()
	id := d.next.Add(1)
	ch := make(chan result, 1)
	d.pending.Store(id, ch)
	d.inFlight.Add(1)
	defer d.inFlight.Add(-1)
	if err := d.ep.Send(id, kind, msg); err != nil {
		d.pending.Delete(id)
		return nil, status.Errorf(codes.Unavailable, "sending to the device plugin: %v", err)
	}
	if d.closed.Load() { // fail may have run before Store
		if _, ok := d.pending.LoadAndDelete(id); ok {
			return nil, status.Error(codes.Unavailable, "device plugin is gone")
		}
	}
	if time.Duration(d.rtt.Load()) <= d.kickRTT {
		d.ep.Kick()
	}
	r := <-ch
	took := int64(time.Since(start))
	old := d.rtt.Load()
	d.rtt.Store(old + (took-old)/8) // racy updates only blur an average
	return r.resp, r.err
}

func (d *dataPlane) release(leases []uint64) error {
	for len(leases) > 0 {
		n := min(len(leases), maxReleasePerMsg)
		msg := make([]byte, 8*n)
		for i, l := range leases[:n] {
			binary.LittleEndian.PutUint64(msg[8*i:], l)
		}
		if err := d.ep.Send(0, kindRelease, msg); err != nil {
			return status.Errorf(codes.Unavailable, "sending to the device plugin: %v", err)
		}
		leases = leases[n:]
	}
	return nil
}

// maxPolledRun (ns) is the longest average answer time through which the
// plugin's receiver keeps polling its ring. A receiver that sleeps on its
// doorbell while a request runs costs the plugin, per request, a failed
// read and a park, and at the request's end a Nudge (an eventfd write) and
// its wake-up: on dummy (a run of a few microseconds) 1.5 writes and 1.8
// reads per request, and at 4 clients dummy answered about 15% fewer
// requests a second (docs/performance.md, "Eighth session"). Through a
// longer run the poll would take a CPU from the engine's own threads (on 2
// vCPUs the engine's second intra-op thread needs it), so longer runs are
// slept through. A variable for tests.
var maxPolledRun atomic.Int64

func init() { maxPolledRun.Store(int64(50 * time.Microsecond)) }

// runSpin is how long the receiver polls after a message while requests
// run: a little longer than the average answer when that is short, else 0.
func (s *server) runSpin() time.Duration {
	avg := s.runAvg.Load()
	if avg <= 0 || avg > maxPolledRun.Load() {
		return 0
	}
	return time.Duration(avg + avg/4 + int64(20*time.Microsecond))
}

// runYield is how often the receiver's polling gives the CPU to other
// processes: every yield while requests take longer than maxPolledRun on
// average, else never.
func (s *server) runYield(yield time.Duration) time.Duration {
	if s.runAvg.Load() > maxPolledRun.Load() {
		return yield
	}
	return 0
}

// serveChannel answers requests from the channel in the plugin process
// until the channel closes; each request runs on its own goroutine.
//
// While requests run the receiver sleeps between messages (the engine has
// the cores), unless they answer within maxPolledRun on average: then it
// polls a little longer than they take, so that their end costs no wake-up.
// Once the plugin is idle again it polls for DefaultSpin, so the next
// request of a busy client costs no wake-up either. While its requests take
// longer than maxPolledRun on average, that polling gives the CPU to other
// processes every ep.Yield: the client and the core, turning the last
// answer into the next request, need the CPU more than a poller whose next
// request is still hundreds of microseconds away; a plugin of microsecond
// runs (dummy) polls without yielding, its next request is due at once.
func (s *server) serveChannel(ep *dataplane.Endpoint) error {
	spin, yield := ep.Spin, ep.Yield
	ep.SpinFor = func() time.Duration {
		if s.running.Load() > 0 {
			return s.runSpin()
		}
		return spin
	}
	ep.YieldFor = func() time.Duration { return s.runYield(yield) }
	return ep.Receive(func(id uint64, kind uint32, payload []byte) {
		switch kind {
		case kindRelease:
			for i := 0; i+8 <= len(payload); i += 8 {
				s.release(binary.LittleEndian.Uint64(payload[i:]))
			}
		case kindInfer, kindInferArena:
			req, err := s.decodeRequest(kind, payload)
			s.running.Add(1)
			go s.answer(ep, id, req, err)
		}
	})
}

func (s *server) decodeRequest(kind uint32, payload []byte) (*devicev1.InferRequest, error) {
	if kind == kindInferArena {
		if len(payload) != 16 {
			return nil, status.Error(codes.InvalidArgument, "malformed request location")
		}
		off, n := binary.LittleEndian.Uint64(payload), binary.LittleEndian.Uint64(payload[8:])
		if !s.arena.HostZone().Contains(off, n) {
			return nil, status.Error(codes.InvalidArgument, "request message outside the host zone")
		}
		payload, _ = s.arena.Bytes(off, n)
	}
	req := &devicev1.InferRequest{}
	if err := proto.Unmarshal(payload, req); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "decoding request: %v", err)
	}
	return req, nil
}

// answer runs one request and sends its result or error.
func (s *server) answer(ep *dataplane.Endpoint, id uint64, req *devicev1.InferRequest, err error) {
	start := time.Now()
	defer func() {
		took := int64(time.Since(start))
		if old := s.runAvg.Load(); old == 0 {
			s.runAvg.Store(took)
		} else {
			s.runAvg.Store(old + (took-old)/8) // racy updates only blur an average
		}
		if s.running.Add(-1) == 0 {
			ep.Nudge() // idle now: poll for the next request
		}
	}()
	var resp *devicev1.InferResponse
	if err == nil {
		resp, err = s.Infer(context.Background(), req)
	}
	if err != nil {
		st := status.Convert(err)
		msg := binary.LittleEndian.AppendUint32(nil, uint32(st.Code()))
		msg = append(msg, st.Message()[:min(len(st.Message()), dataplane.SlotPayload-4)]...)
		_ = ep.Send(id, kindError, msg)
		return
	}
	msg, err := proto.Marshal(resp)
	if err == nil && len(msg) > dataplane.SlotPayload {
		msg, err = s.resultInArena(resp.GetLease(), msg)
		if err == nil {
			_ = ep.Send(id, kindResultArena, msg)
			return
		}
	}
	if err != nil {
		s.release(resp.GetLease())
		st := status.Convert(fmt.Errorf("encoding result: %w", err))
		_ = ep.Send(id, kindError, append(binary.LittleEndian.AppendUint32(nil, uint32(codes.Internal)), st.Message()...))
		return
	}
	_ = ep.Send(id, kindResult, msg)
}

// resultInArena writes an encoded result into the plugin zone, adds the
// buffer to the result's lease and returns its location.
func (s *server) resultInArena(lease uint64, msg []byte) ([]byte, error) {
	off, err := s.arena.PluginZone().Alloc(uint64(len(msg)))
	if err != nil {
		return nil, err
	}
	dst, _ := s.arena.Bytes(off, uint64(len(msg)))
	copy(dst, msg)
	if v, ok := s.leases.Load(lease); ok {
		// The host does not know this lease yet, so nothing else frees it;
		// inLease reads only its outputs.
		e := v.(*leaseEntry)
		e.offs = append(e.offs, off)
	}
	loc := binary.LittleEndian.AppendUint64(nil, off)
	return binary.LittleEndian.AppendUint64(loc, uint64(len(msg))), nil
}
