// Package plugins is the public SDK for ovms device plugin authors. A device
// plugin is a separate executable, ovms-device-<family>, that hosts an
// inference engine; ovms starts it through hashicorp/go-plugin, talks to it
// over gRPC for control and hands tensor bytes over in a shared-memory
// arena. An author implements device.Device and serves it:
//
//	func main() { plugins.ServeDevice("negate", newNegate) }
//
// where newNegate is a device.Factory. The packages an author uses:
//
//   - plugins: ServeDevice and the plugin's logger;
//   - plugins/device: the Device contract, Env.Respond for outputs, Models;
//   - plugins/modelinfo: a model's inputs and outputs for Load;
//   - plugins/device/devicetest: the contract tests to run on a Device.
//
// Custom node libraries for DAG pipelines (ovms-node-<name>) use the same
// protocol through plugins/customnode (customnode.Serve, and
// plugins/customnode/customnodetest for their contract tests); see
// docs/custom-nodes.md.
//
// Custom model loaders (ovms-loader-<name>, OVMS's custom_loader_config_list)
// are written against plugins/loader, with its own Serve and contract kit
// (plugins/loader/loadertest); docs/custom-loaders.md walks through one.
//
// plugins/host is the core's side of the protocol: authors never need it.
// docs/device-plugins.md walks through a whole plugin. The SDK never
// imports the ovms core, so plugins can be built against it alone.
package plugins
