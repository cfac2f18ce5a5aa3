//go:build container

// Package container holds the container tests of the ovms image (make
// image-test): the commands of OVMS's Docker guide run through the real
// docker CLI (and docker-compose) against podman's Docker-compatible API
// socket, with only the image name changed. Built only with the container
// build tag, so that `go test ./...` (make test) does not need a container
// engine; make image-test builds the image first and sets OVMS_IMAGE.
package container
