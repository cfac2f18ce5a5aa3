package gcfloor

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		live, scannable, floor uint64
		want                   int
	}{
		{2 << 20, 2 << 20, 16 << 20, 400},     // Go's least goal, 4 MiB * 4, is the floor
		{100 << 10, 100 << 10, 16 << 20, 400}, // however small the live heap
		{1 << 20, 1 << 20, 8 << 20, 200},      // 4 MiB * 2
		{2 << 20, 2 << 20, 64 << 20, 400},     // MaxPercent: at most 5 times the live heap
		{6 << 20, 6 << 20, 24 << 20, 300},     // 6 + 6 * 3 = 24
		{6 << 20, 8 << 20, 24 << 20, 225},     // stacks and globals count in Go's goal
		{6 << 20, 0, 24 << 20, 300},           // scannable is at least the live heap
		{8 << 20, 8 << 20, 16 << 20, 100},     // half the floor: Go's default
		{9 << 20, 9 << 20, 16 << 20, 100},     // over half: the default, not less
		{6 << 20, 10 << 20, 16 << 20, 100},    // (16-6)/10: not less than the default
		{100 << 20, 100 << 20, 16 << 20, 100}, // far over
		{0, 1 << 20, 16 << 20, 100},
		{7 << 20, 7 << 20, 16 << 20, 128},
		{7 << 20, 7 << 20, 17 << 20, 142},
		{20 << 20, 20 << 20, 1 << 40, 400}, // a 1 TiB floor
	} {
		if got := Percent(tc.live, tc.scannable, tc.floor); got != tc.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", tc.live, tc.scannable, tc.floor, got, tc.want)
		}
	}
}

// childEnv marks the test binary's re-run as the child that allocates.
const childEnv = "GCFLOOR_TEST_CHILD"

// liveEnv gives the child's live heap in MiB (default 1).
const liveEnv = "GCFLOOR_TEST_LIVE_MB"

// garbage lets the floor's percentage be set (by the cleanup, after a
// collection), then allocates total bytes in 4 KiB objects that die at
// once, with liveMB MiB kept live. It returns the heap goal before and the
// collections the garbage took.
func garbage(t *testing.T, liveMB, total int) (goal, collections uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	keep := make([][]byte, liveMB*256)
	for i := range keep {
		keep[i] = make([]byte, 4096)
	}
	deadline := time.Now().Add(10 * time.Second)
	for t0 := tunes.Load(); Floor() > 0 && tunes.Load() < t0+2; {
		if time.Now().After(deadline) {
			t.Fatalf("the cleanup ran %d times in 10 s of collections; want 2", tunes.Load()-t0)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	runtime.GC()
	metrics.Read(s)
	goal, before := s[0].Value.Uint64(), s[1].Value.Uint64()
	var sink []byte
	for n := 0; n < total; n += 4096 {
		sink = make([]byte, 4096)
		sink[0] = byte(n)
	}
	metrics.Read(s)
	runtime.KeepAlive(keep)
	runtime.KeepAlive(sink)
	return goal, s[1].Value.Uint64() - before
}

// TestChild is the child process: it starts the floor as ovms does and
// prints the floor, Start's error, the heap goal and the collections 256
// MiB of garbage took.
func TestChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("run by TestFloor")
	}
	floor, err := Start()
	live, _ := strconv.Atoi(os.Getenv(liveEnv))
	goal, n := garbage(t, max(live, 1), 256<<20)
	fmt.Printf("result\t%d\t%v\t%d\t%d\n", floor, err, goal, n)
}

// childResult is what a child printed.
type childResult struct {
	floor, goal, collections uint64
	err                      string
}

// runChild runs the child with env added (GOGC, GOMEMLIMIT, GODEBUG and
// EnvMinHeap of this process left out).
func runChild(t *testing.T, env ...string) childResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.v")
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "GOGC" && k != EnvMinHeap && k != "GOMEMLIMIT" && k != "GODEBUG" && k != liveEnv {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(append(cmd.Env, childEnv+"=1"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %v: %v\n%s", env, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 5 || f[0] != "result" {
			continue
		}
		var r childResult
		r.floor, _ = strconv.ParseUint(f[1], 10, 64)
		r.err = f[2]
		r.goal, _ = strconv.ParseUint(f[3], 10, 64)
		r.collections, _ = strconv.ParseUint(f[4], 10, 64)
		return r
	}
	t.Fatalf("child %v printed no result:\n%s", env, out)
	return childResult{}
}

// TestFloor: a floor sets the heap goal to the floor where Go's is 4 MiB
// or twice the live heap: with 1 MiB live, 16 MiB (the default floor, and
// a 64 MiB floor too: MaxPercent caps the goal at 5 times the live heap);
// with 20 MiB live and a 64 MiB floor, 64 MiB. 256 MiB of garbage so take
// 8 to 30 collections, or 3 to 10, where Go's pacing takes 30 to 90 with 1
// MiB live. GOGC in the environment and a floor of 0 leave Go's pacing; a
// bad value gives the default floor and an error, an empty one the default.
func TestFloor(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name        string
		env         []string
		floor, goal uint64
		collections [2]uint64
		err         string
	}{
		{"the default floor", nil, 16 * mib, 16 * mib, [2]uint64{8, 30}, "<nil>"},
		{"an empty value", []string{EnvMinHeap + "="}, 16 * mib, 16 * mib, [2]uint64{8, 30}, "<nil>"},
		{"a 64 MiB floor, 1 MiB live", []string{EnvMinHeap + "=64"}, 64 * mib, 16 * mib, [2]uint64{8, 30}, "<nil>"},
		{"a 64 MiB floor, 20 MiB live", []string{EnvMinHeap + "=64", liveEnv + "=20"}, 64 * mib, 64 * mib, [2]uint64{3, 10}, "<nil>"},
		{"no floor (0)", []string{EnvMinHeap + "=0"}, 0, 4 * mib, [2]uint64{20, 1 << 20}, "<nil>"},
		{"GOGC set", []string{"GOGC=100", EnvMinHeap + "=64"}, 0, 4 * mib, [2]uint64{20, 1 << 20}, "<nil>"},
		{"a bad value", []string{EnvMinHeap + "=16MiB"}, 16 * mib, 16 * mib, [2]uint64{8, 30}, "not a whole number of MiB"},
		{"over 1 TiB", []string{EnvMinHeap + "=1048577"}, 16 * mib, 16 * mib, [2]uint64{8, 30}, "is over 1048576 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runChild(t, tc.env...)
			t.Logf("floor %d MiB: heap goal %.1f MiB, %d collections, error %s", r.floor/mib, float64(r.goal)/mib, r.collections, r.err)
			if r.floor != tc.floor {
				t.Errorf("floor %d, want %d", r.floor, tc.floor)
			}
			if r.goal < tc.goal*95/100 || r.goal > tc.goal*110/100 {
				t.Errorf("heap goal %d, want about %d", r.goal, tc.goal)
			}
			if r.collections < tc.collections[0] || r.collections > tc.collections[1] {
				t.Errorf("256 MiB of garbage took %d collections, want %d to %d", r.collections, tc.collections[0], tc.collections[1])
			}
			if !strings.Contains(r.err, tc.err) {
				t.Errorf("Start's error %q, want %q", r.err, tc.err)
			}
		})
	}
}
