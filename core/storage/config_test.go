package storage

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ovmsgo/ovms/core/apierr"
)

// envMap is an environment for the settings readers.
type envMap map[string]string

func (e envMap) get(k string) string { return e[k] }

func TestIsRemote(t *testing.T) {
	for p, want := range map[string]bool{
		"s3://b/p": true, "gs://b": true, "az://c/p": true, "azure://c/p": true, "azfs://share/p": true,
		"/models/m": false, "models/m": false, "file:///m": false, "http://x/y": false, "S3://b": false, "": false,
	} {
		if got := IsRemote(p); got != want {
			t.Errorf("IsRemote(%q) = %v", p, got)
		}
	}
}

func TestParseLocation(t *testing.T) {
	for _, tc := range []struct {
		in                               string
		root, prefix, endpoint, rootKind string
	}{
		{"s3://bucket/models/m", "bucket", "models/m/", "", "bucket"},
		{"s3://bucket/models/m/", "bucket", "models/m/", "", "bucket"},
		{"s3://bucket//models///m", "bucket", "models/m/", "", "bucket"},
		{"s3://bucket", "bucket", "", "", "bucket"},
		{"s3://bucket/", "bucket", "", "", "bucket"},
		{"s3://minio.local:9000/bucket/m", "bucket", "m/", "minio.local:9000", "bucket"},
		{"s3://bucket/a b/c?d#e", "bucket", "a b/c?d#e/", "", "bucket"},
		{"gs://bkt/x/y", "bkt", "x/y/", "", "bucket"},
		{"gs://bkt:1/x", "bkt:1", "x/", "", "bucket"}, // host:port is S3 only
		{"az://container/m", "container", "m/", "", "container"},
		{"azure://container/m", "container", "m/", "", "container"},
		{"azfs://share/dir/m", "share", "dir/m/", "", "share"},
	} {
		loc, err := parseLocation(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if loc.root != tc.root || loc.prefix != tc.prefix || loc.endpoint != tc.endpoint || loc.rootKind() != tc.rootKind {
			t.Errorf("%s: got root %q prefix %q endpoint %q kind %q", tc.in, loc.root, loc.prefix, loc.endpoint, loc.rootKind())
		}
		if loc.base != strings.TrimRight(tc.in, "/") {
			t.Errorf("%s: base %q", tc.in, loc.base)
		}
	}
	for _, bad := range []string{"s3://", "gs://", "gs://b/../etc", "s3://h:9000", "az://c/a/../../b"} {
		_, err := parseLocation(bad)
		wantCode(t, err, apierr.PathInvalid, bad)
	}
	_, err := Open(context.Background(), "ftp://host/x", t.TempDir(), nil)
	wantCode(t, err, apierr.PathInvalid, "unsupported URL scheme")

	loc, err := parseLocation("file:///tmp/a/b/")
	if err != nil || loc.root != "/" || loc.prefix != "tmp/a/b/" {
		t.Errorf("file URL: %+v %v", loc, err)
	}
	_, err = parseLocation("file://host/x")
	wantCode(t, err, apierr.PathInvalid)
}

func TestS3Settings(t *testing.T) {
	loc, _ := parseLocation("s3://bucket/models/m")
	for _, tc := range []struct {
		name      string
		env       envMap
		loc       string
		creds     s3Creds
		region    string
		endpoint  string
		pathStyle bool
	}{
		{name: "anonymous", env: envMap{}, creds: s3Anonymous, region: "us-east-1"},
		{name: "one key is not enough", env: envMap{"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"}, creds: s3Anonymous, region: "us-east-1"},
		{name: "static keys", env: envMap{"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secretsecret", "AWS_SESSION_TOKEN": "tok", "AWS_REGION": "eu-west-1"},
			creds: s3Static, region: "eu-west-1"},
		{name: "AWS_DEFAULT_REGION", env: envMap{"AWS_DEFAULT_REGION": "ap-south-1"}, creds: s3Anonymous, region: "ap-south-1"},
		{name: "web identity", env: envMap{"AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token", "AWS_ROLE_ARN": "arn:aws:iam::1:role/r"}, creds: s3Chain, region: "us-east-1"},
		{name: "keys win over a profile", env: envMap{"AWS_PROFILE": "p", "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secretsecret"}, creds: s3Static, region: "us-east-1"},
		{name: "S3_ENDPOINT bare", env: envMap{"S3_ENDPOINT": "minio:9000"}, creds: s3Anonymous, region: "us-east-1", endpoint: "http://minio:9000", pathStyle: true},
		{name: "S3_ENDPOINT https", env: envMap{"S3_ENDPOINT": "https://s3.example.com/"}, creds: s3Anonymous, region: "us-east-1", endpoint: "https://s3.example.com", pathStyle: true},
		{name: "S3_ENDPOINT port 443", env: envMap{"S3_ENDPOINT": "s3.example.com:443"}, creds: s3Anonymous, region: "us-east-1", endpoint: "https://s3.example.com:443", pathStyle: true},
		{name: "endpoint in the URL", loc: "s3://127.0.0.1:9000/bucket/models/m", env: envMap{}, creds: s3Anonymous, region: "us-east-1", endpoint: "http://127.0.0.1:9000", pathStyle: true},
		{name: "S3_ENDPOINT wins over the URL", loc: "s3://127.0.0.1:9000/bucket/models/m", env: envMap{"S3_ENDPOINT": "http://other:1"}, creds: s3Anonymous, region: "us-east-1", endpoint: "http://other:1", pathStyle: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := loc
			if tc.loc != "" {
				l, _ = parseLocation(tc.loc)
			}
			s, err := s3SettingsFrom(l, tc.env.get)
			if err != nil {
				t.Fatal(err)
			}
			if s.bucket != "bucket" || s.prefix != "models/m/" || s.creds != tc.creds || s.endpoint != tc.endpoint {
				t.Errorf("settings: bucket %q prefix %q creds %v endpoint %q", s.bucket, s.prefix, s.creds, s.endpoint)
			}
			if s.creds == s3Chain {
				return // LoadDefaultConfig reads the process environment and files
			}
			c, err := s.client(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			o := c.Options()
			if o.Region != tc.region || o.UsePathStyle != tc.pathStyle {
				t.Errorf("client: region %q path style %v", o.Region, o.UsePathStyle)
			}
			if got := aws.ToString(o.BaseEndpoint); got != tc.endpoint {
				t.Errorf("client endpoint %q, want %q", got, tc.endpoint)
			}
			if tc.endpoint != "" && o.RequestChecksumCalculation != aws.RequestChecksumCalculationWhenRequired {
				t.Error("custom endpoints compute checksums only when required")
			}
			switch tc.creds {
			case s3Static:
				creds, err := o.Credentials.Retrieve(context.Background())
				if err != nil || creds.AccessKeyID != "AKIAEXAMPLE" || creds.SecretAccessKey != "secretsecret" || creds.SessionToken != tc.env["AWS_SESSION_TOKEN"] {
					t.Errorf("static credentials not used: %v", err)
				}
			case s3Anonymous:
				// The S3 client drops aws.AnonymousCredentials: requests go unsigned.
				if o.Credentials != nil {
					t.Errorf("anonymous client has credentials %T", o.Credentials)
				}
			}
		})
	}
	for _, bad := range []string{"ftp://minio:9000", "http://"} {
		_, err := s3SettingsFrom(loc, envMap{"S3_ENDPOINT": bad}.get)
		wantCode(t, err, apierr.PathInvalid, "s3://bucket/models/m", "invalid S3 endpoint")
	}
}

func TestS3ChainProfile(t *testing.T) {
	clearCloudEnv(t)
	t.Setenv("AWS_CONFIG_FILE", writeFile(t, "[profile ovms]\nregion = eu-north-1\n"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", writeFile(t, "[ovms]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = profilesecret\n"))
	t.Setenv("AWS_PROFILE", "ovms")
	loc, _ := parseLocation("s3://bucket/m")
	s, err := s3SettingsFrom(loc, envMap{"AWS_PROFILE": "ovms"}.get)
	if err != nil || s.creds != s3Chain {
		t.Fatalf("settings %v %v", s.creds, err)
	}
	c, err := s.client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	o := c.Options()
	creds, err := o.Credentials.Retrieve(context.Background())
	if o.Region != "eu-north-1" || err != nil || creds.AccessKeyID != "AKIAPROFILE" {
		t.Errorf("profile not used: region %q key %q err %v", o.Region, creds.AccessKeyID, err)
	}
	// A profile that does not exist fails at Open, without secrets.
	t.Setenv("AWS_PROFILE", "missing")
	_, err = Open(context.Background(), "s3://bucket/m", t.TempDir(), nil)
	wantCode(t, err, errFilesystem, "s3://bucket/m", "cannot configure the S3 client")
}

func TestGCSSettings(t *testing.T) {
	loc, _ := parseLocation("gs://bkt/models/m")
	s := gcsSettingsFrom(loc, envMap{}.get)
	if s.bucket != "bkt" || s.prefix != "models/m/" || !s.anonymous() {
		t.Errorf("no credentials: %+v", s)
	}
	s = gcsSettingsFrom(loc, envMap{"GOOGLE_APPLICATION_CREDENTIALS": "/k.json"}.get)
	if s.anonymous() || s.credentials != "/k.json" {
		t.Errorf("credentials file: %+v", s)
	}
	s = gcsSettingsFrom(loc, envMap{"STORAGE_EMULATOR_HOST": "127.0.0.1:4443"}.get)
	if s.anonymous() || s.emulator != "127.0.0.1:4443" {
		t.Errorf("emulator: %+v", s)
	}
	// An anonymous client is built without network or credentials.
	clearCloudEnv(t)
	repo, err := Open(context.Background(), "gs://bkt/models/m", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Close(); err != nil {
		t.Fatal(err)
	}
}

const azuriteConn = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;FileEndpoint=http://127.0.0.1:10004/devstoreaccount1;"

func TestAzureSettings(t *testing.T) {
	blobLoc, _ := parseLocation("az://models/resnet")
	fileLoc, _ := parseLocation("azfs://share/dir/resnet")
	for _, tc := range []struct {
		name          string
		env           envMap
		creds         azCreds
		container     string // container client URL
		share         string // share client URL, "" when refused
		noSharePrefix bool
	}{
		{"connection string", envMap{"AZURE_STORAGE_CONNECTION_STRING": azuriteConn, "AZURE_STORAGE_ACCOUNT": "ignored", "AZURE_STORAGE_KEY": "ignoredkey"}, azConnectionString,
			"http://127.0.0.1:10000/devstoreaccount1/models", "http://127.0.0.1:10004/devstoreaccount1/share", false},
		{"shared key", envMap{"AZURE_STORAGE_ACCOUNT": "acct", "AZURE_STORAGE_KEY": "a2V5a2V5a2V5"}, azSharedKey,
			"https://acct.blob.core.windows.net/models", "https://acct.file.core.windows.net/share", false},
		{"SAS", envMap{"AZURE_STORAGE_ACCOUNT": "acct", "AZURE_STORAGE_SAS_TOKEN": "?sv=2020&sig=abc"}, azSAS,
			"https://acct.blob.core.windows.net/models?sv=2020&sig=abc", "https://acct.file.core.windows.net/share?sv=2020&sig=abc", false},
		{"emulator domain", envMap{"AZURE_STORAGE_ACCOUNT": "acct", "AZURE_STORAGE_KEY": "a2V5a2V5a2V5", "AZURE_STORAGE_DOMAIN": "localhost:10000", "AZURE_STORAGE_PROTOCOL": "http"}, azSharedKey,
			"http://localhost:10000/acct/models", "http://localhost:10000/acct/share", false},
		{"account only", envMap{"AZURE_STORAGE_ACCOUNT": "acct"}, azDefault,
			"", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := azSettingsFrom(blobLoc, false, tc.env.get)
			if err != nil {
				t.Fatal(err)
			}
			if s.root != "models" || s.prefix != "resnet/" || s.creds != tc.creds {
				t.Errorf("blob settings: %q %q %v", s.root, s.prefix, s.creds)
			}
			if tc.container != "" {
				c, err := s.containerClient()
				if err != nil {
					t.Fatal(err)
				}
				if c.URL() != tc.container {
					t.Errorf("container URL %q, want %q", c.URL(), tc.container)
				}
			}
			fs, err := azSettingsFrom(fileLoc, true, tc.env.get)
			if tc.noSharePrefix {
				wantCode(t, err, errFilesystem, "azfs://share/dir/resnet", "no Azure credentials")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fs.root != "share" || fs.prefix != "dir/resnet/" {
				t.Errorf("share settings: %q %q", fs.root, fs.prefix)
			}
			c, err := fs.shareClient()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSuffix(c.URL(), "/"); got != tc.share && c.URL() != tc.share {
				t.Errorf("share URL %q, want %q", c.URL(), tc.share)
			}
		})
	}
	_, err := azSettingsFrom(blobLoc, false, envMap{}.get)
	wantCode(t, err, errFilesystem, "az://models/resnet", "no Azure credentials")
}

func TestAzureOpen(t *testing.T) {
	clearCloudEnv(t)
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", azuriteConn)
	for _, p := range []string{"az://models/resnet", "azure://models/resnet", "azfs://share/resnet"} {
		repo, err := Open(context.Background(), p, t.TempDir(), nil)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if err := repo.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "AccountKey=c2VjcmV0c2VjcmV0c2VjcmV0;BlobEndpoint=http://127.0.0.1:1/x")
	_, err := Open(context.Background(), "az://models/resnet", t.TempDir(), nil)
	if err == nil {
		t.Fatal("a connection string without an account opened")
	}
	if strings.Contains(err.Error(), "c2VjcmV0c2VjcmV0c2VjcmV0") {
		t.Errorf("error shows the account key: %v", err)
	}
}

func TestRedact(t *testing.T) {
	clearCloudEnv(t)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG")
	t.Setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLETOKEN")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "AccountName=a;AccountKey=Zm9vYmFyYmF6cXV4;BlobEndpoint=http://x")
	t.Setenv("AZURE_STORAGE_KEY", "bXlrZXlteWtleQ==")
	cause := errors.New("failed: key AKIAIOSFODNN7EXAMPLE secret wJalrXUtnFEMI/K7MDENG token FwoGZXIvYXdzEXAMPLETOKEN " +
		"conn AccountName=a;AccountKey=Zm9vYmFyYmF6cXV4 key bXlrZXlteWtleQ== url https://a.blob.core.windows.net/c?sv=1&sig=SIGNATURE123&se=2 " +
		"AccountKey=otherkeyvalue; https://b.s3.amazonaws.com/k?X-Amz-Signature=abcdef&X-Amz-Security-Token=tttttt")
	err := fsErr(cause, "%s: listing failed", "s3://b/m")
	msg := err.Error()
	for _, secret := range []string{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG", "FwoGZXIvYXdzEXAMPLETOKEN", "Zm9vYmFyYmF6cXV4",
		"bXlrZXlteWtleQ==", "SIGNATURE123", "otherkeyvalue", "abcdef", "tttttt"} {
		if strings.Contains(msg, secret) {
			t.Errorf("message shows %q: %s", secret, msg)
		}
	}
	if !strings.Contains(msg, "s3://b/m: listing failed") || !strings.Contains(msg, "[REDACTED]") {
		t.Errorf("message %q", msg)
	}
	if !errors.Is(err, cause) {
		t.Error("the cause is lost")
	}
	if u := errors.Unwrap(err); u == nil || strings.Contains(u.Error(), "wJalrXUtnFEMI") {
		t.Errorf("the wrapped cause shows secrets: %v", u)
	}
}
