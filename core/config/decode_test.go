package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaValid reports whether data is JSON that the schema accepts: the
// documents decodeDoc is given.
func schemaValid(data []byte) bool {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	return err == nil && schema().Validate(inst) == nil
}

// manyModels is a config.json of n models in the scale bench's mix: every
// 10th with all versions, every 4th with a plugin_config.
func manyModels(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"model_config_list": [`)
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"config": {"name": "m%03d", "base_path": "m%03d"`, i, i)
		if i%10 == 0 {
			b.WriteString(`, "model_version_policy": {"all": {}}`)
		}
		if i%4 == 3 {
			b.WriteString(`, "plugin_config": {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}`)
		}
		b.WriteString(`}}`)
	}
	b.WriteString("]}\n")
	return []byte(b.String())
}

// decodeCorpus is every config.json of the package's testdata that the
// schema accepts, and a generated one of 200 models.
func decodeCorpus(t testing.TB) map[string][]byte {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{"200 models": manyModels(200)}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if schemaValid(data) {
			out[filepath.Base(f)] = data
		}
	}
	return out
}

// TestDecodeDocMatchesKoanf: for every schema-valid config of the testdata
// (models skipped by the semantic checks included) and 200 generated
// models, decodeDoc gives the document koanf and mapstructure gave, and
// ParseFile the same File from either.
func TestDecodeDocMatchesKoanf(t *testing.T) {
	corpus := decodeCorpus(t)
	if len(corpus) < 15 {
		t.Fatalf("only %d schema-valid configs to compare", len(corpus))
	}
	for name, data := range corpus {
		got, err := decodeDoc(data)
		if err != nil {
			t.Errorf("%s: decodeDoc: %v", name, err)
			continue
		}
		want, err := decodeDocKoanf(data)
		if err != nil {
			t.Errorf("%s: decodeDocKoanf: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decodeDoc\n%#v\nkoanf\n%#v", name, got, want)
			continue
		}
		f1, f2 := &File{}, &File{}
		got.apply(f1, "/etc/ovms")
		want.apply(f2, "/etc/ovms")
		if !reflect.DeepEqual(f1, f2) {
			t.Errorf("%s: the files differ:\n%+v\n%+v", name, f1, f2)
		}
	}
	data, err := os.ReadFile("testdata/every_field.good.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := decodeDoc(data)
	if err != nil {
		t.Fatal(err)
	}
	// The fixture sets every field, so that a field decodeDoc left out
	// would show.
	for _, check := range []struct {
		what string
		set  bool
	}{
		{"models", len(doc.ModelConfigList) == 8},
		{"loaders", len(doc.CustomLoaderConfigList) == 2 && doc.CustomLoaderConfigList[0].Config.LoaderConfigFile == "aes.json"},
		{"node libraries", len(doc.CustomNodeLibraryConfigList) == 1},
		{"pipelines", len(doc.PipelineConfigList) == 1 && len(doc.PipelineConfigList[0].Nodes) == 2 && doc.PipelineConfigList[0].Nodes[1].GatherFromNode == "classify"},
		{"mediapipe", len(doc.MediapipeConfigList) == 1},
		{"monitoring", doc.Monitoring != nil && doc.Monitoring.Metrics.Enable && len(doc.Monitoring.Metrics.MetricsList) == 2},
		{"stateful", doc.ModelConfigList[4].Config.StateMapping["h_in"] == "h_out" && *doc.ModelConfigList[4].Config.MaxSequenceNumber == 1000},
		{"loader options", doc.ModelConfigList[6].Config.CustomLoaderOptions["flag"] == true},
	} {
		if !check.set {
			t.Errorf("every_field.good.json: %s not decoded", check.what)
		}
	}
}

// repeatedKeyDocs are schema-valid documents with a key given twice in one
// object, which koanf (and the schema validator) read as the last value.
var repeatedKeyDocs = []string{
	`{"model_config_list": [{"config": {"name": "a", "base_path": "a", "nireq": 2}, "config": {"name": "b", "base_path": "b"}}]}`,
	`{"model_config_list": [{"config": {"name": "a", "base_path": "a", "plugin_config": {"A": "1"}, "plugin_config": {"B": "2"}}}]}`,
	`{"model_config_list": [{"config": {"name": "a", "base_path": "a", "model_version_policy": {"specific": {"versions": [1]}}, "model_version_policy": {"latest": {"num_versions": 1}}}}]}`,
	`{"model_config_list": [], "model_config_list": [{"config": {"name": "a", "base_path": "a"}}]}`,
}

// TestDecodeDocRepeatedKeys: a document with a key repeated in one object
// decodes as koanf decoded it (the last value wins; encoding/json would
// merge the objects), and hasRepeatedKey tells such documents from those
// whose keys repeat only across objects.
func TestDecodeDocRepeatedKeys(t *testing.T) {
	for _, d := range repeatedKeyDocs {
		data := []byte(d)
		if !schemaValid(data) {
			t.Fatalf("the schema refuses %s; the test needs documents it accepts", d)
		}
		if !hasRepeatedKey(data) {
			t.Errorf("hasRepeatedKey missed the repeated key of %s", d)
		}
		got, err := decodeDoc(data)
		if err != nil {
			t.Fatal(err)
		}
		want, err := decodeDocKoanf(data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decodeDoc\n%#v\nkoanf\n%#v", d, got, want)
		}
	}
	for name, data := range decodeCorpus(t) {
		if hasRepeatedKey(data) {
			t.Errorf("%s: hasRepeatedKey found a repeated key where keys repeat only across objects", name)
		}
	}
}

// TestDecodeDocErrorUnchanged: a schema-valid document encoding/json
// cannot decode (a number beyond float64) fails with the error koanf gave,
// through ParseFile too.
func TestDecodeDocErrorUnchanged(t *testing.T) {
	data := []byte(`{"model_config_list": [{"config": {"name": "a", "base_path": "a", "nireq": 1e400}}]}`)
	if !schemaValid(data) {
		t.Fatal("the schema refuses the document; the test needs one it accepts")
	}
	_, want := decodeDocKoanf(data)
	if want == nil {
		t.Fatal("koanf decoded 1e400")
	}
	_, got := decodeDoc(data)
	if got == nil || got.Error() != want.Error() {
		t.Errorf("decodeDoc error %v, want %v", got, want)
	}
	_, err := ParseFile("/etc/ovms/config.json", data)
	if wantMsg := "/etc/ovms/config.json: " + ReasonNotJSON + ": " + want.Error(); err == nil || err.Error() != wantMsg {
		t.Errorf("ParseFile error %v, want %s", err, wantMsg)
	}
}

// FuzzDecodeDoc: whatever schema-valid document it is given, decodeDoc
// agrees with koanf and mapstructure (the same document, or both fail with
// the same error).
func FuzzDecodeDoc(f *testing.F) {
	for _, data := range decodeCorpus(f) {
		f.Add(data)
	}
	f.Add([]byte(`{"model_config_list": [{"config": {"name": "a", "base_path": "a", "nireq": 1e400}}]}`))
	f.Add([]byte(`{"model_config_list": [{"config": {"name": "a", "name": "b", "base_path": "a\u0000b"}}]}`))
	for _, d := range repeatedKeyDocs {
		f.Add([]byte(d))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !schemaValid(data) {
			return
		}
		got, gotErr := decodeDoc(data)
		want, wantErr := decodeDocKoanf(data)
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("errors differ: decodeDoc %v, koanf %v", gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("documents differ:\n%#v\n%#v", got, want)
		}
	})
}

// BenchmarkParseFile200 parses a config.json of 200 models (what every
// reload of a changed file costs the core), and decodes it both ways.
func BenchmarkParseFile200(b *testing.B) {
	data := manyModels(200)
	b.Run("ParseFile", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseFile("/etc/ovms/config.json", data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decodeDoc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeDoc(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decodeDocKoanf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeDocKoanf(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
