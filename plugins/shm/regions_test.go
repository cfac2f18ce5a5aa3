package shm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ovmsgo/ovms/plugins/shm/faultguard"
)

// clientFile makes /dev/shm/<name> of size bytes, removed with the test.
func clientFile(t *testing.T, name string, size int) string {
	t.Helper()
	path := filepath.Join(ClientDir, fmt.Sprintf("ovms-regions-test-%d-%s", os.Getpid(), name))
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(path) })
	return path
}

func identity(t *testing.T, path string) (dev, ino uint64) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Dev, st.Ino
}

func TestMapRefusesWhatTheCoreDidNotRegister(t *testing.T) {
	path := clientFile(t, "file", 4096)
	link := path + "-link"
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(link)
	fifo := path + "-fifo"
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(fifo)
	dev, ino := identity(t, path)
	tb := NewRegionTable()
	for what, s := range map[string]RegionSpec{
		"a symlink":        {ID: 1, Path: link, Size: 16},
		"a fifo":           {ID: 2, Path: fifo, Size: 16},
		"another object":   {ID: 3, Path: path, Size: 16, Dev: dev, Ino: ino + 1},
		"past the end":     {ID: 4, Path: path, Offset: 4000, Size: 100},
		"outside /dev/shm": {ID: 5, Path: "/etc/passwd", Size: 16},
	} {
		done := make(chan error, 1)
		go func() { done <- tb.Map(s) }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s: mapped", what)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Map blocked", what)
		}
	}
	if err := tb.Map(RegionSpec{ID: 9, Name: "io", Path: path, Size: 4096, Dev: dev, Ino: ino}); err != nil {
		t.Fatalf("the registered object: %v", err)
	}
	tb.Unmap(9)
}

// Each use checks the object's size: a truncated object fails with an
// ErrRegionChanged error naming the region, and works again once grown.
func TestBytesChecksTheObjectsSize(t *testing.T) {
	path := clientFile(t, "size", 8192)
	tb := NewRegionTable()
	if err := tb.Map(RegionSpec{ID: 1, Name: "io", Path: path, Offset: 4096, Size: 4096}); err != nil {
		t.Fatal(err)
	}
	defer tb.Unmap(1)
	b, release, err := tb.Bytes(1, 100, 50)
	if err != nil || len(b) != 50 {
		t.Fatalf("intact: %d bytes, %v", len(b), err)
	}
	release()
	if err := os.Truncate(path, 4096+120); err != nil {
		t.Fatal(err)
	}
	_, _, err = tb.Bytes(1, 100, 50)
	want := "shared memory region 'io' was truncated after registration and no longer holds bytes [100, 150) of the region"
	if !errors.Is(err, ErrRegionChanged) || err == nil || err.Error() != want {
		t.Fatalf("truncated: %v", err)
	}
	if _, release, err := tb.Bytes(1, 0, 120); err != nil {
		t.Fatalf("the bytes still there: %v", err)
	} else {
		release()
	}
	if err := os.Truncate(path, 8192); err != nil {
		t.Fatal(err)
	}
	if _, release, err := tb.Bytes(1, 100, 50); err != nil {
		t.Fatalf("grown back: %v", err)
	} else {
		release()
	}
	if err := tb.Intact(1); err != nil {
		t.Fatalf("Intact without a fault: %v", err)
	}
}

// With the fault guard, a truncation after the check is absorbed when the
// memory is touched: Intact reports it, and the region is refused from
// then on, even once the object is grown back.
func TestGuardedRegionTruncatedWhileUsed(t *testing.T) {
	g, err := faultguard.Install()
	if err != nil {
		t.Fatal(err)
	}
	path := clientFile(t, "guarded", 8192)
	tb := NewRegionTable()
	tb.Guard = g
	if err := tb.Map(RegionSpec{ID: 1, Name: "io", Path: path, Size: 8192}); err != nil {
		t.Fatal(err)
	}
	defer tb.Unmap(1)
	b, release, err := tb.Bytes(1, 0, 8192)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	b[5000] = 1 // the engine writing its output
	release()
	err = tb.Intact(1)
	if !errors.Is(err, ErrRegionChanged) || !strings.Contains(err.Error(), "shared memory region 'io' was truncated while a request used it") {
		t.Fatalf("Intact: %v", err)
	}
	if err := os.Truncate(path, 8192); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tb.Bytes(1, 0, 16); !errors.Is(err, ErrRegionChanged) {
		t.Fatalf("Bytes after a fault: %v", err)
	}
}

// BenchmarkBytes is the per-tensor cost of using a guarded client region:
// the lookup, the fstat and the fault flag.
func BenchmarkBytes(b *testing.B) {
	g, err := faultguard.Install()
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(ClientDir, fmt.Sprintf("ovms-regions-bench-%d", os.Getpid()))
	if err := os.WriteFile(path, make([]byte, 4096), 0o600); err != nil {
		b.Fatal(err)
	}
	defer os.Remove(path)
	tb := NewRegionTable()
	tb.Guard = g
	if err := tb.Map(RegionSpec{ID: 1, Name: "io", Path: path, Size: 4096}); err != nil {
		b.Fatal(err)
	}
	defer tb.Unmap(1)
	for b.Loop() {
		_, release, err := tb.Bytes(1, 0, 40)
		if err != nil {
			b.Fatal(err)
		}
		release()
		if err := tb.Intact(1); err != nil {
			b.Fatal(err)
		}
	}
}
