package plugins_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSDKDoesNotImportCore keeps the SDK free of the server so plugin
// authors can build against it alone.
func TestSDKDoesNotImportCore(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/ovmsgo/ovms/core") || strings.HasPrefix(pkg, "github.com/ovmsgo/ovms/cli") {
			t.Errorf("plugins/ depends on %s", pkg)
		}
	}
}
