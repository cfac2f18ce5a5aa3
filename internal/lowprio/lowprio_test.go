package lowprio

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRunLowersThePriority checks that f runs on a thread whose nice value
// is Nice above the caller's, and that the caller's thread keeps its own.
func TestRunLowersThePriority(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("thread priorities are set on Linux only")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, ok := ThreadNice()
	if !ok {
		t.Fatal("cannot read the thread's nice value")
	}
	var inside int
	if err := Run(func() { inside, _ = ThreadNice() }); err != nil {
		t.Fatal(err)
	}
	if want := min(before+Nice(), 19); inside != want {
		t.Errorf("nice inside Run %d, want %d (caller %d, Nice %d)", inside, want, before, Nice())
	}
	if after, _ := ThreadNice(); after != before {
		t.Errorf("the caller's nice changed from %d to %d", before, after)
	}
}

// TestRunRepanics checks that a panic in f reaches the caller.
func TestRunRepanics(t *testing.T) {
	defer func() {
		if v := recover(); v != "boom" {
			t.Errorf("recovered %v, want boom", v)
		}
	}()
	_ = Run(func() { panic("boom") })
	t.Error("Run returned after a panic")
}

// TestDoOnlyForBackground checks that Do lowers the priority for a
// context marked by Background only.
func TestDoOnlyForBackground(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("thread priorities are set on Linux only")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	base, _ := ThreadNice()
	var plain, background int
	if err := Do(context.Background(), func() { plain, _ = ThreadNice() }); err != nil {
		t.Fatal(err)
	}
	ctx := Background(context.Background())
	if !IsBackground(ctx) || IsBackground(context.Background()) {
		t.Fatal("IsBackground does not tell the contexts apart")
	}
	if err := Do(ctx, func() { background, _ = ThreadNice() }); err != nil {
		t.Fatal(err)
	}
	if plain != base {
		t.Errorf("Do without Background ran at nice %d, want the caller's %d", plain, base)
	}
	if want := min(base+Nice(), 19); background != want {
		t.Errorf("Do with Background ran at nice %d, want %d", background, want)
	}
}

// TestRunLeavesNoThreadLowered: many Runs from many goroutines (some of
// them land on the process's main thread, which the runtime never ends)
// leave no thread of the process at a lowered priority, the main thread
// included.
func TestRunLeavesNoThreadLowered(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("thread priorities are set on Linux only")
	}
	base, ok := taskNice(t, os.Getpid())
	if !ok {
		t.Fatal("cannot read the main thread's nice value")
	}
	if min(base+Nice(), 19) == base {
		t.Skipf("already at nice %d: nothing lower", base)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if err := Run(func() {}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// A lowered thread ends just after its Run returns: wait for the last
	// ones. The main thread never ends, so a lowered one stays.
	var lowered []string
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		lowered = nil
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			tid, _ := strconv.Atoi(task.Name())
			if nice, ok := taskNice(t, tid); ok && nice != base {
				lowered = append(lowered, fmt.Sprintf("thread %d (main thread: %t) at nice %d", tid, tid == os.Getpid(), nice))
			}
		}
		if len(lowered) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, l := range lowered {
		t.Errorf("%s, want %d", l, base)
	}
}

// taskNice reads a thread's nice value from /proc/self/task/TID/stat
// (field 19); false when the thread has ended.
func taskNice(t *testing.T, tid int) (int, bool) {
	t.Helper()
	stat, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // from field 3
	nice, err := strconv.Atoi(f[16])
	return nice, err == nil
}
