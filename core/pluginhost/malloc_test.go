package pluginhost

import (
	"slices"
	"testing"
)

func TestWithMallocTunables(t *testing.T) {
	got := WithMallocTunables([]string{"PATH=/bin"})
	if !slices.Equal(got, []string{"PATH=/bin", "GLIBC_TUNABLES=" + MallocTunables}) {
		t.Errorf("added: %q", got)
	}
	own := []string{"GLIBC_TUNABLES=glibc.malloc.arena_max=2", "PATH=/bin"}
	if got := WithMallocTunables(own); !slices.Equal(got, own) {
		t.Errorf("an operator's GLIBC_TUNABLES was changed: %q", got)
	}
}
