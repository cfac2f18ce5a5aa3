package storage

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// settledRepo opens a local repository of base with a short settle time,
// waits until base has settled and lists it once (a listing to reuse).
func settledRepo(t *testing.T, base string) *localRepo {
	t.Helper()
	if runtime.GOOS != "linux" || !onReusableFS(t, base) {
		t.Skip("listings are reused on Linux's local file systems only")
	}
	old := settleTime
	settleTime = 50 * time.Millisecond
	t.Cleanup(func() { settleTime = old })
	repo, err := Open(context.Background(), base, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	r := repo.(*localRepo)
	time.Sleep(2 * settleTime)
	versions(t, r)
	return r
}

// onReusableFS reports whether dir's file system is one whose listings
// are reused.
func onReusableFS(t *testing.T, dir string) bool {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return reusableFS(f)
}

func versions(t *testing.T, r *localRepo) map[int64]string {
	t.Helper()
	got, err := r.Versions(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestLocalListingReused: a settled folder is read once; later listings
// reuse it (one stat each) and give the same versions, and the skipped
// entries are reported again every time.
func TestLocalListingReused(t *testing.T) {
	base := t.TempDir()
	writeTree(t, base, map[string]string{"1/model.onnx": "a", "2/model.onnx": "b", "abc/x": ""})
	r := settledRepo(t, base)
	for i := range 3 {
		s := skips{}
		got, err := r.Versions(context.Background(), s.fn)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[1] != filepath.Join(base, "1") || got[2] != filepath.Join(base, "2") {
			t.Fatalf("listing %d: versions %v", i, got)
		}
		if len(s) != 1 || s["abc"] != reasonNotNumber {
			t.Fatalf("listing %d: skipped %v", i, s)
		}
		got[3] = "changed by the caller" // the reused listing is not the caller's map
	}
	if n := r.reads.Load(); n != 1 {
		t.Fatalf("the folder was read %d times, want 1 (the listing was not reused)", n)
	}
}

// TestLocalListingSeesChanges: a version folder added, removed or renamed
// right after a reused listing, or the base path replaced by another
// folder, is seen by the next listing.
func TestLocalListingSeesChanges(t *testing.T) {
	base := filepath.Join(t.TempDir(), "model")
	writeTree(t, base, map[string]string{"1/model.onnx": "a"})
	r := settledRepo(t, base)
	check := func(step string, want ...int64) {
		t.Helper()
		got := versions(t, r)
		if len(got) != len(want) {
			t.Fatalf("%s: versions %v, want %v", step, got, want)
		}
		for _, n := range want {
			if _, ok := got[n]; !ok {
				t.Fatalf("%s: versions %v, want %v", step, got, want)
			}
		}
	}
	check("settled", 1)
	if err := os.Mkdir(filepath.Join(base, "2"), 0o755); err != nil {
		t.Fatal(err)
	}
	check("version 2 added", 1, 2)
	time.Sleep(2 * settleTime)
	check("settled again", 1, 2)
	if err := os.Rename(filepath.Join(base, "2"), filepath.Join(base, "3")); err != nil {
		t.Fatal(err)
	}
	check("version 2 renamed 3", 1, 3)
	time.Sleep(2 * settleTime)
	check("settled again", 1, 3)
	if err := os.Remove(filepath.Join(base, "3")); err != nil {
		t.Fatal(err)
	}
	check("version 3 removed", 1)
	// Another folder renamed into the base path's place, its times older
	// than the listing's.
	other := filepath.Join(filepath.Dir(base), "other")
	writeTree(t, other, map[string]string{"5/model.onnx": "a"})
	time.Sleep(2 * settleTime)
	check("settled again", 1)
	if err := os.Rename(base, filepath.Join(filepath.Dir(base), "old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, base); err != nil {
		t.Fatal(err)
	}
	check("base path replaced", 5)
}

// TestLocalListingUnsettled: a folder changed within settleTime of a
// listing is read again every time.
func TestLocalListingUnsettled(t *testing.T) {
	base := t.TempDir()
	writeTree(t, base, map[string]string{"1/model.onnx": "a"})
	r := settledRepo(t, base)
	settleTime = time.Hour // however slowly the listings below come
	if err := os.Mkdir(filepath.Join(base, "2"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := r.reads.Load()
	for range 3 {
		if got := versions(t, r); len(got) != 2 {
			t.Fatalf("versions %v, want 1 and 2", got)
		}
	}
	if n := r.reads.Load() - before; n != 3 {
		t.Fatalf("an unsettled folder was read %d times in 3 listings, want 3", n)
	}
}

// TestLocalListingLinkedVersions: a folder with a version that is a
// symbolic link is read every time: what the link points at can change
// without the folder changing.
func TestLocalListingLinkedVersions(t *testing.T) {
	dir := t.TempDir()
	base, target := filepath.Join(dir, "model"), filepath.Join(dir, "target")
	writeTree(t, base, map[string]string{"1/model.onnx": "a"})
	writeTree(t, target, map[string]string{"model.onnx": "b"})
	if err := os.Symlink(target, filepath.Join(base, "2")); err != nil {
		t.Fatal(err)
	}
	r := settledRepo(t, base)
	if got := versions(t, r); len(got) != 2 {
		t.Fatalf("versions %v, want 1 and 2", got)
	}
	if err := os.RemoveAll(target); err != nil {
		t.Fatal(err)
	}
	if got := versions(t, r); len(got) != 1 {
		t.Fatalf("versions %v after the link's target went, want 1 only", got)
	}
	if n := r.reads.Load(); n != 3 {
		t.Fatalf("the folder was read %d times in 3 listings, want 3", n)
	}
}

// TestLocalListingLinkFlipped: a base path that is a link flipped between
// two settled folders while it is listed never gets one folder's listing
// kept under the other's identity.
func TestLocalListingLinkFlipped(t *testing.T) {
	dir := t.TempDir()
	a, b, base := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "model")
	writeTree(t, a, map[string]string{"1/model.onnx": "a"})
	writeTree(t, b, map[string]string{"1/model.onnx": "a", "2/model.onnx": "b"})
	point := func(target string) {
		tmp := base + ".tmp"
		if err := os.Symlink(target, tmp); err != nil {
			t.Error(err)
			return
		}
		if err := os.Rename(tmp, base); err != nil { // atomic: base always exists
			t.Error(err)
		}
	}
	point(a)
	r := settledRepo(t, base)
	check := func(target string, want int) {
		t.Helper()
		point(target)
		if got := versions(t, r); len(got) != want {
			t.Fatalf("base path at %s: versions %v, want %d", filepath.Base(target), got, want)
		}
	}
	// Rounds of listings while the link flips, each followed by a look
	// at both folders: the listing the round left must match its folder.
	for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); {
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				point([]string{a, b}[i%2])
			}
		}()
		for range 20 {
			versions(t, r)
		}
		close(stop)
		<-done
		check(a, 1)
		check(b, 2)
	}
}
