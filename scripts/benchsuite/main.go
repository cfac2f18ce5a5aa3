// Command benchsuite is `make bench`: in one run it measures the raw engine
// (our ONNX Runtime binding in-process), a trivial KServe gRPC echo server
// (a child process) and ovms over each API surface, on the project's bench
// models, prints the measurements and a table of issue 3's targets (ratios
// against baselines of the same run) and exits 1 when a target is missed.
//
//	go run ./scripts/benchsuite [-quick] [-only group,...] [-json out.json] [-bin bin] [-models build/models]
//
// Groups: startup, overhead, bandwidth, rest, throughput, batching,
// stateful, scale; and, only when named in -only, gpu (ResNet-50 with
// dynamic batching on -device, default CUDA: scripts/cuda-check.sh runs
// it on a machine with an NVIDIA GPU). The models come from `go run ./scripts/testmodels -out
// build/models -bench`.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ovmsgo/ovms/cli/bench"
)

// groups are the target groups, in run order.
var groups = []string{"startup", "overhead", "bandwidth", "rest", "throughput", "batching", "stateful", "scale"}

// optInGroups run only when -only names them, after the others.
var optInGroups = []string{"gpu"}

// groupModels are the models each group needs.
var groupModels = map[string][]string{
	"startup": {"dummy", "resnet50", "small_cnn", addOne, benchIRTwin}, "overhead": {"dummy"}, "bandwidth": {addOne}, "rest": {addOne},
	"throughput": {"resnet50"}, "batching": {"small_cnn"}, "stateful": {statefulModel},
	"scale": {"dummy", "scale_cnn_tiny", "scale_cnn_small"}, "gpu": {gpuModel},
}

// addOne is the 12 MiB bandwidth model.
const addOne = "add_one_1x3x1024x1024"

// options are the command-line settings.
type options struct {
	binDir, modelsDir string
	quick             bool
	only              []string
	jsonPath          string
	// device is the gpu group's target_device (CUDA; CPU tries the group
	// where there is no GPU).
	device string
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == irLoadFlag {
		os.Exit(irLoadMain(os.Args[2]))
	}
	if len(os.Args) >= 3 && os.Args[1] == engineScaleFlag {
		os.Exit(engineScaleMain(os.Args[2:]))
	}
	if len(os.Args) >= 3 && os.Args[1] == engineSessionsFlag {
		os.Exit(engineSessionsMain(os.Args[2:]))
	}
	if len(os.Args) >= 2 && os.Args[1] == engineEchoFlag {
		os.Exit(engineEchoMain(os.Args[2:]))
	}
	if len(os.Args) == 3 && os.Args[1] == "-echo-server" {
		port, err := strconv.Atoi(os.Args[2])
		if err == nil {
			err = serveEcho(port)
		}
		fmt.Fprintln(os.Stderr, "benchsuite:", err)
		os.Exit(1)
	}
	var opt options
	var only string
	flag.StringVar(&opt.binDir, "bin", "bin", "directory of ovms and its device plugins")
	flag.StringVar(&opt.modelsDir, "models", "build/models", "model repository with the bench models")
	flag.BoolVar(&opt.quick, "quick", false, "short windows (a CI smoke run; figures are rough)")
	flag.StringVar(&only, "only", "", "comma-separated groups to run: "+strings.Join(groups, ", ")+"; opt-in: "+strings.Join(optInGroups, ", "))
	flag.StringVar(&opt.device, "device", "CUDA", "the gpu group's device: CUDA, or CPU to try the group without a GPU")
	flag.StringVar(&opt.jsonPath, "json", "", "also write measurements and targets to this JSON file")
	flag.Parse()
	var err error
	if opt.only, err = selectGroups(only); err != nil {
		fmt.Fprintln(os.Stderr, "benchsuite:", err)
		os.Exit(2)
	}
	if opt.device != "CUDA" && opt.device != "CPU" {
		fmt.Fprintf(os.Stderr, "benchsuite: -device %q: want CUDA or CPU\n", opt.device)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, opt, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// selectGroups reads -only: every default group when empty, else the
// groups it names (default or opt-in).
func selectGroups(only string) ([]string, error) {
	if only == "" {
		return groups, nil
	}
	sel := strings.Split(only, ",")
	for _, g := range sel {
		if !slices.Contains(groups, g) && !slices.Contains(optInGroups, g) {
			return nil, fmt.Errorf("unknown group %q (want %s)", g, strings.Join(append(slices.Clone(groups), optInGroups...), ", "))
		}
	}
	return sel, nil
}

// report is the JSON output.
type report struct {
	Date         string         `json:"date"`
	Machine      string         `json:"machine"`
	Quick        bool           `json:"quick"`
	Seconds      float64        `json:"seconds"`
	Measurements []*measurement `json:"measurements"`
	Decode       *decodeResult  `json:"decode,omitempty"`
	Targets      []target       `json:"targets"`
}

// run runs the selected groups and prints the tables; it returns the exit
// code: 0 all targets met, 1 a target missed, 2 the suite could not run.
func run(ctx context.Context, opt options, stdout, stderr io.Writer) int {
	start := time.Now()
	if err := checkSetup(opt); err != nil {
		fmt.Fprintln(stderr, "benchsuite:", err)
		return 2
	}
	s := newSuite(ctx, opt, stderr)
	defer s.close()
	fmt.Fprintf(stdout, "ovms bench suite, %s, %s%s\n\n", time.Now().Format("2006-01-02 15:04 MST"), machine(),
		map[bool]string{true: " (quick: rough figures)"}[opt.quick])
	for _, g := range append(slices.Clone(groups), optInGroups...) {
		if slices.Contains(opt.only, g) && ctx.Err() == nil {
			s.runGroup(g)
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "benchsuite: interrupted")
		return 2
	}
	printMeasurements(stdout, s.order)
	fmt.Fprintln(stdout)
	missed := printTargets(stdout, s.targets)
	took := time.Since(start)
	fmt.Fprintf(stdout, "\n%d of %d targets met; took %s\n", len(s.targets)-missed, len(s.targets), took.Round(time.Second))
	if opt.jsonPath != "" {
		r := report{Date: start.Format(time.RFC3339), Machine: machine(), Quick: opt.quick, Seconds: took.Seconds(),
			Measurements: s.order, Decode: s.decode, Targets: s.targets}
		data, _ := json.MarshalIndent(r, "", "  ")
		if err := os.WriteFile(opt.jsonPath, append(data, '\n'), 0o644); err != nil {
			fmt.Fprintln(stderr, "benchsuite:", err)
			return 2
		}
	}
	if missed > 0 {
		return 1
	}
	return 0
}

// checkSetup checks that the binaries and the selected groups' models exist.
func checkSetup(opt options) error {
	if _, err := os.Stat(filepath.Join(opt.binDir, "ovms")); err != nil {
		return fmt.Errorf("no ovms binary in %s: run make build", opt.binDir)
	}
	for _, g := range opt.only {
		for _, m := range groupModels[g] {
			if _, err := os.Stat(filepath.Join(opt.modelsDir, m, "1", "model.onnx")); err != nil {
				return fmt.Errorf("no model %s in %s: run go run ./scripts/testmodels -out %s -bench", m, opt.modelsDir, opt.modelsDir)
			}
		}
		if g == "startup" {
			if _, err := os.Stat(filepath.Join(opt.modelsDir, benchIR, "1", "model.bin")); err != nil {
				return fmt.Errorf("no model %s in %s: run go run ./scripts/testmodels -out %s -bench", benchIR, opt.modelsDir, opt.modelsDir)
			}
		}
	}
	return nil
}

// machine describes the CPU, e.g. "2 vCPU, Intel(R) Xeon(R) ..., linux/amd64".
func machine() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%d vCPU, %s, %s/%s", runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH)
}

// loadConfig is the measurement settings of a run.
func loadConfig(quick bool, progress io.Writer) bench.Config {
	if quick {
		return bench.Config{Warmup: 300 * time.Millisecond, Window: 500 * time.Millisecond, MaxTrials: 4, Stability: 10, Progress: progress}
	}
	return bench.Config{Warmup: time.Second, Window: 2 * time.Second, MaxTrials: 8, Stability: 10, Progress: progress}
}
