package host

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ovmsgo/ovms/plugins/shm"
)

// EnvLayout is the environment variable through which the host tells the
// plugin where the arena is: "fd=3,size=N,split=S".
const EnvLayout = "OVMS_ARENA"

// ChildFD is the descriptor number the arena has in the plugin process
// (exec.Cmd.ExtraFiles[0]).
const ChildFD = 3

// ParseLayout decodes the value of EnvLayout.
func ParseLayout(s string) (shm.Layout, error) {
	var l shm.Layout
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
	if seen != 3 || l.Split > l.Size || l.Split%shm.Align != 0 {
		return l, fmt.Errorf("arena layout %q: want fd, size and an aligned split <= size", s)
	}
	return l, nil
}

// CreateArena makes a new arena of size bytes (host side). The plugin zone gets the
// upper pluginPart of it (0 < pluginPart < 1). Pages are not touched: memory
// is committed on first use and then stays with the arena, so the steady state
// costs no page faults and no mapping per request.
func CreateArena(name string, size uint64, pluginPart float64) (*shm.Arena, error) {
	if size < 2*shm.Align || pluginPart <= 0 || pluginPart >= 1 {
		return nil, fmt.Errorf("creating arena: size %d or plugin part %v out of range", size, pluginPart)
	}
	split := uint64(float64(size)*(1-pluginPart)) &^ (shm.Align - 1)
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating arena memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		f.Close()
		return nil, fmt.Errorf("sizing arena to %d bytes: %w", size, err)
	}
	a, err := shm.Map(f, shm.Layout{FD: ChildFD, Size: size, Split: split})
	if err != nil {
		f.Close()
		return nil, err
	}
	return a, nil
}

// OpenArena maps the arena this process inherited (plugin side).
func OpenArena(l shm.Layout) (*shm.Arena, error) {
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
	return shm.Map(f, l)
}

// OpenArenaFromEnv maps the arena described by EnvLayout (plugin side).
func OpenArenaFromEnv() (*shm.Arena, error) {
	v := os.Getenv(EnvLayout)
	if v == "" {
		return nil, fmt.Errorf("opening arena: %s is not set (is this process started by ovms?)", EnvLayout)
	}
	l, err := ParseLayout(v)
	if err != nil {
		return nil, err
	}
	return OpenArena(l)
}
