package host

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ovmsgo/ovms/plugins/shm"
)

func TestLayoutRoundTripAndErrors(t *testing.T) {
	l := shm.Layout{FD: 3, Size: 1 << 20, Split: 1 << 19}
	got, err := ParseLayout(l.String())
	if err != nil || got != l {
		t.Fatalf("round trip %+v %v", got, err)
	}
	for _, bad := range []string{"", "fd=3", "fd=3,size=10,split=20", "fd=3,size=128,split=65", "fd=x,size=1,split=0", "fd=3,size=128,split=64,extra=1"} {
		if _, err := ParseLayout(bad); err == nil {
			t.Errorf("ParseLayout(%q) accepted", bad)
		}
	}
}

func TestArenaSharedBetweenMappings(t *testing.T) {
	host, err := CreateArena("test", 1<<20, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if host.Layout().Split != 3<<18 || host.HostZone().End() != host.PluginZone().Start() {
		t.Fatalf("layout %+v", host.Layout())
	}
	// A second, independent mapping of the same memfd sees the host's writes,
	// as the plugin process does through its inherited descriptor.
	dup, err := unix.Dup(int(host.File().Fd()))
	if err != nil {
		t.Fatal(err)
	}
	l := host.Layout()
	l.FD = dup
	child, err := OpenArena(l)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close()
	b, _ := host.Bytes(100, 5)
	copy(b, "hello")
	c, _ := child.Bytes(100, 5)
	if string(c) != "hello" {
		t.Fatalf("second mapping sees %q", c)
	}
	if _, err := host.Bytes(host.Size()-4, 5); err == nil {
		t.Fatal("range past the end accepted")
	}
	if _, err := host.Bytes(^uint64(0)-1, 4); err == nil {
		t.Fatal("overflowing range accepted")
	}
}

func TestOpenFromEnvNeedsLayout(t *testing.T) {
	t.Setenv(EnvLayout, "")
	if _, err := OpenArenaFromEnv(); err == nil {
		t.Fatal("OpenFromEnv without layout succeeded")
	}
}
