package onnxruntime

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// globalPoolsChild is set in the environment of the test process that
// TestGlobalThreadPools starts: the global pools must be set before the
// process's environment exists, which the other tests of this package
// create without them.
const globalPoolsChild = "ORTGO_TEST_GLOBAL_POOLS_CHILD"

// processThreads reads the thread count of this process from
// /proc/self/status.
func processThreads(t testing.TB) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("/proc/self/status: %q: %v", sc.Text(), err)
			}
			return n
		}
	}
	t.Fatal("/proc/self/status has no Threads line")
	return 0
}

// TestGlobalThreadPools runs TestGlobalThreadPoolsChild in a process of
// its own (see globalPoolsChild).
func TestGlobalThreadPools(t *testing.T) {
	initLib(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestGlobalThreadPoolsChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), globalPoolsChild+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestGlobalThreadPoolsChild")) {
		t.Fatalf("child test process: %v\n%s", err, out)
	}
	t.Logf("child test process:\n%s", out)
}

// TestGlobalThreadPoolsUnset checks that a session cannot ask for the
// global pools of an environment created without them, and that they
// cannot be set once the environment exists.
func TestGlobalThreadPoolsUnset(t *testing.T) {
	if os.Getenv(globalPoolsChild) != "" {
		t.Skip("the child process has global pools")
	}
	model := identityModel(t, Float32, 2)
	newSession(t, model, SessionOptions{}) // the environment exists from here on
	s, err := NewSession(model, SessionOptions{UseGlobalThreadPools: true})
	if err == nil {
		s.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "UseGlobalThreadPools") || !strings.Contains(err.Error(), "no global thread pools") {
		t.Errorf("NewSession(UseGlobalThreadPools) without global pools: %v, want an error naming UseGlobalThreadPools", err)
	}
	if err := SetGlobalThreadPools(GlobalThreadPools{IntraOpThreads: 2}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("SetGlobalThreadPools after the environment exists: %v, want an error", err)
	}
	if _, set := GlobalThreadPoolsSet(); set {
		t.Error("GlobalThreadPoolsSet() reports pools after a refused SetGlobalThreadPools")
	}
}

// binaryMatrix returns a size×size float32 matrix of random 0s and 1s and
// its integer copy: products of such matrices are exact in float32 (every
// sum is an integer below 2^24 for the sizes used here), whatever order the
// engine's threads add in.
func binaryMatrix(r *rand.Rand, size int) ([]byte, []int64) {
	raw := make([]byte, 4*size*size)
	m := make([]int64, size*size)
	for i := range m {
		m[i] = int64(r.IntN(2))
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(m[i])))
	}
	return raw, m
}

// matPow returns x^p for a size×size integer matrix.
func matPow(x []int64, size, p int) []int64 {
	y := x
	for range p - 1 {
		z := make([]int64, size*size)
		for i := range size {
			for k := range size {
				if a := y[i*size+k]; a != 0 {
					for j := range size {
						z[i*size+j] += a * x[k*size+j]
					}
				}
			}
		}
		y = z
	}
	return y
}

// TestGlobalThreadPoolsChild (run only by TestGlobalThreadPools) creates
// sessions of several models on global pools: the process's thread count
// must not grow with them (sessions with pools of their own, created
// afterwards as a control, do grow it), and the sessions must compute
// exact results when run from several goroutines at once.
func TestGlobalThreadPoolsChild(t *testing.T) {
	if os.Getenv(globalPoolsChild) == "" {
		t.Skip("run by TestGlobalThreadPools in a process of its own")
	}
	const intra, size, nSessions = 4, 128, 24
	if err := SetGlobalThreadPools(GlobalThreadPools{IntraOpThreads: -1}); err == nil {
		t.Error("SetGlobalThreadPools with a negative thread count succeeded")
	}
	pools := GlobalThreadPools{IntraOpThreads: intra, InterOpThreads: 1}
	if err := SetGlobalThreadPools(pools); err != nil {
		t.Fatal(err)
	}
	if got, set := GlobalThreadPoolsSet(); !set || got != pools {
		t.Errorf("GlobalThreadPoolsSet() = %+v, %t; want %+v, true", got, set, pools)
	}
	initLib(t)
	models := [][]byte{chainModel(t, 1, size), chainModel(t, 2, size), chainModel(t, 3, size)}
	global := SessionOptions{UseGlobalThreadPools: true}

	beforeEnv := processThreads(t)
	sessions := []*Session{newSession(t, models[0], global)}
	first := processThreads(t)
	for i := 1; i < nSessions; i++ {
		sessions = append(sessions, newSession(t, models[i%len(models)], global))
	}
	after := processThreads(t)
	t.Logf("threads: %d before the environment, %d with it and one session on the global pools, %d with %d sessions",
		beforeEnv, first, after, nSessions)
	// Each session with a pool of its own would add intra-1 threads; the Go
	// runtime may start a thread or two of its own meanwhile.
	if after-first > intra-1 {
		t.Errorf("%d sessions on the global pools grew the process by %d threads (from %d to %d), want at most %d (Go runtime slack)",
			nSessions-1, after-first, first, after, intra-1)
	}

	if s, err := NewSession(models[0], SessionOptions{UseGlobalThreadPools: true, IntraOpThreads: 2}); err == nil {
		s.Close()
		t.Error("NewSession(UseGlobalThreadPools with IntraOpThreads 2) succeeded, want an error")
	}
	if err := SetGlobalThreadPools(pools); err == nil {
		t.Error("SetGlobalThreadPools after the environment exists succeeded")
	}

	// Several goroutines run different models on the one pool at once.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 16))
			for i := range 20 {
				si := (g + i) % len(sessions)
				raw, m := binaryMatrix(r, size)
				x, err := NewTensorCopy(Float32, []int64{size, size}, raw)
				if err != nil {
					errs <- err
					return
				}
				outs := []*Value{nil}
				err = sessions[si].Run([]string{"x"}, []*Value{x}, []string{"y"}, outs)
				x.Close()
				if err != nil {
					errs <- fmt.Errorf("goroutine %d, session %d: %w", g, si, err)
					return
				}
				want := matPow(m, size, si%len(models)+2)
				got := outs[0].Bytes()
				for j, w := range want {
					if v := math.Float32frombits(binary.LittleEndian.Uint32(got[4*j:])); float64(v) != float64(w) {
						errs <- fmt.Errorf("goroutine %d, session %d (%d MatMuls): y[%d] = %v, want %d", g, si, si%len(models)+1, j, v, w)
						break
					}
				}
				outs[0].Close()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Control: sessions with pools of their own do add threads, so the
	// count above would have seen them.
	base := processThreads(t)
	for range 4 {
		newSession(t, models[0], SessionOptions{IntraOpThreads: intra})
	}
	if own := processThreads(t); own-base < 4*(intra-1) {
		t.Errorf("4 sessions with pools of %d threads grew the process by %d threads (from %d to %d), want at least %d",
			intra, own-base, base, own, 4*(intra-1))
	} else {
		t.Logf("control: 4 sessions with their own pools of %d: threads %d -> %d", intra, base, own)
	}
}
