package main

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ovmsgo/ovms/cli/bench"
)

// shmMetricsOVMS serves client shared memory with metrics on, for the split
// of the client shared memory row's time (the target itself is measured
// with metrics off).
var shmMetricsOVMS = variant{label: shmOVMS.label + ", metrics on", flags: append(slices.Clone(shmOVMS.flags), "--metrics_enable"), shm: true}

// shmSplit is where a request's time went through client shared memory, as
// means over a run in microseconds: the client's latency, the server's
// (ovms_request_time_us: from the request's arrival in its API handler to
// its response) and the engine's run in the plugin (ovms_inference_time_us).
type shmSplit struct {
	client, server, engine float64
}

// shmSplitRun measures model through client shared memory once more, on an
// ovms with metrics on, and reads from its metrics where the requests' time
// went; the split is nil when it could not (the reason goes to the log).
// The server's means include the warm-up's requests, the client's do not.
func (s *suite) shmSplitRun(model string) (*measurement, *shmSplit) {
	read := func() (req, reqN, inf, infN float64, err error) {
		srv, err := s.servers.get(model, shmMetricsOVMS.flags...)
		if err != nil {
			return 0, 0, 0, 0, err
		}
		if req, reqN, err = histogram(s.ctx, srv.restURL, "ovms_request_time_us", model); err == nil {
			inf, infN, err = histogram(s.ctx, srv.restURL, "ovms_inference_time_us", model)
		}
		return req, reqN, inf, infN, err
	}
	req0, reqN0, inf0, infN0, err0 := read()
	m := s.ovmsRun(model, bench.KServeGRPC, []int{1}, shmMetricsOVMS)
	req1, reqN1, inf1, infN1, err1 := read()
	switch err := errors.Join(err0, err1); {
	case err != nil:
		fmt.Fprintf(s.log, "no split of %s's time: %v\n", model, err)
		return m, nil
	case m.problem() != "" || reqN1 <= reqN0 || infN1 <= infN0:
		return m, nil
	}
	return m, &shmSplit{client: us(m.Level.Mean), server: (req1 - req0) / (reqN1 - reqN0), engine: (inf1 - inf0) / (infN1 - infN0)}
}

// shmCause splits what ovms took with client shared memory (shm, p50)
// beyond an empty round trip (empty) and the engine run back to back
// (eng), from a run on an ovms with metrics on (sp, means): the engine's
// run in the plugin against the engine's back to back, the server's time
// beyond the run (the core's request path, the crossing to the plugin and
// back), and the time outside the request handling (the client, gRPC and
// the two network legs) against the empty echo's round trip; rtt, when measured, is the
// crossing to the plugin on its own after an idle gap. "" when a figure is
// missing.
func shmCause(shm, eng, empty, rtt *measurement, sp *shmSplit) string {
	for _, m := range []*measurement{shm, eng, empty} {
		if m == nil || m.problem() != "" {
			return ""
		}
	}
	if sp == nil {
		return ""
	}
	over := us(shm.Level.P50 - empty.Level.P50 - eng.Level.P50)
	cause := fmt.Sprintf("ovms adds %.1fus p50 over echo empty+engine. Means with metrics on (client %.1fus): the engine's run in the plugin %.1fus (back to back %.1fus, %+.1fus); the server beyond that run (request path, crossing to the plugin and back) %.1fus; outside the request handling (the client, gRPC and the network legs) %.1fus against the empty echo's %.1fus (%+.1fus)",
		over, sp.client, sp.engine, us(eng.Level.Mean), sp.engine-us(eng.Level.Mean), sp.server-sp.engine,
		sp.client-sp.server, us(empty.Level.Mean), sp.client-sp.server-us(empty.Level.Mean))
	if rtt != nil && rtt.problem() == "" {
		cause += fmt.Sprintf("; the plugin round trip alone after an idle gap %.1fus p50", us(rtt.Level.P50))
	}
	return cause
}
