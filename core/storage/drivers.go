package storage

// The gocloud.dev blob drivers ovms opens remote model repositories with.
import (
	_ "gocloud.dev/blob/azureblob" // az://
	_ "gocloud.dev/blob/fileblob"  // tests
	_ "gocloud.dev/blob/gcsblob"   // gs://
	_ "gocloud.dev/blob/s3blob"    // s3://
)
