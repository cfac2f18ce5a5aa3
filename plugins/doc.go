// Package plugins is the public SDK for ovms plugin authors. A device plugin
// is a separate executable that hosts an inference engine; the ovms core
// starts it through hashicorp/go-plugin, talks to it over gRPC for control and
// hands tensor bytes over in a shared-memory arena (package shm).
//
// A device plugin's main function is one line:
//
//	func main() { plugins.ServeDevice(cpu.New) }
//
// The SDK never imports the ovms core, so plugins can be built against it alone.
package plugins
