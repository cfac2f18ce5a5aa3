package ortdevice

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/devices/irtoonnx"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
	"github.com/ovmsgo/ovms/internal/lowprio"
	"github.com/ovmsgo/ovms/internal/slots"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/modelfile"
	"github.com/ovmsgo/ovms/plugins/shm"
)

// maxModelFile is the largest .onnx file read: protobuf messages, and so
// ONNX models with their weights inside, cannot exceed 2 GiB (larger
// models keep their weights as external data).
const maxModelFile = 2<<30 - 1

// model is one loaded model version: a pool of sessions (one per stream).
type model struct {
	info     *device.ModelInfo
	sessions chan *ort.Session // free sessions; a request takes one
	all      []*ort.Session
	outputs  map[string]device.TensorInfo
	inputs   map[string]device.TensorInfo
	// seqs is the sequence store of a stateful model; nil otherwise.
	seqs *sequences
	// stateOuts are the state outputs of a stateful model, in seqs' slot
	// order; their infos are in stateInfo.
	stateOuts []string
	stateInfo map[string]device.TensorInfo
	// outNames are the model's outputs (what a request that names none
	// gets), allRun the names a stateful model's run of them computes:
	// outNames, then stateOuts.
	outNames, allRun []string
	// ties size the dynamic outputs that follow inputs' dimensions, so
	// that they are preallocated (outsize.go); untied is set once a run
	// with tied outputs failed on an output's shape, and stops them for
	// this model.
	ties   map[string]outputTie
	untied atomic.Bool

	// weights are the large MatMul and Gemm weights the model's sessions
	// share with each other and with models of the same weights, and
	// their prepacked forms (streamweights.go); nil when they share none.
	// releaseWeights gives them back.
	weights        *streamWeights
	releaseWeights func()

	refs   atomic.Int64
	closed atomic.Bool
}

// modelFiles finds the model of a version directory the way OVMS does
// (ModelInstance::fetchModelFilepaths): OpenVINO IR first, when the folder
// holds an .xml file and a .bin file, else the .onnx file. OVMS takes the
// first file of each extension in directory order and OpenVINO reads the
// .bin named like the .xml; ovms is deterministic instead: the IR is the
// .xml file whose same-named .bin exists, and there must be one. ir tells
// which format was found; for IR, path is the .xml and bin its weights.
func modelFiles(dir string) (path, bin string, ir bool, err error) {
	xmls, bins, matches := filesBySuffix(dir)
	if len(xmls) > 0 && len(bins) > 0 {
		sort.Strings(xmls)
		var pairs []string
		for _, x := range xmls {
			if slices.Contains(bins, irtoonnx.WeightsPath(x)) {
				pairs = append(pairs, x)
			}
		}
		switch len(pairs) {
		case 0:
			return "", "", true, fmt.Errorf("IR model file %s has no weights file %s", xmls[0], irtoonnx.WeightsPath(xmls[0]))
		case 1:
			return pairs[0], irtoonnx.WeightsPath(pairs[0]), true, nil
		}
		return "", "", true, fmt.Errorf("more than one IR model (.xml with its .bin) in %s: %s", dir, strings.Join(pairs, ", "))
	}
	switch len(matches) {
	case 0:
		return "", "", false, fmt.Errorf("no model file in %s: neither an OpenVINO IR model (.xml and .bin) nor an .onnx file", dir)
	case 1:
		return matches[0], "", false, nil
	}
	return "", "", false, fmt.Errorf("more than one .onnx model file in %s: %s", dir, strings.Join(matches, ", "))
}

// filesBySuffix lists the paths in dir ending in .xml, .bin and .onnx,
// each sorted, as filepath.Glob(dir/*.xml) and so on would, from one
// reading of the folder rather than three (a folder that cannot be read
// lists nothing, as with Glob).
func filesBySuffix(dir string) (xmls, bins, onnx []string) {
	entries, _ := os.ReadDir(dir) // sorted by name
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".xml"):
			xmls = append(xmls, filepath.Join(dir, name))
		case strings.HasSuffix(name, ".bin"):
			bins = append(bins, filepath.Join(dir, name))
		case strings.HasSuffix(name, ".onnx"):
			onnx = append(onnx, filepath.Join(dir, name))
		}
	}
	return xmls, bins, onnx
}

// readBuffers recycles the buffers that .onnx files are read into (see
// pooledBuffer): ONNX Runtime copies what it keeps of a model, and nothing
// else keeps the bytes, so a buffer is free again once its load ends. A
// start that loads many models then reads each file into memory already in
// place, instead of fresh pages that the kernel first faults in and zeroes
// (which cost several times the copy itself: 0.9 ms a version of a
// 200-model start, about 10% of the plugin's CPU).
var readBuffers sync.Pool // *[]byte

// maxPooledBuffer is the largest buffer readBuffers keeps: a larger model
// is read into memory of its own, which goes with the load.
const maxPooledBuffer = 64 << 20

// pooledBuffer is a buffer from readBuffers for reading a model file into
// (modelfile.ReadFileInto allocates when it is too small), nil when there
// is none; give it back with recycleBuffer once the load ends.
func pooledBuffer() []byte {
	if b, ok := readBuffers.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return nil
}

// recycleBuffer gives a model's bytes read by readModel back to
// readBuffers, unless they are too large to keep.
func recycleBuffer(b []byte) {
	if b != nil && cap(b) <= maxPooledBuffer {
		readBuffers.Put(&b)
	}
}

// readModel reads the model of a version directory as ONNX bytes: an .onnx
// file as it is, an IR model translated; the files are read or mapped
// (loadedFiles.read: mapped when guard is set and they are large) and lf
// holds them until it is released, once the load no longer needs the
// bytes. With an ONNX Runtime that takes
// external initializers from memory (OrtApi 18 and later) the IR's weights
// stay in the .bin as read, returned as the one external file the model's
// initializers point into (see irtoonnx.ConvertFilesExternal): they are
// copied once, by ONNX Runtime, on their way to the engine. Otherwise the
// weights are copied into the model (irtoonnx.ConvertFiles). src is the
// file that errors of the session name; for IR, res describes its tensors
// and rt_info.
func readModel(dir string, guard shm.Guard, lf *loadedFiles, log *logrus.Entry) (bytes []byte, files []ort.ExternalFile, src string, res *irtoonnx.Result, err error) {
	path, bin, ir, err := modelFiles(dir)
	if err != nil {
		return nil, nil, "", nil, err
	}
	if !ir {
		if bytes, err = lf.read(path, maxModelFile, guard, true); err != nil {
			return nil, nil, "", nil, fmt.Errorf("reading model file: %w", err)
		}
		return bytes, nil, path, nil, nil
	}
	xmlData, err := modelfile.ReadFile(path, irtoonnx.MaxXMLFile)
	if err != nil {
		return nil, nil, "", nil, fmt.Errorf("reading IR file: %w", err)
	}
	binData, err := lf.read(bin, 0, guard, false)
	if err != nil {
		return nil, nil, "", nil, fmt.Errorf("reading IR weights: %w", err)
	}
	bytes, files, res, err = translateIR(path, xmlData, bin, binData, log)
	return bytes, files, path, res, err
}

// translateIR translates an IR model in memory (see readModel).
func translateIR(xmlName string, xmlData []byte, binName string, binData []byte, log *logrus.Entry) (bytes []byte, files []ort.ExternalFile, res *irtoonnx.Result, err error) {
	start := time.Now()
	external := ort.APIVersion() >= externalFilesAPI
	if external {
		var ext *irtoonnx.External
		if ext, err = irtoonnx.ConvertBytesExternal(xmlName, xmlData, binName, binData, irtoonnx.Options{}); err != nil {
			return nil, nil, nil, err
		}
		bytes, res = ext.Model, ext.Result
		if ext.ExternalBytes > 0 { // else every constant is in the model (an empty or tiny .bin)
			files = []ort.ExternalFile{{Name: ext.Location, Data: ext.Weights}}
		}
	} else if bytes, res, err = irtoonnx.ConvertBytes(xmlName, xmlData, binName, binData, irtoonnx.Options{}); err != nil {
		return nil, nil, nil, err
	}
	n := 0
	for _, c := range res.Ops {
		n += c
	}
	log.WithFields(logrus.Fields{"file": xmlName, "layers": n, "onnx_bytes": len(bytes), "external_weights": external,
		"took": time.Since(start).Round(time.Millisecond)}).Info("OpenVINO IR model translated to ONNX")
	return bytes, files, res, nil
}

// memoryModel is readModel for model files a custom loader handed over in
// memory (never written to disk): one .onnx file, or one .xml with the
// .bin of the same name. src names the files in errors.
func memoryModel(files []device.ModelFile, log *logrus.Entry) (bytes []byte, ext []ort.ExternalFile, src string, res *irtoonnx.Result, err error) {
	byExt := map[string][]device.ModelFile{}
	for _, f := range files {
		e := strings.ToLower(filepath.Ext(f.Name))
		byExt[e] = append(byExt[e], f)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	src = "model files from the custom loader (" + strings.Join(names, ", ") + ")"
	xmls, bins, onnxs := byExt[".xml"], byExt[".bin"], byExt[".onnx"]
	switch {
	case len(xmls) == 1 && len(bins) == 1 && len(onnxs) == 0:
		if want := filepath.Base(irtoonnx.WeightsPath(xmls[0].Name)); filepath.Base(bins[0].Name) != want {
			return nil, nil, src, nil, fmt.Errorf("%s: the IR model %s needs the weights file %s", src, xmls[0].Name, want)
		}
		bytes, ext, res, err = translateIR(xmls[0].Name, xmls[0].Data, bins[0].Name, bins[0].Data, log)
		return bytes, ext, src, res, err
	case len(onnxs) == 1 && len(xmls) == 0:
		return onnxs[0].Data, nil, src, nil, nil
	}
	return nil, nil, src, nil, fmt.Errorf("%s: want one .onnx file, or one OpenVINO IR model (an .xml and its .bin)", src)
}

// externalFilesAPI is the OrtApi version with
// AddExternalInitializersFromFilesInMemory (ONNX Runtime 1.18).
const externalFilesAPI = 18

// streams decides how many parallel sessions serve a model and the intra-op
// threads of each: NUM_STREAMS if given, else one stream for LATENCY (the
// default) and one per two cores for THROUGHPUT; the threads are shared out.
// A model on the plugin's shared pool (opts.UseGlobalThreadPools) keeps
// IntraOpThreads 0: its streams all run on the shared pool's threads.
func streams(opts *ort.SessionOptions) int {
	cores := runtime.NumCPU()
	n := opts.Streams
	if n == ort.StreamsAuto || (n == 0 && opts.PerformanceHint == "THROUGHPUT") {
		n = max(1, cores/2)
	}
	n = max(n, 1)
	if opts.IntraOpThreads == 0 && !opts.UseGlobalThreadPools {
		opts.IntraOpThreads = max(1, cores/n)
	}
	return n
}

// engineOpts are the device-wide session settings of a plugin binary.
type engineOpts struct {
	// cuda appends ONNX Runtime's CUDA execution provider to every session.
	cuda bool
	// guard, when set, watches the model files a load maps (see
	// loadedFiles.read); nil: they are read.
	guard shm.Guard
	// weights shares the MatMul and Gemm weights of the sessions of a
	// model's streams, and of models with the same weights (see
	// streamWeights); nil: every session holds its own.
	weights *weightsSet
	// sharedPool: the environment has the plugin's shared thread pools
	// (see sharedPools), which models without thread settings of their own
	// run on.
	sharedPool bool
	// compiles bounds the loads compiling at once (reading the model,
	// creating its sessions, analysing it); nil: no bound. The host keeps
	// more loads in flight than that, so that one waits here, its call
	// received, whenever a compile ends (see device.Env.LoadParallelism);
	// the largest waiting model takes a freed slot first (internal/slots).
	compiles *slots.Semaphore
}

// compileSlot waits for one of eo's compile slots (none to wait for
// without a bound) for a model of weight bytes; call the returned func to
// give it back.
func (eo engineOpts) compileSlot(ctx context.Context, weight int64) (func(), error) {
	if eo.compiles == nil {
		return func() {}, nil
	}
	release, err := eo.compiles.Acquire(ctx, weight)
	if err != nil {
		return nil, fmt.Errorf("load abandoned while waiting to compile: %w", err)
	}
	return release, nil
}

// loadWeight is the size in bytes of what a load compiles: the bytes or
// files the request carries, else the files of its version folder
// (modelfile.DirSize: no file opened); 0 when unknown.
func loadWeight(req *device.LoadRequest) int64 {
	n := int64(len(req.ModelBytes))
	for _, f := range req.ModelFiles {
		n += int64(len(f.Data))
	}
	if n > 0 || req.Path == "" {
		return n
	}
	return modelfile.DirSize(req.Path)
}

// sharedPools are the environment-level pools of a plugin with
// Config.SharedPool: one intra-op pool of one thread per core (the thread
// calling Run included, as for a model's own pool), no inter-op threads
// (models in PARALLEL mode keep pools of their own, see ownPoolReason), and
// no spinning: ONNX Runtime stops a pool's spinning after a run
// (session.force_spinning_stop) only for per-session pools, so a shared
// pool either never spins or spins after every run too, between requests,
// which the plugin avoids (see noSpinning).
func sharedPools() ort.GlobalThreadPools {
	return ort.GlobalThreadPools{IntraOpThreads: runtime.NumCPU(), InterOpThreads: 1, Spinning: false}
}

// ownPoolKeys are the plugin_config keys that give a model intra-op and
// inter-op pools of its own instead of the plugin's shared pool: thread
// counts, and ONNX Runtime's per-session pool settings, which a shared pool
// would ignore.
var ownPoolKeys = []string{"INTRA_OP_THREADS", "INFERENCE_NUM_THREADS", "CPU_THREADS_NUM", "INTER_OP_THREADS",
	"session.intra_op_thread_affinities", "session.intra_op.allow_spinning", "session.inter_op.allow_spinning",
	"session.intra_op.spin_duration_us", "session.inter_op.spin_duration_us",
	"session.intra_op.spin_backoff_max", "session.inter_op.spin_backoff_max",
	"session.set_denormal_as_zero", "session.dynamic_block_base", stopSpinKey}

// ownPoolReason says why a model gets thread pools of its own rather than
// the plugin's shared pool ("" when it runs on the shared pool): a key of
// ownPoolKeys in its plugin_config, ENABLE_CPU_PINNING (each stream is
// pinned to its own cores), or EXECUTION_MODE PARALLEL (the shared inter-op
// pool has no thread). Streams (NUM_STREAMS, PERFORMANCE_HINT THROUGHPUT)
// do not count: a model's streams run on the shared pool together, as
// several models do (docs/performance.md has the measurement).
func ownPoolReason(pluginConfig map[string]string, opts ort.SessionOptions) string {
	for _, k := range slices.Sorted(maps.Keys(pluginConfig)) {
		if slices.Contains(ownPoolKeys, k) {
			return "plugin_config " + k
		}
	}
	switch {
	case opts.CPUPinning:
		return "plugin_config ENABLE_CPU_PINNING"
	case opts.Parallel:
		return "plugin_config EXECUTION_MODE PARALLEL"
	}
	return ""
}

// largeModelBytes is the model size (graph and external weights) from
// which a model keeps thread pools of its own even without thread settings.
// Such a model is compute-bound: its pool spins between operators and stops
// after a run (force_spinning_stop), which ONNX Runtime does only for a
// session's own pool. A shared pool can only spin always (taking a core
// from the core and the client between requests) or never; never cost
// ResNet-50 (100 MB) 5-7% of its throughput on 2 cores (0.86-0.91 of the
// engine against 0.93-0.96 with its own pool, docs/performance.md). Many
// models, the case the shared pool is for, are small ones: 200 models of
// 100 MB would not fit a plugin's memory anyway.
const largeModelBytes = 16 << 20

// largeModelReason is the own-pool reason of a model of largeModelBytes or
// more, "" for a smaller one.
func largeModelReason(graph []byte, ext []ort.ExternalFile) string {
	n := len(graph)
	for _, f := range ext {
		n += len(f.Data)
	}
	if n < largeModelBytes {
		return ""
	}
	return fmt.Sprintf("a large model (%d MiB): its own pool spins between operators", n>>20)
}

// stopSpinKey makes ONNX Runtime's pool threads stop spinning when a run
// ends (they still spin between the operators of a run).
const stopSpinKey = "session.force_spinning_stop"

// noSpinning stops ONNX Runtime's pool threads from spinning after a run
// unless plugin_config says otherwise: on a machine with few cores the
// spinning threads starve the core and the client of the CPU they need to
// send the response and take the next request (a 12 MiB round trip went
// from 20 ms to 30 ms here). Spinning between operators is kept: turning it
// off costs a compute-bound model like ResNet-50 about 5%.
func noSpinning(opts *ort.SessionOptions) {
	if opts.ConfigEntries == nil {
		opts.ConfigEntries = map[string]string{}
	}
	if _, set := opts.ConfigEntries[stopSpinKey]; !set {
		opts.ConfigEntries[stopSpinKey] = "1"
	}
}

// loadModel compiles a version into its sessions, once one of eo's
// compile slots is free. The model file (.onnx, or OpenVINO IR translated
// to ONNX) is read only if it is a regular file (or a link to one), and no
// further than its size; a cancelled ctx stops the wait for a slot and the
// load between sessions (a session being created cannot be interrupted).
func loadModel(ctx context.Context, req *device.LoadRequest, extension string, eo engineOpts, log *logrus.Entry) (m *model, err error) {
	opts, err := ort.ParseSessionOptions(req.PluginConfig)
	if err != nil {
		return nil, err
	}
	// The files are read under the slot too: reading is CPU work as well
	// (a copy from the page cache), and a load waiting for its slot holds
	// no model bytes.
	release, err := eo.compileSlot(ctx, loadWeight(req))
	if err != nil {
		return nil, err
	}
	defer release()
	opts.CUDA = eo.cuda
	if extension != "" {
		opts.CustomOpLibraries = []string{extension}
	}
	bytes := req.ModelBytes
	src := req.Path // named in session errors: the model file, else its folder
	var ir *irtoonnx.Result
	if len(req.ModelFiles) > 0 {
		if bytes, opts.ExternalFiles, src, ir, err = memoryModel(req.ModelFiles, log); err != nil {
			return nil, err
		}
	} else if bytes == nil {
		// Nothing keeps the files' bytes past this load: the sessions copy
		// them, the analyses below copy what they keep.
		lf := &loadedFiles{}
		defer lf.release()
		defer func() { // a file changed meanwhile explains whatever the parse or the engine made of it
			if cerr := lf.changed(); cerr != nil {
				if m != nil {
					m.close()
				}
				m, err = nil, cerr
			}
		}()
		if bytes, opts.ExternalFiles, src, ir, err = readModel(req.Path, eo.guard, lf, log); err != nil {
			return nil, err
		}
	}
	pool := "own"
	reason := ownPoolReason(req.PluginConfig, opts)
	if reason == "" {
		reason = largeModelReason(bytes, opts.ExternalFiles)
	}
	if !eo.sharedPool {
		reason = "the plugin has no shared pool"
	} else if reason == "" {
		opts.UseGlobalThreadPools, pool = true, "shared"
	}
	n := streams(&opts)
	noSpinning(&opts)
	start := time.Now()
	nice := 0 // of the thread that created the sessions, when lowered
	m = &model{sessions: make(chan *ort.Session, n)}
	if eo.weights != nil {
		m.weights, m.releaseWeights = eo.weights.shareStreamWeights(bytes, n, &opts, log)
	}
	var warnings []string
	r := onnxmodel.Reshape{Shapes: req.Shapes, BatchSize: req.BatchSize, Layouts: req.Layouts}
	if ir != nil && r.BatchSize > 0 {
		r.Layouts = irLayouts(r.Layouts, ir)
	}
	reshaped := false
	if !r.Empty() {
		edited, err := onnxmodel.ApplyReshape(bytes, r)
		if err == nil {
			var s *ort.Session
			if s, err = newSession(ctx, edited, pinned(opts, 0), &nice, log); err == nil {
				m.all = append(m.all, s)
				m.sessions <- s
				bytes = edited
				reshaped = true
			}
		}
		if err != nil { // OVMS: the model keeps its own shapes
			warnings = append(warnings, fmt.Sprintf("Model could not be reshaped with requested shape - %v", err))
			log.WithError(err).Warn("reshape not applied; the model keeps its own shapes")
		}
	}
	for len(m.all) < n {
		if err := ctx.Err(); err != nil {
			m.closeSessions()
			return nil, fmt.Errorf("load abandoned: %w", err)
		}
		s, err := newSession(ctx, bytes, pinned(opts, len(m.all)), &nice, log)
		if err != nil {
			m.closeSessions()
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		m.all = append(m.all, s)
		m.sessions <- s
	}
	if m.info, err = metadata(m.all[0]); err != nil {
		m.closeSessions()
		return nil, err
	}
	m.info.Warnings = warnings
	if ir != nil {
		irInfo(m.info, ir)
		if !reshaped {
			r = onnxmodel.Reshape{}
		}
		irRanges(m.info, ir, r)
	}
	if m.info.EmptyUnsafe, err = onnxmodel.EmptyUnsafeOps(bytes); err != nil {
		m.info.EmptyUnsafe = []string{"(unreadable graph)"} // not ONNX protobuf (an ORT-format model): refuse empty inputs to be safe
	}
	if req.Stateful != nil {
		all := byName(m.info.Outputs)
		if m.seqs, err = newSequences(req.Stateful, m.info, bytes, ir != nil, log); err != nil {
			m.closeSessions()
			return nil, err
		}
		m.stateOuts = m.seqs.stateOutputNames()
		m.stateInfo = map[string]device.TensorInfo{}
		for _, n := range m.stateOuts {
			m.stateInfo[n] = all[n]
		}
	}
	m.inputs, m.outputs = byName(m.info.Inputs), byName(m.info.Outputs)
	if !opts.CUDA {
		// Not on CUDA: ONNX Runtime copies a GPU output into a preallocated
		// CPU one by the source's size (a batched device copy checks no
		// sizes), so a tie a model's names make wrong would be written
		// past; on the CPU the kernel or the frame refuses it first.
		m.ties = outputTies(m.all[0].Inputs(), m.all[0].Outputs())
	}
	for _, o := range m.info.Outputs {
		m.outNames = append(m.outNames, o.Name)
	}
	m.allRun = append(m.outNames[:len(m.outNames):len(m.outNames)], m.stateOuts...)
	fields := logrus.Fields{"streams": n, "thread_pool": pool, "intra_op_threads": opts.IntraOpThreads, "took": time.Since(start).Round(time.Millisecond)}
	if m.weights != nil {
		fields["shared_weights_mb"] = fmt.Sprintf("%.1f", float64(m.weights.bytes)/(1<<20))
	}
	if opts.UseGlobalThreadPools {
		fields["intra_op_threads"] = sharedPools().IntraOpThreads
	} else {
		fields["own_pool_reason"] = reason
	}
	if nice != 0 {
		fields["nice"] = nice
	}
	log.WithFields(fields).Info("model compiled")
	return m, nil
}

// lowprioFailed logs, once, that sessions could not be created at a
// lower priority.
var lowprioFailed sync.Once

// newSession creates a session. For a load that is background work (the
// plugin serves requests meanwhile, plugins/host) the engine's call runs on
// a thread of lower CPU priority (internal/lowprio), whose nice value it
// stores in *nice, so that the requests get the CPU first. Only a session on
// the shared thread pools: one with pools of its own starts their threads
// while it is created, and they would inherit the lowered priority for the
// session's whole life (an unprivileged process cannot raise it again).
func newSession(ctx context.Context, model []byte, opts ort.SessionOptions, nice *int, log *logrus.Entry) (*ort.Session, error) {
	if !opts.UseGlobalThreadPools {
		return ort.NewSession(model, opts)
	}
	var (
		s   *ort.Session
		err error
	)
	perr := lowprio.Do(ctx, func() {
		if n, ok := lowprio.ThreadNice(); ok && lowprio.IsBackground(ctx) {
			*nice = n
		}
		s, err = ort.NewSession(model, opts)
	})
	if perr != nil {
		lowprioFailed.Do(func() { log.WithError(perr).Warn("sessions of background loads are created at the normal priority") })
	}
	return s, err
}

func metadata(s *ort.Session) (*device.ModelInfo, error) {
	conv := func(in []ort.TensorInfo) ([]device.TensorInfo, error) {
		out := make([]device.TensorInfo, len(in))
		for i, t := range in {
			dt := device.DataType(t.Type)
			if !dt.Valid() {
				return nil, fmt.Errorf("tensor %q has unsupported element type %s", t.Name, t.Type)
			}
			out[i] = device.TensorInfo{Name: t.Name, DType: dt, Shape: t.Shape}
		}
		return out, nil
	}
	ins, err := conv(s.Inputs())
	if err != nil {
		return nil, err
	}
	outs, err := conv(s.Outputs())
	if err != nil {
		return nil, err
	}
	return &device.ModelInfo{Inputs: ins, Outputs: outs}, nil
}

func byName(ts []device.TensorInfo) map[string]device.TensorInfo {
	m := make(map[string]device.TensorInfo, len(ts))
	for _, t := range ts {
		m[t.Name] = t
	}
	return m
}

// acquire pins the model for one request; false once it is closing.
func (m *model) acquire() bool {
	m.refs.Add(1)
	if m.closed.Load() {
		m.refs.Add(-1)
		return false
	}
	return true
}

func (m *model) release() { m.refs.Add(-1) }

// close waits for in-flight requests and frees the sessions.
func (m *model) close() {
	m.closed.Store(true)
	for m.refs.Load() > 0 {
		time.Sleep(time.Millisecond)
	}
	if m.seqs != nil {
		m.seqs.close()
	}
	m.closeSessions()
}

func (m *model) closeSessions() {
	for _, s := range m.all {
		s.Close()
	}
	m.all = nil
	if m.releaseWeights != nil { // after the sessions that read them
		m.releaseWeights()
		m.releaseWeights = nil
	}
}

// affinityKey is ONNX Runtime's setting for the intra-op pool's thread
// affinities: one entry per pool thread besides the calling one, each a
// 1-based logical processor, separated by ';'.
const affinityKey = "session.intra_op_thread_affinities"

// pinned gives stream i of a model its own cores when ENABLE_CPU_PINNING is
// set: stream i's threads take processors i*T+1 .. i*T+T (the calling
// thread is not pinned, so the pool's T-1 threads take the last T-1).
func pinned(opts ort.SessionOptions, stream int) ort.SessionOptions {
	t := opts.IntraOpThreads
	if !opts.CPUPinning || t < 2 {
		return opts
	}
	if _, set := opts.ConfigEntries[affinityKey]; set {
		return opts // plugin_config chose them
	}
	cores := runtime.NumCPU()
	var aff []string
	for j := 1; j < t; j++ {
		aff = append(aff, strconv.Itoa((stream*t+j)%cores+1))
	}
	entries := make(map[string]string, len(opts.ConfigEntries)+1)
	for k, v := range opts.ConfigEntries {
		entries[k] = v
	}
	entries[affinityKey] = strings.Join(aff, ";")
	opts.ConfigEntries = entries
	return opts
}

// irInfo adds what an IR model says beyond its ONNX translation: the other
// names of its tensors (requests may use them) and its rt_info.
func irInfo(info *device.ModelInfo, ir *irtoonnx.Result) {
	info.RTInfo = ir.RTInfo
	for i := range info.Inputs {
		for _, t := range ir.Inputs {
			if t.Name == info.Inputs[i].Name && len(t.Layout) == len(info.Inputs[i].Shape) {
				info.Inputs[i].Layout = t.Layout
			}
		}
	}
	aliases := func(ts []device.TensorInfo, irs []irtoonnx.Tensor) {
		for i := range ts {
			for _, t := range irs {
				if t.Name != ts[i].Name {
					continue
				}
				for _, n := range t.Names {
					if n != "" && n != t.Name && !slices.Contains(ts[i].Aliases, n) {
						ts[i].Aliases = append(ts[i].Aliases, n)
					}
				}
			}
		}
	}
	aliases(info.Inputs, ir.Inputs)
	aliases(info.Outputs, ir.Outputs)
}

// irRanges gives the inputs the dimension ranges their IR declares
// ("1..4"), which ONNX cannot say and serves as -1, so that requests out of
// a range are refused as OVMS does. A range counts where the served
// dimension is still dynamic and the reshape r applied to the model left
// the input in its own order and shape: a configured shape replaces the
// IR's (as OVMS's reshape does) and a layout conversion reorders the
// dimensions (their ranges are then not checked).
func irRanges(info *device.ModelInfo, ir *irtoonnx.Result, r onnxmodel.Reshape) {
	for i := range info.Inputs {
		in := &info.Inputs[i]
		if _, set := r.Shapes[in.Name]; set || anonymous(r.Shapes, len(info.Inputs)) {
			continue
		}
		l, ok := r.Layouts[in.Name]
		if !ok && len(info.Inputs) == 1 {
			l = r.Layouts[""]
		}
		if strings.Contains(l, ":") {
			continue
		}
		for _, t := range ir.Inputs {
			if t.Name != in.Name || len(t.Shape) != len(in.Shape) {
				continue
			}
			bounded := false
			for j, d := range t.Shape {
				bounded = bounded || (in.Shape[j] < 0 && !d.Static() && d.Max >= 0)
			}
			if !bounded {
				continue
			}
			in.ShapeMin, in.ShapeMax = slices.Clone(in.Shape), slices.Clone(in.Shape)
			for j, d := range t.Shape {
				if in.Shape[j] < 0 && !d.Static() && d.Max >= 0 {
					in.ShapeMin[j], in.ShapeMax[j] = d.Min, d.Max
				}
			}
		}
	}
}

// knownLayout reports whether an IR layout names each of rank dimensions
// with a letter the layout settings know (N, C, H, W, D, ?).
func knownLayout(l string, rank int) bool {
	return l != "" && len(l) == rank && strings.Trim(l, "NCHWD?") == ""
}

// irLayouts adds to the configured layouts the IR's own layout of each
// input the configuration leaves out, so that batch_size sets the IR's N
// dimension as OVMS does (the layout of rt_info, unless configured).
func irLayouts(configured map[string]string, ir *irtoonnx.Result) map[string]string {
	if _, anon := configured[""]; anon && len(ir.Inputs) == 1 {
		return configured
	}
	var out map[string]string
	for _, t := range ir.Inputs {
		if _, set := configured[t.Name]; set || !knownLayout(t.Layout, len(t.Shape)) {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(configured)+1)
			for k, v := range configured {
				out[k] = v
			}
		}
		out[t.Name] = t.Layout
	}
	if out == nil {
		return configured
	}
	return out
}

// anonymous reports whether a setting map has the "" key that stands for
// the only input of a model with n inputs.
func anonymous[V any](m map[string]V, n int) bool {
	_, ok := m[""]
	return ok && n == 1
}

// runNames are the outputs a stateful model's request computes: the ones
// it asked for (outNames; none: all) and the state outputs.
func (m *model) runNames(outNames, asked []string) []string {
	if len(asked) == 0 {
		return m.allRun
	}
	return append(outNames[:len(outNames):len(outNames)], m.stateOuts...)
}
