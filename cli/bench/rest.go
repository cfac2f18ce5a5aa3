package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// newHTTPClient returns a client keeping up to conns idle keep-alive
// connections to the server, without proxies or compression.
func newHTTPClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: conns + 8,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     256 << 10,
		ReadBufferSize:      256 << 10,
	}}
}

// readBufs are the buffers responses are drained into.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// restDoer posts one prebuilt body per Do and drains the response.
type restDoer struct {
	client *http.Client
	url    string
	body   []byte
	header http.Header // read-only, shared by every request
}

// newRESTDoer prepares posts of body to url; jsonLen >= 0 adds the
// Inference-Header-Content-Length header of the binary extension.
func newRESTDoer(client *http.Client, url string, body []byte, jsonLen int) *restDoer {
	h := http.Header{"Content-Type": {"application/json"}}
	if jsonLen >= 0 {
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Inference-Header-Content-Length", strconv.Itoa(jsonLen))
	}
	return &restDoer{client: client, url: url, body: body, header: h}
}

func (d *restDoer) request(ctx context.Context) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return nil, err
	}
	req.Header = d.header
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil, fmt.Errorf("http %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	return resp, nil
}

// Do posts the body and reads the whole response.
func (d *restDoer) Do(ctx context.Context) error {
	resp, err := d.request(ctx)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	for {
		_, err := resp.Body.Read(*bp)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// probe posts the body once and returns the response body and the value
// of its Inference-Header-Content-Length (-1 when absent).
func (d *restDoer) probe(ctx context.Context) ([]byte, int, error) {
	resp, err := d.request(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, err
	}
	jsonLen := -1
	if h := resp.Header.Get("Inference-Header-Content-Length"); h != "" {
		if jsonLen, err = strconv.Atoi(h); err != nil || jsonLen > len(body) {
			return nil, 0, fmt.Errorf("bad Inference-Header-Content-Length %q", h)
		}
	}
	return body, jsonLen, nil
}

// getJSON decodes the JSON answer of a GET.
func getJSON(ctx context.Context, client *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: http %d: %s", u, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// modelPath is "/vN/models/{m}[/versions/{v}]".
func modelPath(api, model string, version int64) string {
	p := "/" + api + "/models/" + url.PathEscape(model)
	if version > 0 {
		p += "/versions/" + strconv.FormatInt(version, 10)
	}
	return p
}

// kserveRESTMetadata reads GET /v2/models/{m}[/versions/{v}].
func kserveRESTMetadata(ctx context.Context, client *http.Client, base, model string, version int64) (in, out []TensorInfo, err error) {
	var md struct{ Inputs, Outputs []TensorInfo }
	if err := getJSON(ctx, client, base+modelPath("v2", model, version), &md); err != nil {
		return nil, nil, fmt.Errorf("model metadata: %w", err)
	}
	return md.Inputs, md.Outputs, nil
}

// tfsRESTMetadata reads the serving_default signature from GET
// /v1/models/{m}[/versions/{v}]/metadata (camelCase as OVMS writes it, or
// snake_case as TF Serving does).
func tfsRESTMetadata(ctx context.Context, client *http.Client, base, model string, version int64) (in, out []TensorInfo, err error) {
	var md map[string]any
	if err := getJSON(ctx, client, base+modelPath("v1", model, version)+"/metadata", &md); err != nil {
		return nil, nil, fmt.Errorf("model metadata: %w", err)
	}
	sig, _ := field(field(field(field(md, "metadata"), "signature_def"), "signatureDef", "signature_def"), "serving_default").(map[string]any)
	if sig == nil {
		return nil, nil, fmt.Errorf("model metadata has no serving_default signature")
	}
	conv := func(v any) ([]TensorInfo, error) {
		m, _ := v.(map[string]any)
		var out []TensorInfo
		for alias, t := range m {
			name, _ := field(t, "dtype").(string)
			dt, err := lookupTFSName(name)
			if err != nil {
				return nil, fmt.Errorf("tensor %s: %w", alias, err)
			}
			ti := TensorInfo{Name: alias, Datatype: dt.name, Shape: []int64{}}
			dims, _ := field(field(t, "tensorShape", "tensor_shape"), "dim").([]any)
			for _, d := range dims {
				size, err := strconv.ParseInt(fmt.Sprint(field(d, "size")), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("tensor %s: bad dimension %v", alias, d)
				}
				ti.Shape = append(ti.Shape, size)
			}
			out = append(out, ti)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out, nil
	}
	if in, err = conv(sig["inputs"]); err != nil {
		return nil, nil, err
	}
	out, err = conv(sig["outputs"])
	return in, out, err
}

// field returns the first of names present in the JSON object v.
func field(v any, names ...string) any {
	m, _ := v.(map[string]any)
	for _, n := range names {
		if x, ok := m[n]; ok {
			return x
		}
	}
	return nil
}

// lookupTFSName finds a datatype by its TF Serving name ("DT_FLOAT").
func lookupTFSName(name string) (dtype, error) {
	for _, d := range dtypes {
		if d.tfs.String() == name {
			return d, nil
		}
	}
	return dtype{}, fmt.Errorf("unsupported TF Serving dtype %q", name)
}

// restShm registers regions over the KServe REST extension.
type restShm struct {
	client *http.Client
	base   string
}

func (r restShm) post(name, action string, body any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	data, _ := json.Marshal(body)
	u := r.base + "/v2/systemsharedmemory/region/" + url.PathEscape(name) + "/" + action
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s shared memory region %s: %w", action, name, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("http %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
		if action == "register" && shmRouteMissing(resp.StatusCode, msg) {
			err = fmt.Errorf("%w: %w", errShmOff, err)
		}
		return fmt.Errorf("%s shared memory region %s: %w", action, name, err)
	}
	return nil
}

// shmRouteMissing reports whether a register answer says the server has no
// shared-memory endpoints: ovms without --allow_client_shm answers 400
// "Invalid request URL" (as OVMS does for any unknown path), other servers
// 404.
func shmRouteMissing(code int, body []byte) bool {
	return code == http.StatusNotFound || (code == http.StatusBadRequest && strings.Contains(string(body), "Invalid request URL"))
}

func (r restShm) register(reg *shmRegion) error {
	return r.post(reg.name, "register", map[string]any{"key": reg.key, "offset": 0, "byte_size": len(reg.mem)})
}

func (r restShm) unregister(name string) error { return r.post(name, "unregister", struct{}{}) }
