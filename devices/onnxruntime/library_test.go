package onnxruntime

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func touch(t *testing.T, path string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFindLibraryORTLib(t *testing.T) {
	lib := touch(t, filepath.Join(t.TempDir(), "custom", "libort.so"))
	t.Setenv("ORT_LIB", lib)
	got, err := FindLibrary()
	if err != nil || got != lib {
		t.Fatalf("FindLibrary() with ORT_LIB = %q, %v; want %q", got, err, lib)
	}
	t.Setenv("ORT_LIB", lib+".missing")
	if _, err := FindLibrary(); err == nil || !strings.Contains(err.Error(), "ORT_LIB="+lib+".missing") {
		t.Fatalf("FindLibrary() with a missing ORT_LIB: %v, want an error naming it", err)
	}
}

func TestFindLibraryOrder(t *testing.T) {
	cache := filepath.Join(".cache", "onnxruntime", CacheVersion, LibraryName)
	tests := []struct {
		name  string
		files []string // created under a temp root
		exe   string   // relative to the root
		wd    string
		want  string // relative to the root; "" for an error
	}{
		{"beside executable", []string{"bin/" + LibraryName, "go.mod", cache}, "bin/ovms", "", "bin/" + LibraryName},
		{"../lib", []string{"lib/" + LibraryName, "go.mod", cache}, "bin/ovms", "", "bin/../lib/" + LibraryName},
		{"repo cache from executable", []string{"go.mod", cache}, "sub/bin/ovms", "", cache},
		{"repo cache from working dir", []string{"repo/go.mod", "repo/" + cache}, "bin/ovms", "repo/a/b", "repo/" + cache},
		{"executable's repo first", []string{"go.mod", cache, "w/go.mod", "w/" + cache}, "bin/ovms", "w", cache},
		{"nothing", []string{"go.mod"}, "bin/ovms", "x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range tt.files {
				touch(t, filepath.Join(root, f))
			}
			wd := root
			if tt.wd != "" {
				wd = filepath.Join(root, tt.wd)
			}
			got, err := findLibrary("", filepath.Join(root, tt.exe), wd)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("found %s, want an error", got)
				}
				for _, s := range []string{filepath.Join(root, "bin", LibraryName), filepath.Join(root, cache), "scripts/fetch-onnxruntime.sh", "ORT_LIB"} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %s", err, s)
					}
				}
				return
			}
			if want := filepath.Join(root, tt.want); err != nil || got != want {
				t.Fatalf("findLibrary = %q, %v; want %q", got, err, want)
			}
		})
	}
}

func TestInitTwice(t *testing.T) {
	initLib(t)
	path := loadedPath
	if err := Init(path); err != nil {
		t.Fatalf("second Init(%s): %v", path, err)
	}
	if err := Init(""); err != nil {
		t.Fatalf("Init(\"\") after Init: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = Init(path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Init %d: %v", i, err)
		}
	}
	other := filepath.Join(t.TempDir(), LibraryName)
	if err := Init(other); err == nil || !strings.Contains(err.Error(), "already initialized") {
		t.Errorf("Init(%s) after Init(%s): %v, want an already-initialized error", other, path, err)
	}
}
