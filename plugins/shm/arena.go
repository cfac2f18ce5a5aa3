package shm

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Layout describes an arena: its size, where the plugin zone begins, and
// the descriptor the plugin process has it as.
type Layout struct {
	FD    int
	Size  uint64
	Split uint64
}

// String encodes the layout for EnvLayout.
func (l Layout) String() string {
	return fmt.Sprintf("fd=%d,size=%d,split=%d", l.FD, l.Size, l.Split)
}

// Arena is one shared-memory region mapped into this process.
type Arena struct {
	mem    []byte
	file   *os.File // the memfd (host side) or the inherited descriptor
	layout Layout
	host   *Zone
	plugin *Zone
}

// Map maps an arena's memory from its descriptor f: the host's memfd or,
// in a plugin process, the inherited descriptor. The SDK and the host call
// it (see package host); a device gets its arena in device.Env.
func Map(f *os.File, l Layout) (*Arena, error) {
	mem, err := unix.Mmap(int(f.Fd()), 0, int(l.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mapping arena of %d bytes: %w", l.Size, err)
	}
	return &Arena{
		mem:    mem,
		file:   f,
		layout: l,
		host:   NewZone(0, l.Split),
		plugin: NewZone(l.Split, l.Size),
	}, nil
}

// File is the descriptor to hand to the child (exec.Cmd.ExtraFiles).
func (a *Arena) File() *os.File { return a.file }

// Layout is the arena's layout, with FD as the child will see it.
func (a *Arena) Layout() Layout { return a.layout }

// HostZone allocates input tensors (host side only).
func (a *Arena) HostZone() *Zone { return a.host }

// PluginZone allocates output tensors (plugin side only).
func (a *Arena) PluginZone() *Zone { return a.plugin }

// Size is the arena size in bytes.
func (a *Arena) Size() uint64 { return a.layout.Size }

// Bytes returns the arena bytes [off, off+n), checking bounds without
// overflow. The slice aliases shared memory: never retain it past the
// ownership window documented in the package comment.
func (a *Arena) Bytes(off, n uint64) ([]byte, error) {
	if off > a.layout.Size || n > a.layout.Size-off {
		return nil, fmt.Errorf("arena range [%d, +%d) outside the %d-byte arena", off, n, a.layout.Size)
	}
	return a.mem[off : off+n : off+n], nil
}

// Close unmaps the arena and closes its descriptor.
func (a *Arena) Close() error {
	var err error
	if a.mem != nil {
		err = unix.Munmap(a.mem)
		a.mem = nil
	}
	if a.file != nil {
		if cerr := a.file.Close(); err == nil {
			err = cerr
		}
		a.file = nil
	}
	return err
}
