package storageservers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// The fixed credentials and region of the S3 server. gofakes3 does not check
// signatures, but the clients sign every request with them.
const (
	s3AccessKeyID     = "ovms-test-access-key"
	s3SecretAccessKey = "ovms-test-secret-key"
	s3Region          = "us-east-1"
)

type s3Server struct {
	http     *httpServer
	endpoint string
	client   *s3.Client
	once     sync.Once
	closeErr error
}

// StartS3 starts an S3 server (gofakes3 with an in-memory backend) on a
// loopback port, serving real HTTP; credentials are fixed test values
// (see Env; region us-east-1). Buckets are addressed
// path-style: http://127.0.0.1:<port>/<bucket>/<key>.
func StartS3() (Server, error) {
	ln, err := listenLoopback()
	if err != nil {
		return nil, fmt.Errorf("s3 server: %w", err)
	}
	return ServeS3(ln), nil
}

// ServeS3 serves an S3 server (as StartS3) on ln, for a server that other
// hosts or containers reach (scripts/s3server). Its own client, Env's
// S3_ENDPOINT included, uses ln's address, with 127.0.0.1 for a wildcard one.
func ServeS3(ln net.Listener) Server {
	faker := gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog()))
	s := &s3Server{
		http:     serve(ln, faker.Server()),
		endpoint: fmt.Sprintf("http://127.0.0.1:%d", port(ln)),
	}
	s.client = s3.New(s3.Options{
		Region:       s3Region,
		Credentials:  credentials.NewStaticCredentialsProvider(s3AccessKeyID, s3SecretAccessKey, ""),
		BaseEndpoint: aws.String(s.endpoint),
		UsePathStyle: true,
	})
	return s
}

// Scheme is "s3".
func (s *s3Server) Scheme() string { return "s3" }

// Env holds the credentials, the region and the endpoint (S3_ENDPOINT).
func (s *s3Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s3AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + s3SecretAccessKey,
		"AWS_REGION=" + s3Region,
		"S3_ENDPOINT=" + s.endpoint,
	}
}

// CreateBucket creates the bucket.
func (s *s3Server) CreateBucket(ctx context.Context, name string) error {
	if _, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("s3 create bucket %s: %w", name, err)
	}
	return nil
}

// Put uploads data as bucket/key.
func (s *s3Server) Put(ctx context.Context, bucket, key string, data []byte) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	})
	if err != nil {
		return fmt.Errorf("s3 put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Delete removes every object under prefix, one DeleteObject each.
func (s *s3Server) Delete(ctx context.Context, bucket, prefix string) error {
	keys, err := s.list(ctx, bucket, prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
			return fmt.Errorf("s3 delete %s/%s: %w", bucket, k, err)
		}
	}
	return nil
}

// list returns the keys under prefix.
func (s *s3Server) list(ctx context.Context, bucket, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3 list %s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// get downloads bucket/key.
func (s *s3Server) get(ctx context.Context, bucket, key string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("s3 get %s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// Close stops the server.
func (s *s3Server) Close() error {
	s.once.Do(func() {
		s.closeErr = s.http.close()
	})
	return s.closeErr
}
