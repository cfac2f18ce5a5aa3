package storageservers

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob"
)

// TestEnvWithGocloud reads objects back with gocloud.dev's drivers,
// configured by nothing but Env(): what an ovms process started with that
// environment does (ovms reads gs:// with its own driver over Google's JSON
// API client, core/storage/internal/gcsjson, which reads the same
// STORAGE_EMULATOR_HOST; TestCloudStorage runs it through the binary).
func TestEnvWithGocloud(t *testing.T) {
	cases := []struct {
		name  string
		start func(t *testing.T) Server
		url   func(env map[string]string, bucket string) string
	}{
		{"s3", func(t *testing.T) Server { return start(t, "s3", StartS3) }, func(env map[string]string, bucket string) string {
			// gocloud.dev and the AWS SDK do not read S3_ENDPOINT: ovms
			// passes it on. gofakes3 sends no checksums, which the SDK
			// would warn about on every read unless told not to validate.
			return "s3://" + bucket + "?use_path_style=true&response_checksum_validation=when_required&endpoint=" + url.QueryEscape(env["S3_ENDPOINT"])
		}},
		{"gcs", func(t *testing.T) Server { return start(t, "gcs", StartGCS) }, func(_ map[string]string, bucket string) string {
			return "gs://" + bucket
		}},
		{"azurite", azuriteForTest, func(_ map[string]string, bucket string) string {
			return "azblob://" + bucket
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.start(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			const bucket = "envbucket"
			if err := s.CreateBucket(ctx, bucket); err != nil {
				t.Fatal(err)
			}
			data := []byte(strings.Repeat("model bytes ", 1000))
			for _, k := range []string{"m/1/model.onnx", "m/2/model.onnx"} {
				if err := s.Put(ctx, bucket, k, data); err != nil {
					t.Fatal(err)
				}
			}
			env := map[string]string{}
			for _, kv := range s.Env() {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
				t.Setenv(k, v)
			}
			b, err := blob.OpenBucket(ctx, c.url(env, bucket))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			got, err := b.ReadAll(ctx, "m/2/model.onnx")
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(data) {
				t.Errorf("read %d bytes, want %d", len(got), len(data))
			}
			var keys []string
			it := b.List(&blob.ListOptions{Prefix: "m/"})
			for {
				obj, err := it.Next(ctx)
				if err != nil {
					break
				}
				keys = append(keys, obj.Key)
			}
			if len(keys) != 2 {
				t.Errorf("listed %q, want the two objects", keys)
			}
		})
	}
}
