package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a run: what was measured and one Level per
// concurrency or request rate. Durations are nanoseconds in JSON.
type Report struct {
	Model        string        `json:"model,omitempty"`
	Version      int64         `json:"version,omitempty"`
	Protocol     Protocol      `json:"protocol,omitempty"`
	URL          string        `json:"url,omitempty"`
	SharedMemory string        `json:"shared_memory,omitempty"`
	Mode         string        `json:"mode"` // "concurrency" or "request_rate"
	Schedule     Schedule      `json:"schedule,omitempty"`
	Inputs       []TensorInfo  `json:"inputs,omitempty"`
	RequestBytes int           `json:"request_bytes,omitempty"`
	Warmup       time.Duration `json:"warmup_ns"`
	Window       time.Duration `json:"window_ns"`
	Stability    float64       `json:"stability_percent"`
	Levels       []Level       `json:"levels"`
}

// Level is the figures of one concurrency level or request rate, over the
// samples of its last three windows.
type Level struct {
	// Concurrency is the number of workers (open loop: the sender pool).
	Concurrency int `json:"concurrency"`
	// RequestRate is the scheduled rate, 0 in concurrency mode.
	RequestRate float64 `json:"request_rate,omitempty"`
	// Throughput is successful inferences per second.
	Throughput float64       `json:"throughput"`
	P50        time.Duration `json:"p50_ns"`
	P90        time.Duration `json:"p90_ns"`
	P99        time.Duration `json:"p99_ns"`
	Max        time.Duration `json:"max_ns"`
	Mean       time.Duration `json:"mean_ns"`
	// Count and Errors are successful and failed requests.
	Count  int64 `json:"count"`
	Errors int64 `json:"errors"`
	// FirstError is the message of the level's first failed request.
	FirstError string `json:"first_error,omitempty"`
	// Stable reports whether the last three windows agreed.
	Stable bool `json:"stable"`
	// Windows is the number of measurement windows run.
	Windows int `json:"windows"`
}

// label names the level: "concurrency 4" or "request rate 500/s".
func (l *Level) label() string {
	if l.RequestRate > 0 {
		return fmt.Sprintf("request rate %g/s", l.RequestRate)
	}
	return fmt.Sprintf("concurrency %d", l.Concurrency)
}

// Best returns the level with the highest throughput, or nil.
func (r *Report) Best() *Level {
	var best *Level
	for i := range r.Levels {
		if best == nil || r.Levels[i].Throughput > best.Throughput {
			best = &r.Levels[i]
		}
	}
	return best
}

// Formats Write accepts.
const (
	FormatTable = "table"
	FormatCSV   = "csv"
	FormatJSON  = "json"
)

// Write writes the report in format: FormatTable, FormatCSV or FormatJSON.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case FormatTable, "":
		return r.WriteTable(w)
	case FormatCSV:
		return r.WriteCSV(w)
	case FormatJSON:
		return r.WriteJSON(w)
	}
	return fmt.Errorf("unknown format %q (want table, csv or json)", format)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// csvHeader is the CSV columns; latencies are in microseconds.
var csvHeader = []string{"concurrency", "request_rate", "throughput_infer_per_s", "p50_us", "p90_us", "p99_us",
	"max_us", "mean_us", "count", "errors", "stable", "windows", "first_error"}

// WriteCSV writes one row per level under a header row.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	us := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e3, 'f', 1, 64) }
	for _, l := range r.Levels {
		_ = cw.Write([]string{strconv.Itoa(l.Concurrency), strconv.FormatFloat(l.RequestRate, 'f', -1, 64),
			strconv.FormatFloat(l.Throughput, 'f', 2, 64), us(l.P50), us(l.P90), us(l.P99), us(l.Max), us(l.Mean),
			strconv.FormatInt(l.Count, 10), strconv.FormatInt(l.Errors, 10), strconv.FormatBool(l.Stable),
			strconv.Itoa(l.Windows), l.FirstError})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteTable writes a human-readable summary and table, then the first
// error of every level that had errors.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	if r.Model != "" {
		version := "default version"
		if r.Version > 0 {
			version = "version " + strconv.FormatInt(r.Version, 10)
		}
		fmt.Fprintf(&b, "model %s (%s) over %s at %s", r.Model, version, r.Protocol, r.URL)
		if r.SharedMemory != "" && r.SharedMemory != SharedMemoryNone {
			fmt.Fprintf(&b, ", %s shared memory", r.SharedMemory)
		}
		fmt.Fprintf(&b, "; request %s\n", fmtBytes(r.RequestBytes))
	}
	first := "concurrency"
	if r.Mode == "request_rate" {
		first = "rate/s\tsenders"
		fmt.Fprintf(&b, "open loop, %s schedule\n", r.Schedule)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tinfer/s\tp50\tp90\tp99\tmax\tmean\tcount\terrors\tstable\t\n", first)
	for _, l := range r.Levels {
		lead := strconv.Itoa(l.Concurrency)
		if r.Mode == "request_rate" {
			lead = strconv.FormatFloat(l.RequestRate, 'f', -1, 64) + "\t" + lead
		}
		stable := "yes"
		if !l.Stable {
			stable = "UNSTABLE"
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t\n", lead, l.Throughput, fmtDuration(l.P50),
			fmtDuration(l.P90), fmtDuration(l.P99), fmtDuration(l.Max), fmtDuration(l.Mean), l.Count, l.Errors, stable)
	}
	_ = tw.Flush()
	for _, l := range r.Levels {
		if l.FirstError != "" {
			fmt.Fprintf(&b, "%s: %d errors, first: %s\n", l.label(), l.Errors, l.FirstError)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// fmtDuration prints a latency with 3 significant digits in us, ms or s.
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e3, 'f', 1, 64) + "us"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
}

// fmtBytes prints a size in B, KiB or MiB.
func fmtBytes(n int) string {
	switch {
	case n < 1<<10:
		return strconv.Itoa(n) + " B"
	case n < 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}

// IsTerminal reports whether f is a character device (a terminal), where a
// redrawn progress line makes sense.
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress redraws one status line with a spinner on a terminal; with no
// writer every method is a no-op.
type progress struct {
	w      io.Writer
	mu     sync.Mutex
	status string
	done   chan struct{}
	wg     sync.WaitGroup
}

var spinner = []string{"|", "/", "-", "\\"}

// progressTick is how often the line is redrawn.
const progressTick = 150 * time.Millisecond

func startProgress(w io.Writer) *progress {
	p := &progress{w: w, done: make(chan struct{})}
	if w == nil {
		return p
	}
	p.wg.Go(func() {
		t := time.NewTicker(progressTick)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-p.done:
				fmt.Fprint(p.w, "\r\033[K")
				return
			case <-t.C:
				p.mu.Lock()
				s := p.status
				p.mu.Unlock()
				if s != "" {
					fmt.Fprintf(p.w, "\r\033[K%s %s", spinner[i%len(spinner)], s)
				}
			}
		}
	})
	return p
}

// set replaces the status line.
func (p *progress) set(s string) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	p.status = s
	p.mu.Unlock()
}

// stop clears the line and ends the redrawing.
func (p *progress) stop() {
	if p.w == nil {
		return
	}
	close(p.done)
	p.wg.Wait()
}
