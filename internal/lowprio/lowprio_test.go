package lowprio

import (
	"context"
	"runtime"
	"testing"
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
