package main

import (
	"fmt"
	"strings"

	"github.com/ovmsgo/ovms/cli/bench"
)

// shmTarget measures the client shared memory target: ovms serving
// add_one with the tensors in the client's shared memory, against 1.05 x
// the engine's p50 + the empty echo's p50. The four that decide it (the
// engine, the empty echo, ovms, and the floor: the engine echo, a server
// adding nothing to the round trip but the engine's run in its own
// process) are measured in rotating rounds, each starting one further
// along, and each taken at its median p50 (since the twentieth session):
// on this shared machine one slowed window of the engine or the echo moved
// the limit by a third. eng and empty, measured once before, are the first
// round's.
func (s *suite) shmTarget(g string, eng, empty *measurement) {
	rounds := 3
	if s.opt.quick {
		rounds = 1
	}
	one := []int{1}
	engs, empties := []*measurement{eng}, []*measurement{empty}
	var shms, floors []*measurement
	for r := range rounds {
		if r > 0 {
			s.suffix = fmt.Sprintf(" (round %d)", r+1)
		}
		steps := []func(){
			func() { shms = append(shms, s.ovmsRun(addOne, bench.KServeGRPC, one, shmOVMS)) },
			func() { floors = append(floors, s.engineEchoRun(addOne)) },
			func() {
				if r > 0 {
					engs = append(engs, s.engineRun(addOne, 1))
				}
			},
			func() {
				if r > 0 {
					empties = append(empties, s.echoRun("empty"))
				}
			},
		}
		for i := range steps {
			steps[(i+r)%len(steps)]()
		}
	}
	s.suffix = ""
	eng, empty = medianP50(engs), medianP50(empties)
	shm, floor := medianP50(shms), medianP50(floors)
	// Context: where a request's time goes, from ovms's own metrics (the
	// engine's run in the plugin, the server's time around it), and the
	// crossing to the plugin on its own (issue 16).
	_, split := s.shmSplitRun(addOne)
	var rtt *measurement
	if empty.problem() == "" {
		gap := empty.Level.P50
		s.servers.close()
		// The core -> CPU plugin -> core round trip with this model,
		// inputs in the arena, after an idle gap as long as an empty
		// round trip: beyond the engine's run it is what the channel
		// costs the request.
		rtt = s.measure(fmt.Sprintf("plugin round trip %s, %.0fus idle before each call", addOne, us(gap)), func() (*bench.Report, error) {
			_, gapped, err := pluginRoundTrips(s.ctx, s.load, s.opt.binDir, s.opt.modelsDir, addOne, gap)
			return gapped, err
		})
	}
	limit := 1.05*us(eng.Level.P50) + us(empty.Level.P50)
	from := append(append(append([]*measurement(nil), shms...), engs...), empties...)
	s.addTarget(target{Group: g, Name: "12 MiB p50, client shared memory", Measured: us(shm.Level.P50), Unit: "us",
		Limit: limit,
		Formula: fmt.Sprintf("1.05 x engine %.1fus + echo empty %.1fus; medians of %d rotating rounds",
			us(eng.Level.P50), us(empty.Level.P50), len(shms)),
		Cause: joinCauses(shmCause(shm, eng, empty, rtt, split), engineEchoCause(floor, shm, limit),
			shmRoundsCause(shms, floors, engs, empties))}, from...)
}

// shmRoundsCause lists each round's p50 of ovms, the floor (engine echo),
// the engine and the empty echo, in the order measured; "" with fewer than
// two rounds or a failed measurement.
func shmRoundsCause(shms, floors, engs, empties []*measurement) string {
	n := len(shms)
	if n < 2 || len(floors) != n || len(engs) != n || len(empties) != n {
		return ""
	}
	var parts []string
	for _, row := range []struct {
		name string
		ms   []*measurement
	}{{"ovms", shms}, {"floor", floors}, {"engine", engs}, {"empty echo", empties}} {
		var vs []string
		for _, m := range row.ms {
			if m.problem() != "" {
				return ""
			}
			vs = append(vs, fmt.Sprintf("%.1f", us(m.Level.P50)))
		}
		parts = append(parts, row.name+" "+strings.Join(vs, "/"))
	}
	return "p50 by round (us): " + strings.Join(parts, ", ")
}
