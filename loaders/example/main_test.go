package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ovmsgo/ovms/plugins/host/loaderhost"
	"github.com/ovmsgo/ovms/plugins/loader/loadertest"
)

func TestContract(t *testing.T) {
	base := t.TempDir()
	writeFile(t, filepath.Join(base, "1", "model.onnx"), "not really onnx")
	loadertest.Contract(t, newExample, loadertest.Case{BasePath: base, Version: 1})
}

func TestRetiredByEnableFile(t *testing.T) {
	base := t.TempDir()
	for _, v := range []string{"1", "2", "3"} {
		writeFile(t, filepath.Join(base, v, "model.onnx"), "x")
	}
	writeFile(t, filepath.Join(base, "2", "status"), "DISABLED\n")
	writeFile(t, filepath.Join(base, "3", "status"), "ENABLED\n")
	c := loadertest.Start(t, newExample, "")
	req := loaderhost.Request{Name: "m", BasePath: base, OptionsJSON: `{"loader_name":"example","enable_file":"status"}`}
	got, err := c.Retired(context.Background(), req, []int64{1, 2, 3})
	if err != nil || !slices.Equal(got, []int64{2}) {
		t.Fatalf("Retired = %v, %v; want [2]", got, err)
	}
	req.OptionsJSON = `{"loader_name":"example"}`
	if got, err := c.Retired(context.Background(), req, []int64{1, 2, 3}); err != nil || len(got) != 0 {
		t.Fatalf("without enable_file: Retired = %v, %v; want none", got, err)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
