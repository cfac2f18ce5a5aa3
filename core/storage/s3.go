package storage

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob/s3blob"

	"github.com/ovmsgo/ovms/core/apierr"
)

// defaultS3Region is the region when none is configured (as in OVMS).
const defaultS3Region = "us-east-1"

// s3Creds is how S3 requests are signed.
type s3Creds int

const (
	s3Anonymous s3Creds = iota // unsigned: public buckets
	s3Static                   // AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+ AWS_SESSION_TOKEN]
	s3Chain                    // the AWS SDK's default chain (AWS_PROFILE, web identity, container)
)

// String names the mode in logs and tests.
func (c s3Creds) String() string {
	switch c {
	case s3Static:
		return "static"
	case s3Chain:
		return "chain"
	}
	return "anonymous"
}

// s3Settings is what an S3 client is built from.
type s3Settings struct {
	bucket, prefix string
	// region is AWS_REGION or AWS_DEFAULT_REGION; "" lets the chain's
	// shared config decide, then defaultS3Region.
	region string
	// endpoint is the normalised custom endpoint URL ("" for AWS). With
	// one, requests use path-style addressing and checksums only where
	// required (S3-compatible stores).
	endpoint string
	creds    s3Creds
	profile  string // AWS_PROFILE, chain mode
	// static credentials; never printed.
	keyID, secret, token string
}

// s3SettingsFrom reads the settings of an s3:// location from env.
func s3SettingsFrom(loc location, env func(string) string) (s3Settings, error) {
	s := s3Settings{bucket: loc.root, prefix: loc.prefix}
	s.region = env("AWS_REGION")
	if s.region == "" {
		s.region = env("AWS_DEFAULT_REGION")
	}
	ep := env("S3_ENDPOINT")
	if ep == "" {
		ep = loc.endpoint
	}
	if ep != "" {
		n, err := normalizeEndpoint(ep)
		if err != nil {
			return s, apierr.Newf(apierr.PathInvalid, "%s: invalid S3 endpoint %q: %v", loc.base, ep, err)
		}
		s.endpoint = n
	}
	s.keyID, s.secret = env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")
	s.profile = env("AWS_PROFILE")
	switch {
	case s.keyID != "" && s.secret != "":
		s.creds = s3Static
		s.token = env("AWS_SESSION_TOKEN")
	case s.profile != "",
		env("AWS_WEB_IDENTITY_TOKEN_FILE") != "",
		env("AWS_CONTAINER_CREDENTIALS_FULL_URI") != "",
		env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != "":
		s.creds = s3Chain
	default:
		s.creds = s3Anonymous
	}
	return s, nil
}

// normalizeEndpoint gives an endpoint a scheme: one written with http:// or
// https:// is kept; a bare host[:port] gets http:// (OVMS talks plain HTTP
// to S3_ENDPOINT), or https:// when its port is 443.
func normalizeEndpoint(ep string) (string, error) {
	if strings.Contains(ep, "://") {
		ep = strings.TrimRight(ep, "/")
		u, err := url.Parse(ep)
		if err != nil {
			return "", err
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", errBadEndpoint
		}
		return ep, nil
	}
	ep = strings.TrimRight(ep, "/")
	if _, port, err := net.SplitHostPort(ep); err == nil && port == "443" {
		return "https://" + ep, nil
	}
	return "http://" + ep, nil
}

// errBadEndpoint is an endpoint that is not an http(s) URL.
var errBadEndpoint = errors.New("expected http://host[:port], https://host[:port] or host[:port]")

// client builds the S3 client of s. It does no network I/O.
func (s s3Settings) client(ctx context.Context) (*s3.Client, error) {
	var cfg aws.Config
	switch s.creds {
	case s3Chain:
		opts := []func(*awsconfig.LoadOptions) error{}
		if s.profile != "" {
			opts = append(opts, awsconfig.WithSharedConfigProfile(s.profile))
		}
		if s.region != "" {
			opts = append(opts, awsconfig.WithRegion(s.region))
		}
		var err error
		if cfg, err = awsconfig.LoadDefaultConfig(ctx, opts...); err != nil {
			return nil, err
		}
	case s3Static:
		cfg = aws.Config{Credentials: credentials.NewStaticCredentialsProvider(s.keyID, s.secret, s.token)}
	default:
		cfg = aws.Config{Credentials: aws.AnonymousCredentials{}}
	}
	if cfg.Region == "" {
		cfg.Region = s.region
	}
	if cfg.Region == "" {
		cfg.Region = defaultS3Region
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if s.endpoint != "" {
			o.BaseEndpoint = aws.String(s.endpoint)
		}
		if o.BaseEndpoint != nil { // S3_ENDPOINT, or AWS_ENDPOINT_URL[_S3] in chain mode
			o.UsePathStyle = true
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	}), nil
}

// openS3 opens an s3:// location.
func openS3(ctx context.Context, loc location, env func(string) string) (store, error) {
	s, err := s3SettingsFrom(loc, env)
	if err != nil {
		return nil, err
	}
	c, err := s.client(ctx)
	if err != nil {
		return nil, fsErr(err, "%s: cannot configure the S3 client", loc.base)
	}
	b, err := s3blob.OpenBucket(ctx, c, s.bucket, nil)
	if err != nil {
		return nil, fsErr(err, "%s: cannot open S3 bucket %q", loc.base, s.bucket)
	}
	return &blobStore{b: b}, nil
}
