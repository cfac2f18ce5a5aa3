package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.bad.want from the current messages")

// problemsOf runs a config through ParseFile and returns every problem,
// fatal (schema) or per model, one per line.
func problemsOf(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile("/etc/ovms/config.json", data)
	var lines []string
	var fe *FileError
	switch {
	case errors.As(err, &fe):
		lines = append(lines, "fatal: "+fe.Reason)
		for _, p := range fe.Problems {
			lines = append(lines, p.String())
		}
		if len(fe.Problems) == 0 {
			lines = append(lines, fe.Err.Error())
		}
	case err != nil:
		t.Fatalf("%s: unexpected error type %T: %v", path, err, err)
	default:
		for _, p := range f.Problems {
			lines = append(lines, "skipped: "+p.String())
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestBadConfigs checks every testdata/*.bad.json against its .bad.want:
// the problems ovms validate prints, fatal ones (the file is refused) or
// per model (the model is skipped, the others load).
func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Fatalf("only %d bad configs", len(files))
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".bad.json")
		t.Run(name, func(t *testing.T) {
			got := problemsOf(t, path)
			if strings.TrimSpace(got) == "" || got == "fatal: \n" {
				t.Fatalf("no problem found in a bad config")
			}
			wantPath := strings.TrimSuffix(path, ".json") + ".want"
			if *update {
				if err := os.WriteFile(wantPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("problems:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestGoodConfig(t *testing.T) {
	data, err := os.ReadFile("testdata/full.good.json")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile("/etc/ovms/config.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Problems) != 0 || len(f.Models) != 4 {
		t.Fatalf("problems %v, %d models", f.Problems, len(f.Models))
	}
	r, a, c, s := f.Models[0], f.Models[1], f.Models[2], f.Models[3]
	if r.Name != "resnet" || r.BasePath != "/etc/ovms/models/resnet" || r.Nireq != 4 || r.TargetDevice != "CPU" ||
		r.PluginConfig["NUM_STREAMS"] != "2" || r.PluginConfig["session.intra_op.allow_spinning"] != "false" ||
		r.VersionPolicy.Kind != PolicyLatest || r.VersionPolicy.NumVersions != 2 {
		t.Errorf("resnet: %+v", r)
	}
	if a.BasePath != "/srv/models/abs" || a.TargetDevice != "CPU" || a.VersionPolicy.Kind != PolicySpecific || len(a.VersionPolicy.Versions) != 2 {
		t.Errorf("abs: %+v", a)
	}
	if c.BasePath != "s3://bucket/models/cloud" || c.VersionPolicy.Kind != PolicyAll || c.BatchSize != "auto" || c.Layout != `{"in":"NHWC:NCHW"}` {
		t.Errorf("cloud: %+v", c)
	}
	if s.BasePath != "/etc/ovms/shaped" || s.Shape != "(1,3,224,224)" || s.BatchSize != "" || s.DynamicBatching == nil || s.DynamicBatching.MaxBatchSize != 8 {
		t.Errorf("shaped: %+v", s)
	}
	var warnings []string
	for _, w := range f.Warnings {
		warnings = append(warnings, w.String())
	}
	want := []string{ // file-level warnings first, then per model
		"/model_config_list/3/config/batch_size: Both shape and batch size have been defined. Batch size parameter will be ignored.",
	}
	if strings.Join(warnings, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(warnings, "\n"), strings.Join(want, "\n"))
	}
	if f.Monitoring == nil || f.Monitoring.Enable || f.Monitoring.List != nil {
		t.Errorf("monitoring: %+v", f.Monitoring)
	}
	if empty, err := ParseFile("/c.json", []byte(`{"model_config_list": []}`)); err != nil || len(empty.Models) != 0 {
		t.Errorf("an empty list is valid (OVMS's emptyConfig.json): %v", err)
	}
}

func TestLoadFileErrors(t *testing.T) {
	_, err := LoadFile(filepath.Join(t.TempDir(), "missing.json"))
	var fe *FileError
	if !errors.As(err, &fe) || fe.Reason != "Configuration file not found or cannot open" {
		t.Fatalf("missing file: %v", err)
	}
}

func TestParseShapeLayoutBatch(t *testing.T) {
	for in, want := range map[string]string{
		"(1,3,224,224)":              `map[:[1 3 224 224]]`,
		" ( 1 , -1 ) ":               `map[:[1 -1]]`,
		"(1,1:10)":                   `map[:[1 -1]]`,
		`{"a": "(1,2)", "b": "(3)"}`: `map[a:[1 2] b:[3]]`,
		"()":                         `map[:[]]`,
	} {
		got, _, err := ParseShape(in)
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("%q: %v %v, want %s", in, got, err, want)
		}
	}
	if _, auto, err := ParseShape("auto"); !auto || err != nil {
		t.Errorf("auto: %v %v", auto, err)
	}
	for _, in := range []string{"1,2", "(1,2", "((1))", "(1,-2)", "(a)", "(5:2)", "(0:3)", "(1;2)"} {
		if _, _, err := ParseShape(in); err == nil || !strings.HasPrefix(err.Error(), "The provided shape is in wrong format") {
			t.Errorf("%q: %v", in, err)
		}
	}
	if l, err := ParseLayout("NHWC:NCHW"); err != nil || l[""] != "NHWC:NCHW" {
		t.Errorf("layout: %v %v", l, err)
	}
	if _, err := ParseLayout("NXYZ"); err == nil {
		t.Errorf("a bad layout was accepted")
	}
	if n, auto, err := ParseBatchSize("8"); n != 8 || auto || err != nil {
		t.Errorf("batch 8: %d %v %v", n, auto, err)
	}
	if _, _, err := ParseBatchSize("-1"); err == nil {
		t.Errorf("batch -1 accepted")
	}
}
