package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ovmsgo/ovms/cli/bench"
)

// measurement is one measured configuration: its best level, or why it
// could not be measured.
type measurement struct {
	Name  string      `json:"name"`
	Level bench.Level `json:"level"`
	Err   string      `json:"error,omitempty"`
	// Busy is the CPU the measured side used while it was measured, in
	// cores (CPU time over wall time; warm-up included): the engine's
	// process, or ovms's core and plugin processes together. CoreBusy is
	// ovms's core alone. Zero when not taken.
	Busy     float64 `json:"busy_cores,omitempty"`
	CoreBusy float64 `json:"core_busy_cores,omitempty"`
	// ClientBusy is, for ovms, what the suite's own process (the client)
	// used, in cores; Switches the context switches of the whole machine
	// per second while measured (/proc/stat). Zero when not taken.
	ClientBusy float64 `json:"client_busy_cores,omitempty"`
	Switches   float64 `json:"switches_per_s,omitempty"`
}

// target is one goal of issue 3: a measured figure against a limit built
// from baselines measured in the same run.
type target struct {
	Group    string  `json:"group"`
	Name     string  `json:"name"`
	Measured float64 `json:"measured"`
	Limit    float64 `json:"limit"`
	Unit     string  `json:"unit"`
	AtLeast  bool    `json:"at_least"` // pass when Measured >= Limit, else when Measured <= Limit
	Formula  string  `json:"formula"`  // how Limit is built
	Err      string  `json:"error,omitempty"`
	// Cause is what the suite measured about where the time went, printed
	// under a missed target (and kept in the JSON either way).
	Cause string `json:"cause,omitempty"`
}

// Pass reports whether the target was measured and met.
func (t target) Pass() bool {
	if t.Err != "" || math.IsNaN(t.Measured) || math.IsNaN(t.Limit) {
		return false
	}
	if t.AtLeast {
		return t.Measured >= t.Limit
	}
	return t.Measured <= t.Limit
}

// Ratio is Measured / Limit: at most 1 passes an upper limit, at least 1 a
// lower one.
func (t target) Ratio() float64 {
	if t.Err != "" || t.Limit == 0 {
		return math.NaN()
	}
	return t.Measured / t.Limit
}

// verdict says PASS, or by how much the target was missed, or why it could
// not be measured.
func (t target) verdict() string {
	switch {
	case t.Err != "":
		return "FAIL: " + t.Err
	case t.Pass():
		return "PASS"
	case t.AtLeast:
		return fmt.Sprintf("FAIL: %s (%.1f%%) short", fmtValue(t.Limit-t.Measured, t.Unit), 100*(1-t.Ratio()))
	}
	return fmt.Sprintf("FAIL: %s (%.1f%%) over", fmtValue(t.Measured-t.Limit, t.Unit), 100*(t.Ratio()-1))
}

// fmtValue prints a figure in its unit.
func fmtValue(v float64, unit string) string {
	if math.IsNaN(v) {
		return "-"
	}
	switch unit {
	case "us":
		return strconv.FormatFloat(v, 'f', 1, 64) + "us"
	case "s":
		return strconv.FormatFloat(v, 'f', 3, 64) + "s"
	case "x":
		return strconv.FormatFloat(v, 'f', 2, 64) + "x"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
}

// us is a duration in microseconds.
func us(d time.Duration) float64 { return float64(d) / 1e3 }

// printTargets writes the targets table; it returns the number missed.
func printTargets(w io.Writer, ts []target) int {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "group\ttarget\tmeasured\tlimit\tratio\tresult\tlimit from")
	missed := 0
	var causes []string
	for _, t := range ts {
		op := "<="
		if t.AtLeast {
			op = ">="
		}
		ratio := "-"
		if r := t.Ratio(); !math.IsNaN(r) {
			ratio = strconv.FormatFloat(r, 'f', 2, 64)
		}
		measured, limit := fmtValue(t.Measured, t.Unit), op+" "+fmtValue(t.Limit, t.Unit)
		if t.Err != "" {
			measured, limit = "-", op+" -"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Group, t.Name, measured, limit, ratio, t.verdict(), t.Formula)
		if !t.Pass() {
			missed++
			if t.Cause != "" {
				causes = append(causes, t.Group+" "+t.Name+": "+t.Cause)
			}
		}
	}
	_ = tw.Flush()
	for _, c := range causes {
		fmt.Fprintln(w, "  why: "+c)
	}
	return missed
}

// printMeasurements writes what was measured, one line per configuration.
func printMeasurements(w io.Writer, ms []*measurement) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measurement\tclients\tinfer/s\tp50\tp90\tp99\tcount\terrors\tstable\tnote")
	for _, m := range ms {
		l := m.Level
		if m.Err != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t-\t%s\n", m.Name, oneLine(m.Err))
			continue
		}
		note := ""
		if l.FirstError != "" {
			note = "first error: " + oneLine(l.FirstError)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1fus\t%.1fus\t%.1fus\t%d\t%d\t%v\t%s\n", m.Name, l.Concurrency, l.Throughput,
			us(l.P50), us(l.P90), us(l.P99), l.Count, l.Errors, l.Stable, note)
	}
	_ = tw.Flush()
}

// oneLine shortens a message to one line of at most 160 characters.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}
