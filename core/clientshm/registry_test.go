package clientshm

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ovmsgo/ovms/core/apierr"
)

// shmFile makes /dev/shm/<name> (removed with the test) with make and
// returns its key.
func shmFile(t *testing.T, name string, make func(path string) error) string {
	t.Helper()
	key := fmt.Sprintf("ovms-clientshm-test-%d-%s", os.Getpid(), name)
	path := filepath.Join("/dev/shm", key)
	_ = os.RemoveAll(path)
	if err := make(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(path) })
	return key
}

func regular(size int) func(string) error {
	return func(p string) error { return os.WriteFile(p, make([]byte, size), 0o600) }
}

func TestRegisterRefusesAllButOwnRegularFiles(t *testing.T) {
	own := shmFile(t, "own", regular(4096))
	ownPath := filepath.Join("/dev/shm", own)
	refused := map[string]string{
		"symlink to a file":     shmFile(t, "link", func(p string) error { return os.Symlink("/etc/passwd", p) }),
		"symlink to own region": shmFile(t, "link-own", func(p string) error { return os.Symlink(ownPath, p) }),
		"dangling symlink":      shmFile(t, "dangling", func(p string) error { return os.Symlink("/dev/shm/ovms-none", p) }),
		"fifo":                  shmFile(t, "fifo", func(p string) error { return unix.Mkfifo(p, 0o600) }),
		"directory":             shmFile(t, "dir", func(p string) error { return os.Mkdir(p, 0o700) }),
		"missing":               fmt.Sprintf("ovms-clientshm-test-%d-missing", os.Getpid()),
		"another owner's file":  shmFile(t, "other", func(p string) error { return chowned(p, 4096, 54321) }),
		"symlink to another's file": shmFile(t, "link-other", func(p string) error {
			return os.Symlink(filepath.Join("/dev/shm", fmt.Sprintf("ovms-clientshm-test-%d-other", os.Getpid())), p)
		}),
	}
	r := NewRegistry()
	for what, key := range refused {
		for _, size := range []uint64{1, 1 << 40} {
			err := r.Register("x", key, 0, size)
			want := "Unable to open shared memory region: '" + key + "'"
			if !apierr.Is(err, apierr.SharedMemoryOpenFailed) || err.Error() != want {
				t.Errorf("%s, %d bytes: %v, want %q", what, size, err, want)
			}
		}
	}
	if err := r.Register("io", own, 0, 4096); err != nil {
		t.Fatalf("own regular file: %v", err)
	}
	// Another uid allowed: its regular files only.
	r2 := NewRegistry(54321)
	if err := r2.Register("o", refused["another owner's file"], 0, 16); err != nil {
		t.Errorf("a file of an allowed uid: %v", err)
	}
	if err := r2.Register("l", refused["symlink to another's file"], 0, 16); !apierr.Is(err, apierr.SharedMemoryOpenFailed) {
		t.Errorf("a symlink to a file of an allowed uid: %v", err)
	}
	_ = r.Unregister("")
	_ = r2.Unregister("")
}

func chowned(p string, size int, uid int) error {
	if err := os.WriteFile(p, make([]byte, size), 0o666); err != nil {
		return err
	}
	return os.Chown(p, uid, uid)
}

// A truncated object is caught at the use, with a message naming the
// tensor and the region; grown back, it is usable again.
func TestHoldsChecksTheObjectAtEachUse(t *testing.T) {
	key := shmFile(t, "holds", regular(4096))
	r := NewRegistry()
	if err := r.Register("io", key, 1024, 2048); err != nil {
		t.Fatal(err)
	}
	reg, err := r.Acquire("io")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Release()
	if err := reg.Holds("input b", 2000, 48); err != nil {
		t.Fatalf("intact object: %v", err)
	}
	path := filepath.Join("/dev/shm", key)
	if err := os.Truncate(path, 3000); err != nil {
		t.Fatal(err)
	}
	if err := reg.Holds("input b", 0, 1976); err != nil {
		t.Errorf("bytes still held: %v", err)
	}
	err = reg.Holds("input b", 2000, 48)
	want := "input b: shared memory region 'io' was truncated after registration and no longer holds bytes [2000, 2048) of the region"
	if !apierr.Is(err, apierr.SharedMemoryInvalid) || err.Error() != want {
		t.Errorf("truncated: %v, want %q", err, want)
	}
	if err := os.Truncate(path, 4096); err != nil {
		t.Fatal(err)
	}
	if err := reg.Holds("input b", 2000, 48); err != nil {
		t.Errorf("grown back: %v", err)
	}
}

// The descriptor is held from registration until the region is gone, so
// a file put in the key's place is not the registered object.
func TestRegistrationHoldsTheObject(t *testing.T) {
	key := shmFile(t, "held", regular(64))
	r := NewRegistry()
	if err := r.Register("io", key, 0, 64); err != nil {
		t.Fatal(err)
	}
	reg, _ := r.Status("io")
	first := reg[0].obj
	path := filepath.Join("/dev/shm", key)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, make([]byte, 64), 0o600); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Ino == first.ino && st.Dev == first.dev {
		t.Fatal("the replacement has the registered object's inode")
	}
	if n, err := first.currentSize(); err != nil || n != 64 {
		t.Fatalf("the held object: %d %v", n, err)
	}
	_ = r.Unregister("io")
}
