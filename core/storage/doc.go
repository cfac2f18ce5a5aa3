// Package storage reads model repositories from local folders and from
// cloud storage (s3://, gs://, az:// through gocloud.dev's blob.Bucket,
// azfs:// through the Azure file share SDK). gs:// uses our read-only
// gocloud.dev driver internal/gcsjson over Google's JSON API client
// (google.golang.org/api/storage/v1) instead of gocloud's gcsblob, whose
// cloud.google.com/go/storage links gRPC xDS and Cloud Monitoring.
//
// A model's base path holds numbered version folders (1/, 2/, ...).
// Open returns its Repository: Versions lists the folders, Fetch makes one
// available as a local folder, Release drops the local copy. A local base
// path is used in place; a remote one is downloaded, version by version,
// into <cacheDir>/<16 hex digits of SHA-256(base path)>/<n>, through a
// hidden temporary folder next to it that is checked (every object has its
// listed size, at least one file) and renamed into place.
//
// Remote base paths and the environment they read:
//
//   - s3://bucket/prefix, or s3://host:port/bucket/prefix (endpoint in the
//     path, plain HTTP, as OVMS accepts). Credentials: AWS_ACCESS_KEY_ID and
//     AWS_SECRET_ACCESS_KEY (both, with AWS_SESSION_TOKEN if set) sign
//     requests; otherwise AWS_PROFILE, AWS_WEB_IDENTITY_TOKEN_FILE or
//     AWS_CONTAINER_CREDENTIALS_FULL_URI/_RELATIVE_URI select the AWS SDK's
//     default chain and shared config files; with none of these, requests
//     are anonymous (public buckets). Region: AWS_REGION, then
//     AWS_DEFAULT_REGION, then the profile's, then us-east-1. S3_ENDPOINT
//     points at an S3-compatible store (MinIO, ...): http:// or https://
//     as written, a bare host[:port] gets http:// (OVMS's behaviour) unless
//     its port is 443. With a custom endpoint, requests use path-style
//     addressing and checksums only where required.
//   - gs://bucket/prefix. GOOGLE_APPLICATION_CREDENTIALS selects Google
//     Application Default Credentials; without it requests are anonymous
//     (as in OVMS). STORAGE_EMULATOR_HOST (host:port or URL) sends requests,
//     unauthenticated, to an emulator such as fake-gcs-server. Lists and
//     reads go through the JSON API; transient failures are retried and a
//     cut read resumes at the next byte, pinned to the object's generation.
//   - az://container/prefix (also azure://). AZURE_STORAGE_CONNECTION_STRING
//     (account key or SAS, and endpoints, e.g. Azurite's BlobEndpoint);
//     otherwise AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY (shared key),
//     with AZURE_STORAGE_SAS_TOKEN, or alone (azidentity's default
//     credential chain: environment, workload identity, managed identity,
//     Azure CLI). AZURE_STORAGE_DOMAIN, AZURE_STORAGE_PROTOCOL and
//     AZURE_STORAGE_IS_LOCAL_EMULATOR shape the account's service URL.
//   - azfs://share/path (Azure Files). AZURE_STORAGE_CONNECTION_STRING
//     (FileEndpoint, or the account's default file endpoint), or
//     AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN.
//   - file:///absolute/path (tests): a local folder read through the remote
//     code path.
//
// HTTP(S)_PROXY and NO_PROXY apply through Go's default transport. Errors
// name the base path and what failed; credentials are redacted from them.
package storage
