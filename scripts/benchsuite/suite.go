package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/ovmsgo/ovms/cli/bench"
)

// suite holds one run: what was measured (memoized by name, so groups
// share measurements) and the targets evaluated.
type suite struct {
	ctx      context.Context
	opt      options
	load     bench.Config
	log      io.Writer
	servers  *servers
	echo     *echoProc
	echoErr  error
	measured map[string]*measurement
	order    []*measurement
	targets  []target
	decode   *decodeResult
	suffix   string // appended to measurement names (repeated rounds)
	// pairRatios are the block pairs' ratios of each pair of measurements
	// taken together (measurePair), by the first one's name.
	pairRatios map[string][]float64
}

func newSuite(ctx context.Context, opt options, log io.Writer) *suite {
	var progress io.Writer
	if f, ok := log.(*os.File); ok && bench.IsTerminal(f) {
		progress = f
	}
	return &suite{ctx: ctx, opt: opt, load: loadConfig(opt.quick, progress), log: log,
		servers: &servers{binDir: opt.binDir, modelsDir: opt.modelsDir}, measured: map[string]*measurement{}}
}

// close stops ovms and the echo server.
func (s *suite) close() {
	s.servers.close()
	if s.echo != nil {
		s.echo.stop()
	}
}

// measure runs f once per name and records its best level.
func (s *suite) measure(name string, f func() (*bench.Report, error)) *measurement {
	if m, ok := s.measured[name]; ok {
		return m
	}
	fmt.Fprintf(s.log, "measuring %s\n", name)
	m := &measurement{Name: name}
	rep, err := f()
	switch {
	case err != nil:
		m.Err = err.Error()
	case rep.Best() == nil:
		m.Err = "no level measured"
	default:
		m.Level = *rep.Best()
	}
	s.measured[name] = m
	s.order = append(s.order, m)
	return m
}

// problem says why m cannot back a target, or "".
func (m *measurement) problem() string {
	switch {
	case m.Err != "":
		return m.Name + ": " + oneLine(m.Err)
	case m.Level.Count == 0:
		return m.Name + ": no successful request"
	case m.Level.Errors > 0:
		return fmt.Sprintf("%s: %d errors, first: %s", m.Name, m.Level.Errors, oneLine(m.Level.FirstError))
	}
	return ""
}

// addTarget records t, failed with the first problem of its inputs.
func (s *suite) addTarget(t target, from ...*measurement) {
	for _, m := range from {
		if p := m.problem(); p != "" {
			t.Err = p
			break
		}
	}
	s.targets = append(s.targets, t)
}

// engineRun measures the raw engine on model at the given concurrencies.
func (s *suite) engineRun(model string, conc ...int) *measurement {
	var busy, switches float64
	m := s.measure(fmt.Sprintf("engine %s (%d threads)%s", model, engineThreads(), s.suffix), func() (*bench.Report, error) {
		e, err := newEngine(s.opt.modelsDir, model, nil)
		if err != nil {
			return nil, err
		}
		defer e.close()
		cfg := s.load
		cfg.Concurrency = conc
		cpu0, sw0, t0 := selfCPU(), contextSwitches(), time.Now()
		rep, err := bench.Measure(s.ctx, cfg, e.doer)
		wall := time.Since(t0)
		busy, switches = float64(selfCPU()-cpu0)/float64(wall), float64(contextSwitches()-sw0)/wall.Seconds()
		return rep, err
	})
	if m.Busy == 0 {
		m.Busy, m.Switches = busy, switches
	}
	return m
}

// echoRun measures the echo server with the signature of model.
func (s *suite) echoRun(model string) *measurement {
	return s.measure("echo "+model+" kserve-grpc"+s.suffix, func() (*bench.Report, error) {
		if s.echo == nil && s.echoErr == nil {
			s.echo, s.echoErr = startEcho()
		}
		if s.echoErr != nil {
			return nil, s.echoErr
		}
		cfg := s.load
		cfg.Protocol, cfg.URL, cfg.Model = bench.KServeGRPC, s.echo.addr, model
		return bench.Run(s.ctx, cfg)
	})
}

// variant is an ovms configuration: a label for the measurement's name and
// the extra flags ovms is started with.
type variant struct {
	label string
	flags []string
	shm   bool // the client passes tensors in shared memory
}

// The ovms configurations the targets compare.
var (
	plainOVMS   = variant{}
	shmOVMS     = variant{label: "client shm", flags: []string{"--allow_client_shm"}, shm: true}
	batchedOVMS = variant{label: "dynamic batching", flags: []string{"--dynamic_batching", `{"max_batch_size": 16, "max_queue_delay_microseconds": 2000}`}}
	metricsOVMS = variant{label: "metrics", flags: []string{"--metrics_enable", "--metrics_list", allMetrics}}
)

// ovmsRun measures ovms serving model (started as v) over p; with a shm
// variant the client passes tensors in shared memory.
func (s *suite) ovmsRun(model string, p bench.Protocol, conc []int, v variant) *measurement {
	name := "ovms " + model + " " + string(p)
	if v.label != "" {
		name += " +" + v.label
	}
	name += s.suffix
	var busy, coreBusy, clientBusy, switches float64
	m := s.measure(name, func() (*bench.Report, error) {
		srv, err := s.servers.get(model, v.flags...)
		if err != nil {
			return nil, err
		}
		cfg := s.load
		cfg.Protocol, cfg.URL, cfg.Model, cfg.Concurrency = p, srv.grpcAddr, model, conc
		if !p.GRPC() {
			cfg.URL = srv.restURL
		}
		if v.shm {
			cfg.SharedMemory = bench.SharedMemorySystem
		}
		pid := srv.cmd.Process.Pid
		core0, all0, self0, sw0, t0 := procCPU(pid), treeCPU(pid), selfCPU(), contextSwitches(), time.Now()
		rep, err := bench.Run(s.ctx, cfg)
		d := time.Since(t0)
		wall := float64(d)
		busy, coreBusy = float64(treeCPU(pid)-all0)/wall, float64(procCPU(pid)-core0)/wall
		clientBusy, switches = float64(selfCPU()-self0)/wall, float64(contextSwitches()-sw0)/d.Seconds()
		return rep, err
	})
	if m.Busy == 0 {
		m.Busy, m.CoreBusy, m.ClientBusy, m.Switches = busy, coreBusy, clientBusy, switches
	}
	return m
}

// allMetrics is every metric family ovms serves, OVMS's and its own
// (docs/metrics.md), for the metrics-on overhead target.
const allMetrics = "ovms_streams,ovms_current_requests,ovms_requests_success,ovms_requests_fail,ovms_request_time_us," +
	"ovms_inference_time_us,ovms_wait_for_infer_req_time_us,ovms_infer_req_queue_size,ovms_infer_req_active," +
	"ovms_plugin_restarts,ovms_arena_bytes_in_use,ovms_config_reloads,ovms_dynamic_batch_size,ovms_dynamic_batch_queue_time_us"

// runGroup measures one group and adds its targets.
func (s *suite) runGroup(g string) {
	one := []int{1}
	switch g {
	case "startup":
		s.startup()
	case "scale":
		s.scaleGroup()
	case "stateful":
		// Issue 14: a step with the state kept by the server must not be
		// slower than the same step with the state sent in the request.
		// The figure is the median over alternating block pairs of the
		// ratio of their median step latencies (held / sent), which load
		// drifting on a shared machine does not skew.
		held, sent, ratios := s.statefulRun()
		s.addTarget(target{Group: g, Name: statefulModel + " step, KServe gRPC, 1 client, server-held / sent state", Measured: ratioMedian(ratios), Unit: "x",
			Limit: 1, Formula: fmt.Sprintf("median of per-block p50 ratios; overall p50 %.1fus held, %.1fus sent", us(held.Level.P50), us(sent.Level.P50)),
			Cause: ratioSpread("held / sent", ratios)}, held, sent)
	case "overhead":
		s.overheadGroup(g)
	case "bandwidth":
		eng, echo, empty := s.engineRun(addOne, 1), s.echoRun(addOne), s.echoRun("empty")
		ov := s.ovmsRun(addOne, bench.KServeGRPC, one, plainOVMS)
		if slices.Contains(s.opt.only, "rest") {
			s.ovmsRun(addOne, bench.KServeRESTBinary, one, plainOVMS) // while this ovms runs
		}
		s.addTarget(target{Group: g, Name: "12 MiB p50, KServe gRPC", Measured: us(ov.Level.P50), Unit: "us",
			Limit:   1.3 * us(echo.Level.P50+eng.Level.P50),
			Formula: fmt.Sprintf("1.3 x (echo 12 MiB %.1fus + engine %.1fus)", us(echo.Level.P50), us(eng.Level.P50))}, ov, echo, eng)
		s.shmTarget(g, eng, empty)
		// Issue 16: an output whose shape follows the request's (dynamic
		// batching serves such models) is written by the engine where the
		// answer goes, as a static one is, not allocated and copied after.
		// The figure is the median over alternating block pairs, in one
		// ovms, of the ratio of their median latencies (dynamic / static).
		dynamic, static, ratios := s.dynamicOutputRun()
		s.addTarget(target{Group: g, Name: "12 MiB client shared memory, dynamic first dimension / static shape", Measured: ratioMedian(ratios), Unit: "x",
			Limit: 1.1, Formula: fmt.Sprintf("median of per-block p50 ratios; overall p50 %.1fus dynamic, %.1fus static", us(dynamic.Level.P50), us(static.Level.P50)),
			Cause: ratioSpread("dynamic / static", ratios)}, dynamic, static)
	case "rest":
		s.restGroup()
	case "throughput":
		s.throughputGroup(g)
	case "gpu":
		s.gpuGroup(g)
	case "batching":
		plain := s.ovmsRun("small_cnn", bench.KServeGRPC, []int{16}, plainOVMS)
		batched := s.ovmsRun("small_cnn", bench.KServeGRPC, []int{16}, batchedOVMS)
		s.addTarget(target{Group: g, Name: "small_cnn throughput, 16 clients", Measured: batched.Level.Throughput / plain.Level.Throughput,
			Unit: "x", Limit: 2, AtLeast: true,
			Formula: fmt.Sprintf("batched %.1f/s over unbatched %.1f/s", batched.Level.Throughput, plain.Level.Throughput)}, batched, plain)
		s.addTarget(target{Group: g, Name: "small_cnn p99, 16 clients", Measured: float64(batched.Level.P99) / float64(plain.Level.P99),
			Unit: "x", Limit: 2,
			Formula: fmt.Sprintf("batched %.1fus over unbatched %.1fus", us(batched.Level.P99), us(plain.Level.P99))}, batched, plain)
	}
}

// restGroup: the JSON decoder against encoding/json, and REST binary
// against gRPC on the 12 MiB model.
func (s *suite) restGroup() {
	round, rounds := time.Second, 5
	if s.opt.quick {
		round, rounds = 200*time.Millisecond, 3
	}
	fmt.Fprintln(s.log, "measuring JSON decode of a 1x3x224x224 FP32 body")
	t := target{Group: "rest", Name: "JSON decode speed-up over encoding/json", Unit: "x", Limit: 4, AtLeast: true}
	if d, err := benchDecode(round, rounds); err != nil {
		t.Err = err.Error()
	} else {
		s.decode = &d
		t.Measured = float64(d.Std) / float64(d.OVMS)
		t.Formula = fmt.Sprintf("encoding/json %.2fms / rest.ParseInfer %.2fms per %.1f MB body", float64(d.Std)/1e6, float64(d.OVMS)/1e6, float64(d.BodyBytes)/1e6)
	}
	s.targets = append(s.targets, t)
	grpc := s.ovmsRun(addOne, bench.KServeGRPC, []int{1}, plainOVMS)
	bin := s.ovmsRun(addOne, bench.KServeRESTBinary, []int{1}, plainOVMS)
	s.addTarget(target{Group: "rest", Name: "12 MiB p50, REST binary", Measured: us(bin.Level.P50), Unit: "us",
		Limit: 1.2 * us(grpc.Level.P50), Formula: fmt.Sprintf("1.2 x ovms KServe gRPC %.1fus", us(grpc.Level.P50))}, bin, grpc)
}

// startup launches ovms with dummy (3 times, 1 when quick) and takes the
// median time to ready.
func (s *suite) startup() {
	s.servers.close()
	n := 3
	if s.opt.quick {
		n = 1
	}
	// Issue 16: one model ready in under 0.2 s once the binaries are in the
	// OS's cache (the first launch below brings them there), compared with
	// a fresh engine process creating the same model's session.
	t := target{Group: "startup", Name: "dummy: launch to /v2/health/ready 200", Unit: "s", Limit: 0.2}
	var times []time.Duration
	for range n {
		fmt.Fprintln(s.log, "measuring ovms startup with dummy")
		p, err := startOVMS(s.opt.binDir, s.opt.modelsDir, "dummy")
		if err != nil {
			t.Err = err.Error()
			break
		}
		times = append(times, p.startup)
		_ = p.stop()
	}
	if t.Err == "" {
		slices.Sort(times)
		t.Measured = times[len(times)/2].Seconds()
		var all []string
		for _, d := range times {
			all = append(all, fmt.Sprintf("%.3fs", d.Seconds()))
		}
		t.Formula = fmt.Sprintf("0.2 s; median of %d launches (%s)", n, strings.Join(all, ", "))
		file := filepath.Join(s.opt.modelsDir, "dummy", "1", "model.onnx")
		var engine []time.Duration
		for range n {
			d, err := freshEngineSessions([]string{file}, 1)
			if err != nil {
				t.Formula += fmt.Sprintf("; engine baseline failed: %v", err)
				break
			}
			engine = append(engine, d)
		}
		if len(engine) == n {
			e := median(engine)
			t.Formula += fmt.Sprintf("; a fresh engine process creating its session, launch to exit: %.3fs (ovms/engine %.2fx)", e.Seconds(), t.Measured/e.Seconds())
		}
	}
	s.targets = append(s.targets, t)
	s.manyModelsStartup()
	s.irLoad()
}

// throughputGroup compares ovms with the raw engine on resnet50. The two
// are measured in alternating rounds and compared by their median rounds,
// so that drift on a shared machine hits both alike; the first ovms round
// finds the best concurrency, the later ones measure at it.
func (s *suite) throughputGroup(g string) {
	rounds := 3
	if s.opt.quick {
		rounds = 1
	}
	var engs, ovs []*measurement
	conc := []int{1, 2, 4}
	for r := 0; r < rounds; r++ {
		if r > 0 {
			s.suffix = fmt.Sprintf(" (round %d)", r+1)
		}
		engs = append(engs, s.engineRun("resnet50", 1, 2))
		ov := s.ovmsRun("resnet50", bench.KServeGRPC, conc, plainOVMS)
		ovs = append(ovs, ov)
		if r == 0 && ov.Level.Concurrency > 0 {
			conc = []int{ov.Level.Concurrency}
		}
	}
	s.suffix = ""
	eng, ov := medianThroughput(engs), medianThroughput(ovs)
	cause := throughputCause(eng, ov)
	if !s.opt.quick && eng.problem() == "" && ov.problem() == "" && ov.Level.Throughput < 0.97*eng.Level.Throughput {
		// Context for a miss only: what the network floor alone leaves.
		cause = joinCauses(cause, s.throughputFloor("resnet50", eng, ov))
	}
	s.addTarget(target{Group: g, Name: "resnet50 best throughput, KServe gRPC", Measured: ov.Level.Throughput, Unit: "infer/s",
		Limit: 0.97 * eng.Level.Throughput, AtLeast: true,
		Formula: fmt.Sprintf("0.97 x engine %.1f/s (median of %d alternating rounds; engine best of 1-2 clients, %d threads; ovms at %d clients)",
			eng.Level.Throughput, len(engs), engineThreads(), ov.Level.Concurrency),
		Cause: cause}, append(engs, ovs...)...)
}

// throughputCause says how much CPU an inference took in the engine alone
// and in ovms (core and plugin), from the cores each kept busy while
// measured: on a machine whose cores the engine's threads fill, what the
// core spends per request (the tensor's transfer and copy) is taken from
// the engine; "" without the figures.
func throughputCause(eng, ov *measurement) string {
	if eng.problem() != "" || ov.problem() != "" || eng.Busy == 0 || ov.Busy == 0 {
		return ""
	}
	per := func(busy float64, m *measurement) float64 { return 1000 * busy / m.Level.Throughput }
	cause := fmt.Sprintf("the engine kept %.2f cores busy for %.1f infer/s (%.1f ms of CPU per inference); ovms %.2f cores for %.1f infer/s (%.1f ms: its core %.1f ms, the plugin with the engine %.1f ms) on %d CPUs",
		eng.Busy, eng.Level.Throughput, per(eng.Busy, eng), ov.Busy, ov.Level.Throughput, per(ov.Busy, ov),
		per(ov.CoreBusy, ov), per(ov.Busy-ov.CoreBusy, ov), runtime.NumCPU())
	return cause + competitionCause(eng, ov)
}

// competitionCause says what ran beside the engine's threads while ovms
// was measured: the client's and the core's CPU per inference as a share
// of the machine (what the target's 3% must cover), the context switches
// of the whole machine per inference against the engine's alone, and how
// much more CPU the plugin's engine took per inference than the engine
// alone (its threads preempted, their partners waiting at the next
// barrier); "" without the figures.
func competitionCause(eng, ov *measurement) string {
	if ov.ClientBusy == 0 || eng.Switches == 0 || ov.Switches == 0 || eng.Level.Throughput == 0 || ov.Level.Throughput == 0 {
		return ""
	}
	per := func(busy float64, m *measurement) float64 { return 1000 * busy / m.Level.Throughput }
	share := 100 * (ov.CoreBusy + ov.ClientBusy) / float64(runtime.NumCPU())
	return fmt.Sprintf("; the client (this process) %.1f ms: client and core %.1f%% of the machine at ovms's rate (the target leaves 3%%); context switches per inference, whole machine: engine %.0f, ovms %.0f; the plugin's engine took %+.0f%% CPU per inference against the engine alone",
		per(ov.ClientBusy, ov), share, eng.Switches/eng.Level.Throughput, ov.Switches/ov.Level.Throughput,
		100*(per(ov.Busy-ov.CoreBusy, ov)/per(eng.Busy, eng)-1))
}

// medianThroughput is the measurement with the median throughput.
func medianThroughput(ms []*measurement) *measurement {
	return medianBy(ms, func(m *measurement) float64 { return m.Level.Throughput })
}

// medianBy is the measurement of ms with the median key (the upper one of
// an even count).
func medianBy(ms []*measurement, key func(*measurement) float64) *measurement {
	sorted := append([]*measurement(nil), ms...)
	slices.SortStableFunc(sorted, func(a, b *measurement) int { return cmp.Compare(key(a), key(b)) })
	return sorted[len(sorted)/2]
}

// overheadCause splits what ovms (ov) took beyond the echo and the engine
// into the plugin hop (the round trip measured on its own, less the
// engine) and the rest (the core's API path, validation, scheduling); ""
// when a measurement is missing.
func overheadCause(ov, echo, eng, rtt *measurement) string {
	for _, m := range []*measurement{ov, echo, eng, rtt} {
		if m.problem() != "" {
			return ""
		}
	}
	over := us(ov.Level.P50 - echo.Level.P50 - eng.Level.P50)
	hop := us(rtt.Level.P50 - eng.Level.P50)
	return fmt.Sprintf("ovms adds %.1fus p50 over echo+engine: the plugin round trip after an idle gap (as behind a server) %.1fus p50 (%.1fus less the engine; p90 %.1fus), the rest %.1fus the core's request path and scheduling",
		over, us(rtt.Level.P50), hop, us(rtt.Level.P90), over-hop)
}
