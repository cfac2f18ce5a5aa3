package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/ovmsgo/ovms/cli/bench"
	"github.com/ovmsgo/ovms/core/config"
)

// benchCommand is `ovms bench`, the load generator of package bench.
func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure a server's latency and throughput (a load generator like Triton's perf_analyzer)",
		Description: "Shapes inputs from the model's metadata, builds one request once and sends it over the\n" +
			"chosen protocol, in a closed loop per concurrency level or an open loop at a request rate.\n" +
			"Example: ovms bench -m resnet --url localhost:9000 --concurrency 1:8:1 --format csv",
		Flags:  benchFlags(),
		Action: benchAction,
	}
}

// shapesFlag collects repeated --shape name:d1,d2 values (a Generic flag,
// so the commas are not taken as list separators).
type shapesFlag struct{ m map[string][]int64 }

// Set adds one name:dims value.
func (s *shapesFlag) Set(v string) error {
	name, dims, err := bench.ParseShape(v)
	if err != nil {
		return err
	}
	if s.m == nil {
		s.m = map[string][]int64{}
	}
	s.m[name] = dims
	return nil
}

// String lists the shapes given.
func (s *shapesFlag) String() string {
	var parts []string
	for n, d := range s.m {
		parts = append(parts, fmt.Sprintf("%s:%v", n, d))
	}
	return strings.Join(parts, " ")
}

func benchFlags() []cli.Flag {
	protocols := make([]string, len(bench.Protocols))
	for i, p := range bench.Protocols {
		protocols[i] = string(p)
	}
	return []cli.Flag{
		&cli.StringFlag{Name: "model_name", Aliases: []string{"m"}, Usage: "model to benchmark (required)"},
		&cli.Int64Flag{Name: "model_version", Usage: "model version; 0 is the default version"},
		&cli.StringFlag{Name: "protocol", Aliases: []string{"i"}, Value: string(bench.KServeGRPC), Usage: strings.Join(protocols, ", ")},
		&cli.StringFlag{Name: "url", Aliases: []string{"u"}, Usage: "server address: host:port for gRPC (default localhost:9000), http://host:port for REST (default http://localhost:8000)"},
		&cli.GenericFlag{Name: "shape", Value: &shapesFlag{}, Usage: "dims of an input with dynamic dims, name:1,3,224,224 (repeat per input; other dynamic dims are 1)"},
		&cli.StringFlag{Name: "input_data", Value: "random", Usage: "random, zero, a JSON file {\"name\": [values]}, or raw little-endian files name=path[,name=path]"},
		&cli.Int64Flag{Name: "seed", Value: 1, Usage: "seed of random data and of the Poisson schedule"},
		&cli.IntFlag{Name: "string_length", Value: 16, Usage: "length of random BYTES elements"},
		&cli.StringFlag{Name: "concurrency", Aliases: []string{"c"}, Value: "1", Usage: "closed-loop levels: N, start:end[:step] or a list 1,2,4"},
		&cli.StringFlag{Name: "request_rate", Usage: "open-loop levels in requests/s (replaces --concurrency): R, start:end[:step] or a list"},
		&cli.StringFlag{Name: "schedule", Value: string(bench.Poisson), Usage: "open-loop spacing: poisson or constant"},
		&cli.IntFlag{Name: "max_threads", Value: 64, Usage: "open-loop sender goroutines"},
		&cli.DurationFlag{Name: "warmup", Value: bench.DefaultWarmup, Usage: "unmeasured load before the first level (0 for none)"},
		&cli.DurationFlag{Name: "window", Value: bench.DefaultWindow, Usage: "measurement window"},
		&cli.Float64Flag{Name: "stability", Value: 10, Usage: "stable when the last 3 windows' throughput and p50 are within this percent of their mean"},
		&cli.IntFlag{Name: "max_trials", Value: 10, Usage: "most windows per level before reporting it unstable"},
		&cli.StringFlag{Name: "shared_memory", Value: bench.SharedMemoryNone, Usage: "none, or system: inputs and outputs in client POSIX shared memory (KServe protocols)"},
		&cli.IntFlag{Name: "grpc_connections", Value: 1, Usage: "gRPC connections the workers share"},
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: bench.FormatTable, Usage: "table, csv or json"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the report to this file (default: stdout)"},
	}
}

func benchAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("%w: bench: unexpected arguments: %s", config.ErrUsage, strings.Join(c.Args().Slice(), " "))
	}
	usage := func(err error) error { return fmt.Errorf("%w: bench: %v", config.ErrUsage, err) }
	if c.String("model_name") == "" {
		return usage(errors.New("--model_name is required"))
	}
	cfg := bench.Config{
		Protocol:        bench.Protocol(c.String("protocol")),
		URL:             c.String("url"),
		Model:           c.String("model_name"),
		Version:         c.Int64("model_version"),
		Shapes:          c.Generic("shape").(*shapesFlag).m,
		InputData:       c.String("input_data"),
		Seed:            c.Int64("seed"),
		StringLength:    c.Int("string_length"),
		Schedule:        bench.Schedule(c.String("schedule")),
		MaxThreads:      c.Int("max_threads"),
		Warmup:          c.Duration("warmup"),
		Window:          c.Duration("window"),
		Stability:       c.Float64("stability"),
		MaxTrials:       c.Int("max_trials"),
		SharedMemory:    c.String("shared_memory"),
		GRPCConnections: c.Int("grpc_connections"),
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = -1 // an explicit 0 means none
	}
	var err error
	if c.IsSet("request_rate") {
		if cfg.RequestRates, err = bench.ParseRange(c.String("request_rate")); err != nil {
			return usage(err)
		}
	} else if cfg.Concurrency, err = bench.ParseConcurrency(c.String("concurrency")); err != nil {
		return usage(err)
	}
	format := c.String("format")
	if format != bench.FormatTable && format != bench.FormatCSV && format != bench.FormatJSON {
		return usage(fmt.Errorf("unknown format %q (want table, csv or json)", format))
	}
	if bench.IsTerminal(os.Stderr) {
		cfg.Progress = os.Stderr
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, runErr := bench.Run(ctx, cfg)
	if rep != nil && len(rep.Levels) > 0 {
		if err := writeReport(c.App.Writer, c.String("output"), format, rep); err != nil {
			return errorf("%v", err)
		}
	}
	if runErr != nil {
		return errorf("bench: %v", runErr)
	}
	return nil
}

// writeReport writes rep to path, or to w when path is empty.
func writeReport(w io.Writer, path, format string, rep *bench.Report) error {
	if path == "" {
		return rep.Write(w, format)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := rep.Write(f, format); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
