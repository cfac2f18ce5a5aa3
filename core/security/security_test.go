package security

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/apierr"
)

func keyFileAt(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func code(err error) apierr.Code {
	if err == nil {
		return 0
	}
	return apierr.From(err).Code
}

// TestAuthorizeMatrix: which key opens which class, for each combination
// of key files.
func TestAuthorizeMatrix(t *testing.T) {
	inf := keyFileAt(t, "inf", "# c\ninf\n")
	ctl := keyFileAt(t, "ctl", "ctl\n")
	const (
		ok     = apierr.Code(0)
		unauth = apierr.Unauthenticated
		denied = apierr.PermissionDenied
	)
	for _, c := range []struct {
		name     string
		cfg      Config
		key      string
		inf, ctl apierr.Code
	}{
		{"both files, no key", Config{APIKeyFile: inf, ControlAPIKeyFile: ctl}, "", unauth, unauth},
		{"both files, wrong key", Config{APIKeyFile: inf, ControlAPIKeyFile: ctl}, "Bearer nope", unauth, unauth},
		{"both files, inference key", Config{APIKeyFile: inf, ControlAPIKeyFile: ctl}, "Bearer inf", ok, denied},
		{"both files, control key", Config{APIKeyFile: inf, ControlAPIKeyFile: ctl}, "Bearer ctl", ok, ok},
		{"both files, no scheme", Config{APIKeyFile: inf, ControlAPIKeyFile: ctl}, "inf", unauth, unauth},
		{"both files, empty token", Config{APIKeyFile: inf, ControlAPIKeyFile: ctl}, "Bearer   ", unauth, unauth},
		{"both files, prefix of a key", Config{APIKeyFile: inf, ControlAPIKeyFile: ctl}, "Bearer in", unauth, unauth},
		{"inference file only, no key", Config{APIKeyFile: inf}, "", unauth, unauth},
		{"inference file only, its key", Config{APIKeyFile: inf}, "bearer inf", ok, ok},
		{"control file only, no key", Config{ControlAPIKeyFile: ctl}, "", ok, unauth},
		{"control file only, its key", Config{ControlAPIKeyFile: ctl}, "BEARER ctl", ok, ok},
	} {
		s, err := Load(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := code(s.Auth.Authorize(Inference, c.key)); got != c.inf {
			t.Errorf("%s: inference %v, want %v", c.name, got, c.inf)
		}
		if got := code(s.Auth.Authorize(Control, c.key)); got != c.ctl {
			t.Errorf("%s: control %v, want %v", c.name, got, c.ctl)
		}
		if err := s.Auth.Authorize(Open, ""); err != nil {
			t.Errorf("%s: open endpoint: %v", c.name, err)
		}
	}
	var none *Authorizer
	if err := none.Authorize(Control, ""); err != nil {
		t.Errorf("nil Authorizer: %v", err)
	}
}

func TestParseKeys(t *testing.T) {
	set, err := parseKeys([]byte("# comment\n\n a \r\nb\n#c\n"))
	if err != nil || len(set.digests) != 2 {
		t.Fatalf("%v %v", set, err)
	}
	for _, bad := range []string{"", "# only\n\n", "a b\n", "caf\u00e9\n"} {
		if _, err := parseKeys([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestGRPCClass(t *testing.T) {
	for m, want := range map[string]Class{
		"/grpc.health.v1.Health/Check":                                      Open,
		"/grpc.health.v1.Health/Watch":                                      Open,
		"/inference.GRPCInferenceService/ServerLive":                        Open,
		"/inference.GRPCInferenceService/ModelInfer":                        Inference,
		"/inference.GRPCInferenceService/ModelStreamInfer":                  Inference,
		"/tensorflow.serving.PredictionService/Predict":                     Inference,
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":         Inference,
		"/inference.GRPCInferenceService/RepositoryModelLoad":               Control,
		"/inference.GRPCInferenceService/SystemSharedMemoryRegister":        Control,
		"/tensorflow.serving.ModelService/HandleReloadConfigRequest":        Control,
		"/inference.GRPCInferenceService/RepositoryIndex":                   Inference,
		"/tensorflow.serving.ModelService/GetModelStatus":                   Inference,
		"/inference.GRPCInferenceService/SystemSharedMemoryStatus":          Control,
		"/inference.GRPCInferenceService/SystemSharedMemoryUnregister":      Control,
		"/inference.GRPCInferenceService/RepositoryModelUnload":             Control,
		"/inference.GRPCInferenceService/ServerReady":                       Open,
		"/inference.GRPCInferenceService/ServerMetadata":                    Inference,
		"/tensorflow.serving.PredictionService/GetModelMetadata":            Inference,
		"/inference.GRPCInferenceService/ModelReady":                        Inference,
		"/inference.GRPCInferenceService/ModelMetadata":                     Inference,
		"/tensorflow.serving.PredictionService/Classify":                    Inference,
		"/some.Unknown/Method":                                              Inference,
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo":    Inference,
		"/grpc.health.v1.Health/List":                                       Open,
		"/inference.GRPCInferenceService/RepositoryModelUnload/extra/parts": Inference,
	} {
		if got := GRPCClass(m); got != want {
			t.Errorf("%s: %v, want %v", m, got, want)
		}
	}
}

// TestFileSetReload: a change is applied once; a bad change keeps what
// is in force and is not retried until the content changes again.
func TestFileSetReload(t *testing.T) {
	p := keyFileAt(t, "keys", "one\n")
	k, err := loadKeyFile("API key file", p)
	if err != nil {
		t.Fatal(err)
	}
	a := &Authorizer{inference: k}
	var logs strings.Builder
	l := logrus.New()
	l.SetOutput(&logs)
	log := logrus.NewEntry(l)
	write := func(s string) {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	k.files.check(log) // unchanged: nothing
	write("# none\n")
	k.files.check(log)
	k.files.check(log)
	if n := strings.Count(logs.String(), "not loaded"); n != 1 {
		t.Errorf("bad file logged %d times:\n%s", n, logs.String())
	}
	if err := a.Authorize(Inference, "Bearer one"); err != nil {
		t.Errorf("old key after a bad file: %v", err)
	}
	write("two\n")
	k.files.check(log)
	if err := a.Authorize(Inference, "Bearer one"); code(err) != apierr.Unauthenticated {
		t.Errorf("old key after the reload: %v", err)
	}
	if err := a.Authorize(Inference, "Bearer two"); err != nil {
		t.Errorf("new key after the reload: %v", err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	k.files.check(log) // missing for a moment: the keys stay
	if err := a.Authorize(Inference, "Bearer two"); err != nil {
		t.Errorf("key after the file went missing: %v", err)
	}
	l.SetOutput(io.Discard)
}

// TestAuthorizeAllocations: a check with a valid key allocates nothing.
func TestAuthorizeAllocations(t *testing.T) {
	s, err := Load(Config{APIKeyFile: keyFileAt(t, "k", "a-fairly-long-api-key-of-forty-characters\nother\n")})
	if err != nil {
		t.Fatal(err)
	}
	n := testing.AllocsPerRun(100, func() {
		if s.Auth.Authorize(Inference, "Bearer a-fairly-long-api-key-of-forty-characters") != nil {
			t.Fatal("refused")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per check", n)
	}
}
