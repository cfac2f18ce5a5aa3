package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestLoadParallelismReachesThePlugin: --model_load_parallelism is how
// many versions the CPU plugin compiles at once, which the plugin reports
// when it starts (the core keeps twice as many loads in the plugin, so
// that the next one is there when a compile ends); without the flag it is
// the core's default, the CPUs and at least 2. Either way every version
// of twelve models loads.
func TestLoadParallelismReachesThePlugin(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(modelsDir, "dummy", "1", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []string
	for i := range 12 {
		name := fmt.Sprintf("m%02d", i)
		if err := os.MkdirAll(filepath.Join(dir, name, "1"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "1", "model.onnx"), src, 0o644); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, fmt.Sprintf(`{"config": {"name": %q, "base_path": %q}}`, name, filepath.Join(dir, name)))
	}
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, `{"model_config_list": [`+strings.Join(entries, ", ")+`]}`)
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"--model_load_parallelism", "1"}, 1},
		{[]string{"--model_load_parallelism", "3"}, 3},
		{nil, max(2, runtime.GOMAXPROCS(0))},
	} {
		t.Run(fmt.Sprint(c.want), func(t *testing.T) {
			s := launch(t, nil, append([]string{"--config_path", cfg}, c.args...)...)
			s.waitReady()
			waitLog(t, s, `msg="server ready"`, 20*time.Second)
			if want := fmt.Sprintf("compiles_at_once=%d ", c.want); !strings.Contains(s.log(), want) {
				t.Errorf("the plugin's start does not say %q\n%s", want, s.log())
			}
			if n := strings.Count(s.log(), `msg="model version loaded"`); n != 12 {
				t.Errorf("%d versions loaded, want 12\n%s", n, s.log())
			}
		})
	}
}
