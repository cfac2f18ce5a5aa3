package integration

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// docExample is one runnable block of docs/api.md.
type docExample struct {
	line   int
	model  string
	flags  []string
	expect string
	script string
}

// docExamples reads the ```sh blocks that follow an
// "<!-- example model=M [flags=F]... [expect=S] -->" comment.
func docExamples(t *testing.T, path string) []docExample {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []docExample
	var cur *docExample
	inBlock := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "<!-- example "):
			cur = &docExample{line: n}
			for _, kv := range strings.Fields(strings.TrimSuffix(strings.TrimPrefix(line, "<!-- example "), "-->")) {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "model":
					cur.model = v
				case "flags":
					cur.flags = append(cur.flags, v)
				case "expect":
					cur.expect = v
				default:
					t.Fatalf("%s:%d: unknown example key %q", path, n, k)
				}
			}
		case cur != nil && !inBlock && line == "```sh":
			inBlock = true
		case inBlock && line == "```":
			out = append(out, *cur)
			cur, inBlock = nil, false
		case inBlock:
			cur.script += line + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: example comment without a ```sh block", path, cur.line)
	}
	return out
}

// TestAPIDocExamples runs every example of docs/api.md against the real
// binaries and checks that every gRPC method and REST route has one.
func TestAPIDocExamples(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(root, "docs", "api.md")
	examples := docExamples(t, doc)
	if len(examples) < 15 {
		t.Fatalf("only %d examples in %s", len(examples), doc)
	}
	grpcurl(t) // into binDir, which the examples find on PATH
	servers := map[string]*server{}
	var all strings.Builder
	for _, ex := range examples {
		all.WriteString(ex.script)
		key := ex.model + " " + strings.Join(ex.flags, " ")
		s := servers[key]
		if s == nil {
			s = startServer(t, ex.model, ex.flags...)
			servers[key] = s
		}
		script := strings.NewReplacer("localhost:8000", s.url("")[len("http://"):], "localhost:9000", s.grpcAddr()).Replace(ex.script)
		cmd := exec.Command("bash", "-eo", "pipefail", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+binDir+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("docs/api.md:%d: %v\n%s\n%s", ex.line, err, ex.script, out)
			continue
		}
		if !strings.Contains(string(out), ex.expect) {
			t.Errorf("docs/api.md:%d: output lacks %q\n%s", ex.line, ex.expect, out)
		}
	}
	for _, s := range servers {
		s.alive()
	}

	// Every gRPC method has an example.
	text := all.String()
	for _, sd := range []grpc.ServiceDesc{kpb.GRPCInferenceService_ServiceDesc, tfspb.PredictionService_ServiceDesc,
		tfspb.ModelService_ServiceDesc, healthpb.Health_ServiceDesc} {
		var names []string
		for _, m := range sd.Methods {
			names = append(names, m.MethodName)
		}
		for _, st := range sd.Streams {
			names = append(names, st.StreamName)
		}
		for _, n := range names {
			if !strings.Contains(text, sd.ServiceName+"/"+n) {
				t.Errorf("docs/api.md has no example of %s/%s", sd.ServiceName, n)
			}
		}
	}
	// Every REST route has an example (the patterns of core/api/rest).
	for _, re := range []string{
		`/v2/health/live\b`, `/v2/health/ready\b`, `/v2\s`, `/v2/models/dummy\s`, `/v2/models/dummy/versions/1\s`,
		`/v2/models/dummy/ready`, `/v2/models/dummy/versions/1/ready`, `/v2/models/dummy/infer`, `/v2/models/dummy/versions/1/infer`,
		`/v1/models/dummy\s`, `/v1/models/dummy/versions/1\s`, `/v1/models/dummy/metadata`, `/v1/models/dummy/versions/1/metadata`,
		`/v1/models/dummy:predict`, `/v1/models/dummy/versions/1:predict`, `/v2/repository/index`, `/v2/repository/models/dummy/load`,
		`/v2/repository/models/dummy/unload`, `/v2/systemsharedmemory/status`, `/v2/systemsharedmemory/region/io/status`,
		`/v2/systemsharedmemory/region/io/register`, `/v2/systemsharedmemory/region/io/unregister`, `/v2/systemsharedmemory/unregister`,
		`/v1/config\s`, `/v1/config/reload`,
	} {
		if !regexp.MustCompile(`localhost:8000` + re).MatchString(text) {
			t.Errorf("docs/api.md has no example of the REST route %s", re)
		}
	}
}
