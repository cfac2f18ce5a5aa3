package cli

import (
	"io"
	"slices"
	"testing"
)

func TestFlagsFirst(t *testing.T) {
	app := NewApp(io.Discard, io.Discard)
	for _, c := range []struct{ in, want []string }{
		{[]string{"ovms", "plugin", "install", "P", "--plugin_dir", "D"}, []string{"ovms", "plugin", "install", "--plugin_dir", "D", "P"}},
		{[]string{"ovms", "plugin", "install", "P", "--plugin_dir=D", "--sha256", "-x"}, []string{"ovms", "plugin", "install", "--plugin_dir=D", "--sha256", "-x", "P"}},
		{[]string{"ovms", "plugin", "install", "--plugin_dir", "D", "--", "-P"}, []string{"ovms", "plugin", "install", "--plugin_dir", "D", "--", "-P"}},
		{[]string{"ovms", "validate", "c.json", "--check_storage", "x"}, []string{"ovms", "validate", "--check_storage", "c.json", "x"}},
		{[]string{"ovms", "bench", "x", "-m", "dummy", "-c", "1:4"}, []string{"ovms", "bench", "-m", "dummy", "-c", "1:4", "x"}},
		{[]string{"ovms", "--model_name", "m", "x", "--port", "1"}, []string{"ovms", "--model_name", "m", "x", "--port", "1"}},
		{[]string{"ovms", "plugin", "help"}, []string{"ovms", "plugin", "help"}},
		{[]string{"ovms"}, []string{"ovms"}},
	} {
		if got := flagsFirst(app, c.in); !slices.Equal(got, c.want) {
			t.Errorf("flagsFirst(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
