package clientshm

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// object is a shared-memory object held open from registration: an O_PATH
// descriptor (opening it has no effect on the file, whatever it is, and
// reads nothing), enough to fstat it at each use and to tell the plugin
// which object to map.
type object struct {
	fd       int
	dev, ino uint64
	size     uint64 // at registration
	once     sync.Once
}

// errRefused is the cause of every refusal; clients never see it.
var errRefused = errors.New("not a regular file of an allowed owner")

// openObject opens path without following a symlink in its last element
// and accepts only a regular file owned by one of owners.
func openObject(path string, owners map[uint32]bool) (*object, error) {
	// O_PATH with O_NOFOLLOW opens a symlink itself, never its target.
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("stat of %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || !owners[st.Uid] {
		unix.Close(fd)
		return nil, fmt.Errorf("%s (mode %#o, uid %d): %w", path, st.Mode, st.Uid, errRefused)
	}
	return &object{fd: fd, dev: st.Dev, ino: st.Ino, size: uint64(st.Size)}, nil
}

// currentSize is the object's size now.
func (o *object) currentSize() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(o.fd, &st); err != nil {
		return 0, err
	}
	return uint64(st.Size), nil
}

// close releases the descriptor (once).
func (o *object) close() {
	o.once.Do(func() { _ = unix.Close(o.fd) })
}
