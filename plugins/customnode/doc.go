// Package customnode is the SDK for custom node libraries: the Go
// counterpart of OVMS's custom node C interface (initialize, deinitialize,
// getInputsInfo, getOutputsInfo, execute), for nodes of DAG pipelines.
//
// A library is a program, ovms-node-<name>, that ovms starts as a child
// process of its own (one per library in custom_node_library_config_list,
// whose base_path names the program or its folder) and talks to over the
// device plugin protocol: tensors stay in shared memory, a crash costs only
// the requests it was running, and ovms restarts it. Each pipeline node that
// uses the library is a Node built by the library's Factory with the node's
// string params (OVMS's initialize); if the Node is an io.Closer, Close is
// its deinitialize.
//
//	func main() { customnode.Serve("argmax", newArgmax) }
//
//	func newArgmax(p customnode.Params) (customnode.Node, error) { ... }
//
// Execute reads inputs and writes outputs through a Call: In and Out give
// typed views of tensor memory (Out allocates it in the arena; the SDK frees
// it if Execute fails or panics). Metadata uses -1 for dynamic dimensions;
// outputs are checked against it by ovms.
//
// Package customnodetest is the contract-test kit.
package customnode
