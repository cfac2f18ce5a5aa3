// Package storageservers starts real storage servers for the integration
// tests: an S3 server (gofakes3), a GCS emulator (fake-gcs-server), Azurite
// (npm) and an Azure Files server of its own (AzureFiles). Azurite serves
// Blob, Queue and Table storage but no Azure Files, so azfs:// is served by
// AzureFiles: the FileREST read operations the Azure file share SDK calls,
// written from Microsoft's REST reference, with Shared Key authorization
// checked and faults (a connection closed mid-download) on demand.
package storageservers
