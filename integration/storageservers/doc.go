// Package storageservers starts real storage servers for the integration
// tests: an S3 server (gofakes3), a GCS emulator (fake-gcs-server) and
// Azurite (npm). Azurite serves Blob, Queue and Table storage but no Azure
// Files, so azfs:// has no server here.
package storageservers
