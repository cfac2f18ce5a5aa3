package modelfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadFileRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(regular, []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.onnx")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := func(name, target string) string {
		p := filepath.Join(dir, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	toRegular, toZero, toFifo := link("ok.onnx", regular), link("zero.onnx", "/dev/zero"), link("tofifo.onnx", fifo)

	for _, c := range []struct{ path, want string }{
		{fifo, "a named pipe (FIFO)"},
		{toFifo, "a named pipe (FIFO)"},
		{toZero, "a character device"},
		{dir, "a directory"},
	} {
		done := make(chan error, 1)
		go func() { _, err := ReadFile(c.path, 0); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v", c.path, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: ReadFile blocked", c.path)
		}
	}
	for _, p := range []string{regular, toRegular} {
		if data, err := ReadFile(p, 0); err != nil || string(data) != "12345" {
			t.Errorf("%s: %q %v", p, data, err)
		}
	}
	if _, err := ReadFile(regular, 4); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "5 bytes") {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "none"), 0); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestReadFileInto reads into the given buffer when it holds the file and
// into a new slice when it does not, and never returns stale bytes.
func TestReadFileInto(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(path, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	buf := []byte("xxxxxxxxxxxxxxxxxxxx")[:0]
	got, err := ReadFileInto(path, 0, buf)
	if err != nil || string(got) != "0123456789" {
		t.Fatalf("ReadFileInto with room: %q, %v", got, err)
	}
	if &got[0] != &buf[:1][0] {
		t.Error("a buffer with room for the file was not used")
	}
	small := make([]byte, 0, 4)
	got, err = ReadFileInto(path, 0, small)
	if err != nil || string(got) != "0123456789" {
		t.Fatalf("ReadFileInto without room: %q, %v", got, err)
	}
	if &got[0] == &small[:1][0] {
		t.Error("a buffer too small for the file was written past its capacity")
	}
	if _, err := ReadFileInto(path, 5, buf); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v, want ErrTooLarge", err)
	}
}

// TestDirSize: regular files and links to them count, folders, links to
// folders and dangling links do not; an unreadable folder weighs 0.
func TestDirSize(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	write := func(path string, n int) {
		if err := os.WriteFile(path, make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "model.xml"), 100)
	write(filepath.Join(dir, "model.bin"), 1000)
	write(filepath.Join(other, "target.onnx"), 5000)
	for name, target := range map[string]string{"linked.onnx": filepath.Join(other, "target.onnx"), "dir-link": other, "dangling": filepath.Join(other, "none")} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(dir, "sub", "ignored"), 70000)
	if got := DirSize(dir); got != 6100 {
		t.Errorf("DirSize = %d, want 6100 (100 + 1000 + the linked 5000)", got)
	}
	if got := DirSize(filepath.Join(dir, "missing")); got != 0 {
		t.Errorf("DirSize of a missing folder = %d, want 0", got)
	}
}

// TestMap: a mapped file reads as the file, Close unmaps (twice is fine),
// and Map refuses what ReadFile refuses.
func TestMap(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.onnx")
	want := make([]byte, 3<<20+123)
	for i := range want {
		want[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Map(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != string(want) {
		t.Fatal("mapped bytes differ from the file")
	}
	if !mapped(t, path) {
		t.Errorf("%s is not in /proc/self/maps while mapped", path)
	}
	if m.Changed() {
		t.Error("Changed() for a file nobody touched")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if mapped(t, path) {
		t.Errorf("%s still in /proc/self/maps after Close", path)
	}

	if _, err := Map(path, 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Map over the limit: %v, want ErrTooLarge", err)
	}
	if _, err := Map(dir, 0); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Map(a folder): %v, want ErrNotRegular", err)
	}
	empty := filepath.Join(dir, "empty.onnx")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if m, err := Map(empty, 0); err != nil || len(m.Data) != 0 {
		t.Errorf("Map(an empty file) = %v, %v; want no bytes, no error", m, err)
	} else if err := m.Close(); err != nil {
		t.Errorf("Close of an empty mapping: %v", err)
	}
}

// mapped reports whether path appears in this process's mappings.
func mapped(t *testing.T, path string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip("no /proc/self/maps")
	}
	return strings.Contains(string(b), path)
}

// TestMapChanged: a file written in place or truncated after Map is
// Changed; one replaced by a rename is not (the mapping keeps its file).
func TestMapChanged(t *testing.T) {
	dir := t.TempDir()
	write := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, 8192), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	inPlace, cut, renamed := write("inplace.onnx"), write("cut.onnx"), write("renamed.onnx")
	other := write("other.onnx")
	maps := map[string]*Mapping{}
	for _, p := range []string{inPlace, cut, renamed} {
		m, err := Map(p, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		maps[p] = m
	}
	time.Sleep(50 * time.Millisecond) // past the file system's timestamp granularity
	f, err := os.OpenFile(inPlace, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{1}, 100); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Truncate(cut, 4096); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, renamed); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{inPlace: true, cut: true, renamed: false} {
		if got := maps[p].Changed(); got != want {
			t.Errorf("%s: Changed() = %v, want %v", filepath.Base(p), got, want)
		}
	}
}
