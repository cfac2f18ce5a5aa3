package plugins_test

import (
	"go/parser"
	"go/token"
	"io/fs"
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

// TestAuthorPackagesHideHostAPI: the packages a plugin author imports do
// not export the host's side of the protocol (it lives in plugins/host).
func TestAuthorPackagesHideHostAPI(t *testing.T) {
	for pkg, hidden := range map[string][]string{
		"./device": {"Client", "NewClient", "Plugin", "PluginName", "Handshake", "Mock"},
		"./loader": {"Client", "NewClient", "Plugin", "PluginName", "Handshake"},
		"./shm":    {"Create", "Open", "OpenFromEnv", "CreateChannel", "OpenChannelFromEnv", "Channel", "Ring", "NewRing", "Endpoint"},
	} {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, pkg, func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkgs {
			for _, name := range hidden {
				for _, f := range p.Files {
					if obj := f.Scope.Lookup(name); obj != nil {
						t.Errorf("%s exports %s, which is the host's", pkg, name)
					}
				}
			}
		}
	}
}
