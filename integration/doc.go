// Package integration is the black-box test suite of ovms: TestMain builds
// the real ovms and device plugin binaries and the test models once, and
// each test starts ovms on free ports and drives it with real gRPC and HTTP
// clients.
package integration
