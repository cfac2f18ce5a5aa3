// Command soak is `make soak`: it runs bin/ovms with several models under
// mixed load for a while (10 minutes by default) and checks that nothing
// grows. Four clients call the models over KServe gRPC, KServe REST, TFS
// gRPC and TFS REST; meanwhile one model is unloaded and loaded through the
// repository API every 2 s (over REST and gRPC in turn) and config.json is
// rewritten every 5 s (one model's options change, another model comes and
// goes). Every interval it prints the core's and the device plugin's
// resident memory, open files, threads and memory mappings, and the core's
// goroutines (from its "configuration applied" log line). It fails when a
// request to a model that is never unloaded fails, or when a figure grew
// from the first sample (after one interval of warm-up) to the last by more
// than its bound.
//
//	go run ./scripts/soak [-bin bin] [-models build/models] [-duration 10m] [-interval 30s]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// bounds are the allowed growths from the first sample to the last.
type bounds struct {
	coreRSSMiB, pluginRSSMiB  float64
	fds, maps, pluginMaps     int
	goroutines, threads, errs int
}

func main() {
	var opt options
	flag.StringVar(&opt.binDir, "bin", "bin", "directory of ovms and its device plugins")
	flag.StringVar(&opt.modelsDir, "models", "build/models", "model repository with the generated test models (dummy)")
	flag.DurationVar(&opt.duration, "duration", 10*time.Minute, "how long to run")
	flag.DurationVar(&opt.interval, "interval", 30*time.Second, "time between samples")
	flag.Float64Var(&opt.max.coreRSSMiB, "max_core_rss_growth_mib", 32, "allowed growth of the core's resident memory")
	flag.Float64Var(&opt.max.pluginRSSMiB, "max_plugin_rss_growth_mib", 64, "allowed growth of the device plugin's resident memory")
	flag.IntVar(&opt.max.fds, "max_fd_growth", 8, "allowed growth of open files (core, plugin)")
	flag.IntVar(&opt.max.maps, "max_core_maps_growth", 16, "allowed growth of the core's memory mappings")
	flag.IntVar(&opt.max.pluginMaps, "max_plugin_maps_growth", 32, "allowed growth of the plugin's memory mappings")
	flag.IntVar(&opt.max.goroutines, "max_goroutine_growth", 25, "allowed growth of the core's goroutines")
	flag.IntVar(&opt.max.threads, "max_thread_growth", 8, "allowed growth of threads (core, plugin)")
	flag.Parse()
	if opt.interval <= 0 || opt.duration < 2*opt.interval {
		fmt.Fprintln(os.Stderr, "soak: the duration must be at least two intervals")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, opt, os.Stdout)
	stop()
	os.Exit(code)
}

// options are the command-line settings.
type options struct {
	binDir, modelsDir  string
	duration, interval time.Duration
	max                bounds
}

// run soaks ovms and returns the exit code: 0 passed, 1 failed, 2 could
// not run.
func run(ctx context.Context, opt options, out io.Writer) int {
	dir, err := os.MkdirTemp("", "ovms-soak-")
	if err != nil {
		fmt.Fprintln(out, "soak:", err)
		return 2
	}
	defer os.RemoveAll(dir)
	srv, err := startServer(ctx, opt, dir)
	if err != nil {
		fmt.Fprintln(out, "soak:", err)
		return 2
	}
	defer srv.stop()
	fmt.Fprintf(out, "soak: ovms pid %d, %s of mixed load, a sample every %s (log %s)\n", srv.cmd.Process.Pid, opt.duration, opt.interval, srv.logPath)

	parent := ctx
	ctx, cancel := context.WithTimeout(parent, opt.duration)
	defer cancel()
	st := &stats{}
	done := startLoad(ctx, srv, st)
	var samples []sample
	printHeader(out)
	t := time.NewTicker(opt.interval)
	start := time.Now()
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case <-t.C:
		}
		if n := len(samples); !running && n > 0 && time.Since(start)-samples[n-1].at < time.Second {
			break // the last tick was the end
		}
		s, err := take(srv, st, time.Since(start))
		if err != nil {
			fmt.Fprintln(out, "soak:", err)
			t.Stop()
			cancel()
			<-done
			return 1
		}
		samples = append(samples, s)
		s.print(out)
	}
	t.Stop()
	<-done
	if parent.Err() != nil {
		fmt.Fprintln(out, "soak: interrupted")
		return 2
	}
	return verdict(out, samples, st, opt.max)
}
