// Package modelfile reads the files of a model repository safely: a model
// folder is user input, and a file in it may be a FIFO (whose open blocks
// until a writer comes), a device such as /dev/zero (endless), a socket or
// a folder. ReadFile refuses everything that is not a regular file, without
// blocking, and reads no more than the file's size when it was opened. A
// symbolic link to a regular file is followed and accepted, as OVMS
// accepts it. Device plugins and the core use it for every file of a
// version folder they read.
package modelfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// ErrNotRegular is wrapped by the error for a path that is not a regular
// file (after following symbolic links).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by the error for a file larger than the limit.
var ErrTooLarge = errors.New("file too large")

// Open opens path for reading if it is a regular file (following symbolic
// links) and returns it with its size. The open never blocks: a FIFO is
// opened non-blocking and refused, as are devices, sockets and folders.
func Open(path string) (*os.File, int64, error) {
	// Stat first, so that a device is never opened at all (opening some
	// has side effects); then check what was opened, which a rename in
	// between cannot change.
	if st, err := os.Stat(path); err != nil {
		return nil, 0, err
	} else if !st.Mode().IsRegular() {
		return nil, 0, notRegular(path, st.Mode())
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat() // of what was opened, not of the name: no race with a swap
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, notRegular(path, st.Mode())
	}
	// O_NONBLOCK has no effect on regular files; clear it anyway so that
	// the descriptor behaves as a plain one if it is handed on.
	if err := clearNonblock(f); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	return f, st.Size(), nil
}

// ReadFile reads the regular file at path (see Open), refusing files over
// limit bytes (limit <= 0: no limit beyond the file's size). It reads
// exactly the size the file had when opened: a file that grows meanwhile
// is cut there, one that shrinks gives an error.
func ReadFile(path string, limit int64) ([]byte, error) { return ReadFileInto(path, limit, nil) }

// ReadFileInto is ReadFile reading into buf when its capacity holds the
// file (the result is then buf[:size]), else into a new slice: a caller
// reading many files can reuse one buffer instead of new memory, which
// the kernel zeroes page by page before the copy.
func ReadFileInto(path string, limit int64, buf []byte) ([]byte, error) {
	f, size, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if limit > 0 && size > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d allowed: %w", path, size, limit, ErrTooLarge)
	}
	if int64(cap(buf)) >= size {
		buf = buf[:size]
	} else {
		buf = make([]byte, size)
	}
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("%s: reading %d bytes: %w", path, size, err)
	}
	return buf, nil
}

func clearNonblock(f *os.File) error {
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = syscall.SetNonblock(int(fd), false) }); err != nil {
		return err
	}
	return serr
}

func notRegular(path string, m os.FileMode) error {
	return fmt.Errorf("%s is %s, %w: model files must be regular files or symbolic links to one", path, kind(m), ErrNotRegular)
}

// kind names a file type for messages.
func kind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	}
	return "a special file"
}

// DirSize is the total size in bytes of the regular files directly in dir,
// symbolic links to regular files counted by their target (one ReadDir and
// a stat per entry; no file is opened); 0 when dir cannot be read. Loads
// use it to start the largest versions first (internal/slots).
func DirSize(dir string) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range ents {
		info, err := e.Info()
		if err == nil && info.Mode()&os.ModeSymlink != 0 {
			info, err = os.Stat(dir + string(os.PathSeparator) + e.Name())
		}
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}

// Mapping is a regular file mapped into memory by Map.
type Mapping struct {
	// Data is the file's bytes as mapped (nil for an empty file). Reading
	// a page the file no longer has, after it was truncated, raises
	// SIGBUS: a caller that hands Data to code it cannot stop guards it
	// (plugins/shm/faultguard). The mapping is not a snapshot: a page not
	// yet read shows what the file holds when it is read (see Changed).
	Data []byte
	file *os.File
	at   syscall.Stat_t // the file when mapped
}

// Map maps the regular file at path (see Open) read-only into memory,
// refusing files over limit bytes (limit <= 0: no limit beyond the file's
// size). Nothing is copied: the pages come from the page cache as they are
// read, without the copy and the fresh zeroed pages of ReadFile (for a
// 100 MB model about 25,000 page faults fewer). The file stays open until
// Close, which unmaps it.
func Map(path string, limit int64) (*Mapping, error) {
	f, size, err := Open(path)
	if err != nil {
		return nil, err
	}
	if limit > 0 && size > limit {
		f.Close()
		return nil, fmt.Errorf("%s is %d bytes, more than the %d allowed: %w", path, size, limit, ErrTooLarge)
	}
	m := &Mapping{file: f}
	if err := syscall.Fstat(int(f.Fd()), &m.at); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if size == 0 {
		return m, nil
	}
	if int64(int(size)) != size {
		f.Close()
		return nil, fmt.Errorf("%s is %d bytes, more than this process can map: %w", path, size, ErrTooLarge)
	}
	if m.Data, err = syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: mapping %d bytes: %w", path, size, err)
	}
	return m, nil
}

// Changed reports whether the mapped file was written, truncated or
// extended since Map (its size or modification time differ): its bytes
// may then be partly old and partly new. A file replaced by a rename is
// not changed (its change time moves as it loses its name, but not its
// contents): the mapping keeps the file it opened.
func (m *Mapping) Changed() bool {
	if m.file == nil {
		return false
	}
	var now syscall.Stat_t
	if err := syscall.Fstat(int(m.file.Fd()), &now); err != nil {
		return true
	}
	return now.Size != m.at.Size || now.Mtim != m.at.Mtim
}

// Close unmaps the file and closes it; Data must no longer be used. A
// second Close does nothing.
func (m *Mapping) Close() error {
	var errs []error
	if m.Data != nil {
		if err := syscall.Munmap(m.Data); err != nil {
			errs = append(errs, fmt.Errorf("unmapping a model file: %w", err))
		}
		m.Data = nil
	}
	if m.file != nil {
		errs = append(errs, m.file.Close())
		m.file = nil
	}
	return errors.Join(errs...)
}
