// Command ovms is the model server: an OpenVINO Model Server compatible
// front end (TF Serving and KServe v2 over gRPC and REST) that runs models in
// device plugin processes.
package main

import (
	"os"

	"github.com/ovmsgo/ovms/cli"
)

func main() { os.Exit(cli.Main(os.Args)) }
