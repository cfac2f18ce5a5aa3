package customloader

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	aes := write("one/ovms-loader-aesgcm", 0o755)
	ex := write("two/ovms-loader-example", 0o755)
	write("two/ovms-loader-other", 0o755)
	plain := write("three/notes.txt", 0o644)
	for _, c := range []struct{ library, name, want, err string }{
		{aes, "x", aes, ""},
		{filepath.Join(dir, "one"), "anything", aes, ""}, // the only loader in the folder
		{filepath.Join(dir, "two"), "example", ex, ""},   // by name among several
		{filepath.Join(dir, "two"), "nope", "", "not exactly one"},
		{plain, "x", "", "is not an executable file"},
		{filepath.Join(dir, "missing"), "x", "", "no such file"},
		{"example", "ex", ex, ""}, // a bare name in the plugin folders
		{"ovms-loader-aesgcm", "aes", aes, ""},
		{"nope", "nope", "", "install it with `ovms plugin install`"},
	} {
		got, err := Find(c.library, c.name, []string{filepath.Join(dir, "one"), filepath.Join(dir, "two")})
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Find(%s, %s) = %s, %v; want an error with %q", c.library, c.name, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Find(%s, %s) = %s, %v; want %s", c.library, c.name, got, err, c.want)
		}
	}
}
