package shm

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// EnvLayout is the environment variable through which the host tells the
// plugin where the arena is: "fd=3,size=N,split=S".
const EnvLayout = "OVMS_ARENA"

// ChildFD is the descriptor number the arena has in the plugin process
// (exec.Cmd.ExtraFiles[0]).
const ChildFD = 3

// Layout describes an arena: its size and where the plugin zone begins.
type Layout struct {
	FD    int
	Size  uint64
	Split uint64
}

// String encodes the layout for EnvLayout.
func (l Layout) String() string {
	return fmt.Sprintf("fd=%d,size=%d,split=%d", l.FD, l.Size, l.Split)
}

// ParseLayout decodes the value of EnvLayout.
func ParseLayout(s string) (Layout, error) {
	var l Layout
	seen := 0
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return l, fmt.Errorf("arena layout %q: %q is not key=value", s, kv)
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return l, fmt.Errorf("arena layout %q: %s: %w", s, k, err)
		}
		switch k {
		case "fd":
			l.FD = int(n)
		case "size":
			l.Size = n
		case "split":
			l.Split = n
		default:
			return l, fmt.Errorf("arena layout %q: unknown key %q", s, k)
		}
		seen++
	}
	if seen != 3 || l.Split > l.Size || l.Split%Align != 0 {
		return l, fmt.Errorf("arena layout %q: want fd, size and an aligned split <= size", s)
	}
	return l, nil
}

// Arena is one shared-memory region mapped into this process.
type Arena struct {
	mem    []byte
	file   *os.File // the memfd (host side) or the inherited descriptor
	layout Layout
	host   *Zone
	plugin *Zone
}

// Create makes a new arena of size bytes (host side). The plugin zone gets the
// upper pluginPart of it (0 < pluginPart < 1). Pages are not touched: memory
// is committed on first use and then stays with the arena, so the steady state
// costs no page faults and no mapping per request.
func Create(name string, size uint64, pluginPart float64) (*Arena, error) {
	if size < 2*Align || pluginPart <= 0 || pluginPart >= 1 {
		return nil, fmt.Errorf("creating arena: size %d or plugin part %v out of range", size, pluginPart)
	}
	split := uint64(float64(size)*(1-pluginPart)) &^ (Align - 1)
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating arena memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		f.Close()
		return nil, fmt.Errorf("sizing arena to %d bytes: %w", size, err)
	}
	a, err := mapArena(f, Layout{FD: ChildFD, Size: size, Split: split})
	if err != nil {
		f.Close()
		return nil, err
	}
	return a, nil
}

// Open maps the arena this process inherited (plugin side).
func Open(l Layout) (*Arena, error) {
	f := os.NewFile(uintptr(l.FD), "arena")
	if f == nil {
		return nil, fmt.Errorf("opening arena: bad descriptor %d", l.FD)
	}
	var st unix.Stat_t
	if err := unix.Fstat(l.FD, &st); err != nil {
		return nil, fmt.Errorf("opening arena fd %d: %w", l.FD, err)
	}
	if uint64(st.Size) < l.Size {
		return nil, fmt.Errorf("opening arena fd %d: file has %d bytes, layout says %d", l.FD, st.Size, l.Size)
	}
	return mapArena(f, l)
}

// OpenFromEnv maps the arena described by EnvLayout (plugin side).
func OpenFromEnv() (*Arena, error) {
	v := os.Getenv(EnvLayout)
	if v == "" {
		return nil, fmt.Errorf("opening arena: %s is not set (is this process started by ovms?)", EnvLayout)
	}
	l, err := ParseLayout(v)
	if err != nil {
		return nil, err
	}
	return Open(l)
}

func mapArena(f *os.File, l Layout) (*Arena, error) {
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
