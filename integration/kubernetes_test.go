package integration

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// The manifests under deploy/ (docs/kubernetes.md) are checked here: each
// decodes strictly (an unknown or duplicated field fails) into its API
// type, every argument the ovms containers pass is a flag `ovms --help`
// lists, and the real ovms binary, started with those arguments, answers
// 200 on every probe path and on the Prometheus scrape path.
//
// The Kubernetes types are k8s.io/api's. KServe's are not: its Go module
// (github.com/kserve/kserve) brings Knative, controller-runtime and much of
// Kubernetes with it, so servingRuntime and inferenceService below mirror
// the CRDs' fields by hand (from KServe's pkg/apis/serving), with the pod
// parts (containers, volumes, probes, resources) as the real core/v1 types.

// servingRuntime mirrors serving.kserve.io/v1alpha1 ServingRuntime (and
// ClusterServingRuntime, the same spec): every field of KServe's
// ServingRuntimeSpec.
type servingRuntime struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              servingRuntimeSpec `json:"spec"`
}

type servingRuntimeSpec struct {
	SupportedModelFormats []struct {
		Name       string  `json:"name"`
		Version    *string `json:"version,omitempty"`
		AutoSelect *bool   `json:"autoSelect,omitempty"`
		Priority   *int32  `json:"priority,omitempty"`
	} `json:"supportedModelFormats,omitempty"`
	MultiModel       *bool    `json:"multiModel,omitempty"`
	Disabled         *bool    `json:"disabled,omitempty"`
	ProtocolVersions []string `json:"protocolVersions,omitempty"`
	WorkerSpec       *struct {
		servingRuntimePodSpec `json:",inline"`
		PipelineParallelSize  *int `json:"pipelineParallelSize,omitempty"`
		TensorParallelSize    *int `json:"tensorParallelSize,omitempty"`
	} `json:"workerSpec,omitempty"`
	servingRuntimePodSpec `json:",inline"`
	GrpcEndpoint          *string `json:"grpcEndpoint,omitempty"`
	GrpcDataEndpoint      *string `json:"grpcDataEndpoint,omitempty"`
	HTTPDataEndpoint      *string `json:"httpDataEndpoint,omitempty"`
	Replicas              *uint16 `json:"replicas,omitempty"`
	StorageHelper         *struct {
		Disabled bool `json:"disabled,omitempty"`
	} `json:"storageHelper,omitempty"`
	BuiltInAdapter *struct {
		ServerType                string          `json:"serverType,omitempty"`
		RuntimeManagementPort     int             `json:"runtimeManagementPort,omitempty"`
		MemBufferBytes            int             `json:"memBufferBytes,omitempty"`
		ModelLoadingTimeoutMillis int             `json:"modelLoadingTimeoutMillis,omitempty"`
		Env                       []corev1.EnvVar `json:"env,omitempty"`
	} `json:"builtInAdapter,omitempty"`
}

// servingRuntimePodSpec mirrors KServe's ServingRuntimePodSpec.
type servingRuntimePodSpec struct {
	Containers       []corev1.Container            `json:"containers"`
	Volumes          []corev1.Volume               `json:"volumes,omitempty"`
	NodeSelector     map[string]string             `json:"nodeSelector,omitempty"`
	Affinity         *corev1.Affinity              `json:"affinity,omitempty"`
	Tolerations      []corev1.Toleration           `json:"tolerations,omitempty"`
	Labels           map[string]string             `json:"labels,omitempty"`
	Annotations      map[string]string             `json:"annotations,omitempty"`
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`
	HostIPC          bool                          `json:"hostIPC,omitempty"`
}

// inferenceService mirrors a subset of serving.kserve.io/v1beta1
// InferenceService: the predictor's scaling bounds and its model spec (the
// model fields and the container KServe's ModelSpec embeds). A field
// outside this subset fails the decode: add it here from KServe's
// pkg/apis/serving/v1beta1 when an example needs it.
type inferenceService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		Predictor struct {
			MinReplicas *int32  `json:"minReplicas,omitempty"`
			MaxReplicas int32   `json:"maxReplicas,omitempty"`
			ScaleTarget *int32  `json:"scaleTarget,omitempty"`
			ScaleMetric *string `json:"scaleMetric,omitempty"`
			Model       *struct {
				ModelFormat struct {
					Name    string  `json:"name"`
					Version *string `json:"version,omitempty"`
				} `json:"modelFormat"`
				Runtime          *string `json:"runtime,omitempty"`
				RuntimeVersion   *string `json:"runtimeVersion,omitempty"`
				ProtocolVersion  *string `json:"protocolVersion,omitempty"`
				StorageURI       *string `json:"storageUri,omitempty"`
				corev1.Container `json:",inline"`
			} `json:"model,omitempty"`
		} `json:"predictor"`
	} `json:"spec"`
}

// kubeObject names a manifest's type.
func kubeObject(apiVersion, kind string) (any, bool) {
	switch apiVersion + " " + kind {
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, true
	case "v1 Service":
		return &corev1.Service{}, true
	case "v1 PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, true
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, true
	case "serving.kserve.io/v1alpha1 ServingRuntime", "serving.kserve.io/v1alpha1 ClusterServingRuntime":
		return &servingRuntime{}, true
	case "serving.kserve.io/v1beta1 InferenceService":
		return &inferenceService{}, true
	}
	return nil, false
}

// decodeManifest strictly decodes one YAML manifest into its API type.
func decodeManifest(data []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(data, &tm); err != nil {
		return nil, fmt.Errorf("read apiVersion and kind: %w", err)
	}
	obj, ok := kubeObject(tm.APIVersion, tm.Kind)
	if !ok {
		return nil, fmt.Errorf("no type for apiVersion %q kind %q", tm.APIVersion, tm.Kind)
	}
	// As the API server decodes with fieldValidation=Strict: YAML to JSON
	// refusing duplicate keys, then JSON keys matched case-sensitively
	// (encoding/json would take storageURI for storageUri) with unknown
	// and duplicated fields refused.
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
	}
	strictErrs, err := kjson.UnmarshalStrict(j, obj)
	if err = errors.Join(append(strictErrs, err)...); err != nil {
		return nil, fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
	}
	return obj, nil
}

// loadManifests decodes every *.yaml under deploy/, by path relative to it.
func loadManifests(t *testing.T) map[string]any {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "deploy")
	out := map[string]any{}
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if strings.Contains(string(data), "\n---") {
			t.Errorf("%s: one manifest per file, please", rel)
		}
		obj, err := decodeManifest(data)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		out[rel] = obj
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKubernetesManifestsDecodeStrictly: every manifest decodes into its
// API type with unknown and duplicated fields refused, and the decoder
// does refuse them.
func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	m := loadManifests(t)
	for _, want := range []string{"kubernetes/deployment.yaml", "kubernetes/service.yaml", "kubernetes/models-pvc.yaml", "kserve/servingruntime.yaml", "kserve/inferenceservice.yaml"} {
		if _, ok := m[want]; !ok {
			t.Errorf("deploy/%s: missing or not decoded", want)
		}
	}
	// The decoder is strict: a misspelt field, a field in the wrong place
	// and a duplicated key all fail, for the core types and the mirrors.
	bad := map[string]string{
		"misspelt probe field": "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          readinessProbe:\n            httpGet:\n              paht: /v2/health/ready\n",
		"field in wrong place": "apiVersion: v1\nkind: Service\nspec:\n  containerPort: 9000\n",
		"duplicated key":       "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\n",
		"unknown CRD field":    "apiVersion: serving.kserve.io/v1alpha1\nkind: ServingRuntime\nspec:\n  supportedModelFormat:\n    - name: onnx\n",
		"unknown ISVC field":   "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nspec:\n  predictor:\n    model:\n      modelFormat: {name: onnx}\n      storageURI: s3://x\n",
		"wrong value type":     "apiVersion: v1\nkind: Service\nspec:\n  ports:\n    - port: grpc\n",
		"wrong case":           "apiVersion: v1\nkind: Service\nspec:\n  Selector: {a: b}\n",
		"unknown kind":         "apiVersion: v1\nkind: Pods\n",
	}
	for name, doc := range bad {
		if _, err := decodeManifest([]byte(doc)); err == nil {
			t.Errorf("%s: decoded without an error", name)
		}
	}
}

// flagArgs parses --name=value and --name value arguments.
func flagArgs(t *testing.T, args []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			t.Errorf("argument %q is not a --flag", a)
			continue
		}
		name, value, eq := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !eq && i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			value, i = args[i+1], i+1
		}
		out[name] = value
	}
	return out
}

// awaitingFlags are flags the manifests pass that this tree's ovms may not
// declare yet, each with the work that declares it. While undeclared, the
// real-binary run leaves it out (and the scrape check with it) and says
// so; once ovms lists it in --help it is checked like any other.
var awaitingFlags = map[string]string{
	"metrics_enable": "issue 13 item 4 (metrics)",
}

// ovmsContainer is one ovms container of a manifest, where it came from.
type ovmsContainer struct {
	source    string
	c         corev1.Container
	podLabels map[string]string
	volumes   []corev1.Volume
	scrape    map[string]string // prometheus.io/* or prometheus.kserve.io/* annotations
	podSec    *corev1.PodSecurityContext
}

func ovmsContainers(t *testing.T, m map[string]any) []ovmsContainer {
	t.Helper()
	var out []ovmsContainer
	for src, obj := range m {
		switch o := obj.(type) {
		case *appsv1.Deployment:
			for _, c := range o.Spec.Template.Spec.Containers {
				out = append(out, ovmsContainer{src, c, o.Spec.Template.Labels, o.Spec.Template.Spec.Volumes,
					o.Spec.Template.Annotations, o.Spec.Template.Spec.SecurityContext})
			}
		case *servingRuntime:
			for _, c := range o.Spec.Containers {
				out = append(out, ovmsContainer{src, c, nil, o.Spec.Volumes, o.Spec.Annotations, nil})
			}
		}
	}
	if len(out) < 2 {
		t.Fatalf("found %d ovms containers under deploy/, want the Deployment's and the ServingRuntime's", len(out))
	}
	slices.SortFunc(out, func(a, b ovmsContainer) int { return strings.Compare(a.source, b.source) })
	return out
}

// portOf resolves a probe's or Service's port (a number or a container
// port name) against c.
func portOf(t *testing.T, c corev1.Container, p intstr.IntOrString) int {
	t.Helper()
	if p.Type == intstr.Int {
		return p.IntValue()
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	t.Errorf("container %s has no port named %q", c.Name, p.StrVal)
	return -1
}

// TestKubernetesManifestsMatchOVMS: the ovms containers pass only flags
// ovms accepts, their probes, ports, scrape annotations and Service agree
// with those flags, they run as uid 5000 on a read-only root with /tmp
// writable, and the real binary started with their arguments answers each
// probe path and the scrape path with 200.
func TestKubernetesManifestsMatchOVMS(t *testing.T) {
	m := loadManifests(t)
	code, help, stderr := runOVMS(t, "--help")
	if code != 0 {
		t.Fatalf("ovms --help: exit %d %s", code, stderr)
	}
	known := helpFlags(help)
	if len(known) < 10 {
		t.Fatalf("ovms --help lists %d flags:\n%s", len(known), help)
	}

	for _, oc := range ovmsContainers(t, m) {
		t.Run(oc.source, func(t *testing.T) {
			c := oc.c
			if len(c.Command) != 0 {
				t.Errorf("command %q replaces the image's ENTRYPOINT; pass arguments only", c.Command)
			}
			flags := flagArgs(t, c.Args)
			var skipped []string
			for name := range flags {
				if _, ok := known[name]; ok {
					continue
				}
				if why, ok := awaitingFlags[name]; ok {
					t.Logf("--%s is not declared by this ovms yet (%s): left out of the run", name, why)
					skipped = append(skipped, name)
					continue
				}
				t.Errorf("--%s: not a flag ovms --help lists", name)
			}
			grpcPort, _ := strconv.Atoi(flags["port"])
			restPort, _ := strconv.Atoi(flags["rest_port"])
			if grpcPort == 0 || restPort == 0 {
				t.Fatalf("args %q: want both --port and --rest_port", c.Args)
			}
			if _, ok := flags["metrics_enable"]; !ok {
				t.Errorf("args %q: no --metrics_enable, yet the scrape annotations point at /metrics", c.Args)
			}

			// Ports, probes and scrape annotations agree with the flags.
			for _, cp := range c.Ports {
				if p := int(cp.ContainerPort); p != grpcPort && p != restPort {
					t.Errorf("containerPort %d is neither --port %d nor --rest_port %d", p, grpcPort, restPort)
				}
			}
			probes := map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe}
			paths := map[string]bool{}
			for kind, p := range probes {
				if p == nil || p.HTTPGet == nil {
					t.Errorf("%s probe: want an httpGet probe", kind)
					continue
				}
				if got := portOf(t, c, p.HTTPGet.Port); got != restPort {
					t.Errorf("%s probe on port %d, --rest_port is %d", kind, got, restPort)
				}
				paths[p.HTTPGet.Path] = true
			}
			if c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path != "/v2/health/live" {
				t.Errorf("liveness probe path %q, want /v2/health/live", c.LivenessProbe.HTTPGet.Path)
			}
			if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path != "/v2/health/ready" {
				t.Errorf("readiness probe path %q, want /v2/health/ready", c.ReadinessProbe.HTTPGet.Path)
			}
			scrapePath, scrapePort := oc.scrape["prometheus.io/path"]+oc.scrape["prometheus.kserve.io/path"],
				oc.scrape["prometheus.io/port"]+oc.scrape["prometheus.kserve.io/port"]
			if scrapePath != "/metrics" || scrapePort != strconv.Itoa(restPort) {
				t.Errorf("scrape annotations %v: want path /metrics on the REST port %d", oc.scrape, restPort)
			}
			if _, ok := oc.scrape["prometheus.io/path"]; ok && oc.scrape["prometheus.io/scrape"] != "true" {
				t.Errorf("scrape annotations %v: prometheus.io/scrape is not \"true\"", oc.scrape)
			}

			// Security: uid 5000 (the image's user), non-root, read-only
			// root filesystem with /tmp an emptyDir, no privilege gain.
			sc := c.SecurityContext
			if sc == nil {
				sc = &corev1.SecurityContext{}
			}
			uid, nonRoot := sc.RunAsUser, sc.RunAsNonRoot
			if oc.podSec != nil {
				if uid == nil {
					uid = oc.podSec.RunAsUser
				}
				if nonRoot == nil {
					nonRoot = oc.podSec.RunAsNonRoot
				}
			}
			if uid == nil || *uid != 5000 || nonRoot == nil || !*nonRoot {
				t.Errorf("want runAsNonRoot and runAsUser 5000 (pod or container)")
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("container securityContext: want readOnlyRootFilesystem, no privilege escalation, capabilities drop ALL")
			}
			mounts := map[string]corev1.VolumeMount{}
			for _, vm := range c.VolumeMounts {
				mounts[vm.MountPath] = vm
			}
			vols := map[string]corev1.Volume{}
			for _, v := range oc.volumes {
				vols[v.Name] = v
			}
			if vm, ok := mounts["/tmp"]; !ok || vols[vm.Name].EmptyDir == nil {
				t.Errorf("/tmp: want an emptyDir volume mounted (the root filesystem is read-only)")
			}
			if mp := flags["model_path"]; strings.HasPrefix(mp, "/models/") {
				if vm, ok := mounts["/models"]; !ok || !vm.ReadOnly {
					t.Errorf("--model_path %s: want a read-only volume at /models", mp)
				}
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("resources %v: want cpu and memory requests and a memory limit", c.Resources)
			}

			// The real binary with these arguments: the model path and
			// the ports are made local, the rest is passed as written.
			ports := freePorts(t, 2)
			s := &server{t: t, grpcPort: ports[0], restPort: ports[1], out: &syncBuffer{}, done: make(chan struct{})}
			s.logPath = filepath.Join(t.TempDir(), "ovms.log")
			var args []string
			for _, a := range c.Args {
				name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
				switch {
				case slices.Contains(skipped, name):
					continue
				case name == "model_name":
					a = "--model_name=dummy" // KServe's {{.Name}} is the InferenceService's name
				case name == "model_path":
					a = "--model_path=" + filepath.Join(modelsDir, "dummy")
				case name == "port":
					a = fmt.Sprintf("--port=%d", s.grpcPort)
				case name == "rest_port":
					a = fmt.Sprintf("--rest_port=%d", s.restPort)
				}
				args = append(args, a)
			}
			args = append(args, "--grpc_bind_address=127.0.0.1", "--rest_bind_address=127.0.0.1", "--log_path="+s.logPath)
			s.cmd = exec.Command(filepath.Join(binDir, "ovms"), args...)
			s.cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
			s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
			if err := s.cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { _ = s.cmd.Wait(); close(s.done) }()
			t.Cleanup(s.stop)
			s.waitReady()
			if !slices.Contains(skipped, "metrics_enable") {
				paths[scrapePath] = true
			}
			for path := range paths {
				resp, err := http.Get(s.url(path))
				if err != nil {
					t.Errorf("GET %s: %v", path, err)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("GET %s: %s, want 200 OK", path, resp.Status)
				}
			}
			// A path ovms does not serve is not 200 (so the check above
			// can tell).
			if resp, err := http.Get(s.url("/v2/health/alive")); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					t.Errorf("GET /v2/health/alive: 200, want an error for an unknown path")
				}
			}
		})
	}

	// The Service routes to the Deployment's pods and ports.
	dep, _ := m["kubernetes/deployment.yaml"].(*appsv1.Deployment)
	svc, _ := m["kubernetes/service.yaml"].(*corev1.Service)
	if dep == nil || svc == nil {
		t.Fatal("deploy/kubernetes: no Deployment or Service")
	}
	sel, err := metav1.LabelSelectorAsMap(dep.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range sel {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("Deployment selector %s=%s does not match its pod labels %v", k, v, dep.Spec.Template.Labels)
		}
	}
	for k, v := range svc.Spec.Selector {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("Service selector %s=%s does not match the pod labels %v", k, v, dep.Spec.Template.Labels)
		}
	}
	c := dep.Spec.Template.Spec.Containers[0]
	flags := flagArgs(t, c.Args)
	want := map[string]string{"grpc": flags["port"], "http": flags["rest_port"]}
	for _, p := range svc.Spec.Ports {
		if got := strconv.Itoa(portOf(t, c, p.TargetPort)); got != want[p.Name] {
			t.Errorf("Service port %s targets container port %s, want %s", p.Name, got, want[p.Name])
		}
		delete(want, p.Name)
	}
	if len(want) != 0 {
		t.Errorf("Service lacks ports %v", want)
	}
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			if _, ok := m["kubernetes/models-pvc.yaml"].(*corev1.PersistentVolumeClaim); !ok ||
				m["kubernetes/models-pvc.yaml"].(*corev1.PersistentVolumeClaim).Name != v.PersistentVolumeClaim.ClaimName {
				t.Errorf("volume %s claims %s, which deploy/kubernetes does not define", v.Name, v.PersistentVolumeClaim.ClaimName)
			}
		}
	}

	// KServe: ovms's formats and protocols, and the example
	// InferenceService names this runtime and a format it supports.
	sr, _ := m["kserve/servingruntime.yaml"].(*servingRuntime)
	isvc, _ := m["kserve/inferenceservice.yaml"].(*inferenceService)
	if sr == nil || isvc == nil {
		t.Fatal("deploy/kserve: no ServingRuntime or InferenceService")
	}
	formats := map[string]bool{}
	for _, f := range sr.Spec.SupportedModelFormats {
		formats[f.Name] = true
	}
	if len(formats) != 2 || !formats["onnx"] || !formats["openvino"] {
		t.Errorf("supportedModelFormats %v: want onnx and openvino", formats)
	}
	if !slices.Equal(sr.Spec.ProtocolVersions, []string{"v2", "grpc-v2"}) {
		t.Errorf("protocolVersions %v: want [v2 grpc-v2]", sr.Spec.ProtocolVersions)
	}
	if len(sr.Spec.Containers) != 1 || sr.Spec.Containers[0].Name != "kserve-container" {
		t.Errorf("KServe needs one container named kserve-container")
	}
	if got := flagArgs(t, sr.Spec.Containers[0].Args); got["model_path"] != "/mnt/models" || got["model_name"] != "{{.Name}}" {
		t.Errorf("ServingRuntime args %v: want --model_name={{.Name}} --model_path=/mnt/models (KServe's storage initializer)", got)
	}
	model := isvc.Spec.Predictor.Model
	if model == nil || model.Runtime == nil || *model.Runtime != sr.Name || !formats[model.ModelFormat.Name] {
		t.Errorf("InferenceService predictor.model: want runtime %q and a format it supports", sr.Name)
	}
}
