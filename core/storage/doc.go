// Package storage reads model repositories from local folders and from
// cloud storage (s3://, gs://, az:// through gocloud.dev, azfs:// through
// the Azure file share SDK).
package storage
