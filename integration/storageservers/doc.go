// Package storageservers starts real storage servers for the integration
// tests: an S3 server (gofakes3), a GCS emulator (fake-gcs-server) and
// Azurite (npm).
package storageservers

import (
	_ "github.com/Azure/azure-sdk-for-go/sdk/storage/azfile/share"
	_ "github.com/fsouza/fake-gcs-server/fakestorage"
	_ "github.com/johannesboyne/gofakes3"
	_ "github.com/johannesboyne/gofakes3/backend/s3mem"
)
