package config

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ovmsgo/ovms/plugins/modelfile"
)

// TestLoadFileRefusesSpecialFiles: a config.json that is a FIFO, a device
// or a folder is refused at once with ReasonCannotOpen, instead of
// blocking the start (a FIFO's open waits for a writer) or reading
// without end (/dev/zero). A link to a regular file is read.
func TestLoadFileRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.json")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, []byte(`{"model_config_list": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, zero, dir} {
		done := make(chan error, 1)
		go func() { _, err := LoadFile(path); done <- err }()
		select {
		case err := <-done:
			var fe *FileError
			if !errors.As(err, &fe) || fe.Reason != ReasonCannotOpen || !errors.Is(err, modelfile.ErrNotRegular) {
				t.Errorf("%s: got %v, want %q wrapping %v", path, err, ReasonCannotOpen, modelfile.ErrNotRegular)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: LoadFile blocked for 10 s", path)
		}
	}
	if _, err := LoadFile(link); err != nil {
		t.Errorf("a link to a regular config: %v", err)
	}
}
