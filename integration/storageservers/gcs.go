package storageservers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
)

type gcsServer struct {
	http     *httpServer
	fake     *fakestorage.Server
	host     string // 127.0.0.1:<port>
	client   *storage.Client
	once     sync.Once
	closeErr error
}

// StartGCS starts fake-gcs-server (fakestorage, HTTP, no TLS) on a loopback port.
//
// The listener is opened first so that the emulator knows its own address:
// its external URL (upload Location headers, media links) and its public host
// are http://127.0.0.1:<port>, so that the XML-API downloads of the Go client
// (GET http://<STORAGE_EMULATOR_HOST>/<bucket>/<object>) are routed to the
// object and not taken for a virtual-hosted bucket named after the host.
func StartGCS() (Server, error) {
	ln, err := listenLoopback()
	if err != nil {
		return nil, fmt.Errorf("gcs server: %w", err)
	}
	host := fmt.Sprintf("127.0.0.1:%d", port(ln))
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:      "http",
		NoListener:  true,
		ExternalURL: "http://" + host,
		PublicHost:  host,
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("gcs server: %w", err)
	}
	s := &gcsServer{http: serve(ln, fake.HTTPHandler()), fake: fake, host: host}
	s.client, err = storage.NewClient(context.Background(),
		option.WithEndpoint("http://"+host+"/storage/v1/"),
		option.WithoutAuthentication(),
	)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("gcs client: %w", err)
	}
	return s, nil
}

// Scheme is "gs".
func (s *gcsServer) Scheme() string { return "gs" }

// Env holds STORAGE_EMULATOR_HOST, host:port without a scheme (the Go client
// then uses http and no credentials; gocloud.dev prefixes http:// itself).
func (s *gcsServer) Env() []string {
	return []string{"STORAGE_EMULATOR_HOST=" + s.host}
}

// CreateBucket creates the bucket.
func (s *gcsServer) CreateBucket(ctx context.Context, name string) error {
	if err := s.client.Bucket(name).Create(ctx, "ovms-test", nil); err != nil {
		return fmt.Errorf("gcs create bucket %s: %w", name, err)
	}
	return nil
}

// Put uploads data as bucket/key.
func (s *gcsServer) Put(ctx context.Context, bucket, key string, data []byte) error {
	w := s.client.Bucket(bucket).Object(key).NewWriter(ctx)
	if _, err := w.Write(data); err != nil {
		w.Close()
		return fmt.Errorf("gcs put %s/%s: %w", bucket, key, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("gcs put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Delete removes every object under prefix.
func (s *gcsServer) Delete(ctx context.Context, bucket, prefix string) error {
	keys, err := s.list(ctx, bucket, prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.client.Bucket(bucket).Object(k).Delete(ctx); err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
			return fmt.Errorf("gcs delete %s/%s: %w", bucket, k, err)
		}
	}
	return nil
}

// list returns the names under prefix.
func (s *gcsServer) list(ctx context.Context, bucket, prefix string) ([]string, error) {
	var keys []string
	it := s.client.Bucket(bucket).Objects(ctx, &storage.Query{Prefix: prefix})
	for {
		attrs, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return keys, nil
		}
		if err != nil {
			return nil, fmt.Errorf("gcs list %s/%s: %w", bucket, prefix, err)
		}
		keys = append(keys, attrs.Name)
	}
}

// get downloads bucket/key (the XML API, as the Go client reads).
func (s *gcsServer) get(ctx context.Context, bucket, key string) ([]byte, error) {
	r, err := s.client.Bucket(bucket).Object(key).NewReader(ctx)
	if err != nil {
		return nil, fmt.Errorf("gcs get %s/%s: %w", bucket, key, err)
	}
	defer r.Close()
	return io.ReadAll(r)
}

// Close stops the server.
func (s *gcsServer) Close() error {
	s.once.Do(func() {
		if s.client != nil {
			s.client.Close()
		}
		s.closeErr = s.http.close()
		s.fake.Stop()
	})
	return s.closeErr
}
