package storage

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ovmsgo/ovms/core/apierr"
)

func TestLocalVersions(t *testing.T) {
	base := t.TempDir()
	writeTree(t, base, map[string]string{
		"1/model.onnx":      "a",
		"2/model.xml":       "b",
		"10/sub/weights":    "c",
		"abc/x":             "",
		"0/x":               "",
		"-3/x":              "",
		"5":                 "a file, not a folder",
		"target/model.onnx": "d",
	})
	if err := os.Symlink(filepath.Join(base, "target"), filepath.Join(base, "7")); err != nil {
		t.Fatal(err)
	}
	repo, err := Open(context.Background(), base, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	s := skips{}
	got, err := repo.Versions(context.Background(), s.fn)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{
		1:  filepath.Join(base, "1"),
		2:  filepath.Join(base, "2"),
		10: filepath.Join(base, "10"),
		7:  filepath.Join(base, "7"),
	}
	if len(got) != len(want) {
		t.Fatalf("versions %v, want %v", got, want)
	}
	for n, p := range want {
		if got[n] != p {
			t.Errorf("version %d at %q, want %q", n, got[n], p)
		}
	}
	wantSkips := skips{"abc": reasonNotNumber, "target": reasonNotNumber, "0": reasonNotPositive, "-3": reasonNotPositive}
	if len(s) != len(wantSkips) {
		t.Errorf("skipped %v, want %v", s, wantSkips)
	}
	for n, r := range wantSkips {
		if s[n] != r {
			t.Errorf("skipped %q: %q, want %q", n, s[n], r)
		}
	}
	// A nil callback is allowed.
	if _, err := repo.Versions(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

func TestLocalMissingBasePath(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope")
	repo, err := Open(context.Background(), missing, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = repo.Versions(context.Background(), nil)
	wantCode(t, err, apierr.PathInvalid, "The provided base path is invalid or doesn't exists", missing)

	file := filepath.Join(dir, "file")
	writeTree(t, dir, map[string]string{"file": "x"})
	repo, _ = Open(context.Background(), file, "", nil)
	_, err = repo.Versions(context.Background(), nil)
	wantCode(t, err, apierr.PathInvalid, file, "not a directory")
	_, err = repo.Fetch(context.Background(), 1)
	wantCode(t, err, apierr.PathInvalid, file)
}

func TestLocalFetchRelease(t *testing.T) {
	base := t.TempDir()
	cache := filepath.Join(t.TempDir(), "cache")
	writeTree(t, base, map[string]string{"1/model.onnx": "a", "2/model.onnx": "b"})
	repo, err := Open(context.Background(), base, cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	if IsRemote(base) {
		t.Fatal("a local path is not remote")
	}
	p, err := repo.Fetch(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if p != filepath.Join(base, "2") {
		t.Errorf("Fetch gave %q, want the version folder", p)
	}
	_, err = repo.Fetch(context.Background(), 3)
	wantCode(t, err, apierr.PathInvalid, base, "version 3")
	if err := repo.Release(2); err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, base); got["2/model.onnx"] != "b" {
		t.Errorf("Release touched the local folder: %v", got)
	}
	if _, err := os.Stat(cache); !os.IsNotExist(err) {
		t.Errorf("a local repository created the cache folder (%v)", err)
	}
	if err := repo.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestVersionCanonicalName(t *testing.T) {
	base := t.TempDir()
	writeTree(t, base, map[string]string{"01/a": "x", "1/a": "y", "002/a": "z", "02/a": "w"})
	repo, _ := Open(context.Background(), base, "", nil)
	got, err := repo.Versions(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got[1] != filepath.Join(base, "1") || got[2] != filepath.Join(base, "002") || len(got) != 2 {
		t.Errorf("versions %v: want 1 -> 1 and 2 -> 002", got)
	}
}
