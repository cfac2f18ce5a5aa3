package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ovmsgo/ovms/core/customnode"
	"github.com/ovmsgo/ovms/core/pluginhost"
	sdknode "github.com/ovmsgo/ovms/plugins/customnode"
	plugproto "github.com/ovmsgo/ovms/plugins/host"
	"github.com/ovmsgo/ovms/plugins/host/loaderhost"
)

// pluginPrefixes are the file name prefixes `ovms plugin` manages: device
// plugins, custom node libraries and custom loaders.
var pluginPrefixes = []string{pluginhost.BinaryPrefix, sdknode.BinaryPrefix, loaderhost.BinaryPrefix}

// pluginFileName reports whether name is a plugin binary's file name.
func pluginFileName(name string) bool {
	for _, p := range pluginPrefixes {
		if strings.HasPrefix(name, p) && name != p {
			return true
		}
	}
	return false
}

// installedNodes lists the custom node libraries (ovms-node-NAME
// executables) in dirs, the first folder that has a name winning: name ->
// path.
func installedNodes(dirs []string) map[string]string {
	out := map[string]string{}
	for _, dir := range dirs {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			name, ok := strings.CutPrefix(e.Name(), sdknode.BinaryPrefix)
			if !ok || name == "" || out[name] != "" || !e.Type().IsRegular() {
				continue
			}
			if info, err := e.Info(); err == nil && info.Mode()&0o111 != 0 {
				out[name] = filepath.Join(dir, e.Name())
			}
		}
	}
	return out
}

// startNode starts a custom node library once to ask it about itself.
func startNode(ctx context.Context, host *pluginhost.Host, name, path string) (*pluginhost.Instance, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return host.GetBinary(ctx, pluginhost.Key{Family: customnode.Family, Model: name}, path)
}

// listNodes prints the custom node libraries found in dirs (nothing when
// there are none).
func listNodes(ctx context.Context, w io.Writer, host *pluginhost.Host, dirs []string) error {
	nodes := installedNodes(dirs)
	if len(nodes) == 0 {
		return nil
	}
	names := make([]string, 0, len(nodes))
	for n := range nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CUSTOM NODE LIBRARY\tVERSION\tPROTOCOL\tENGINE\tPATH\tSTATUS")
	for _, n := range names {
		inst, err := startNode(ctx, host, n, nodes[n])
		if err != nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t%s\tfailed to start: %v\n", n, nodes[n], oneLine(err.Error()))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\tavailable\n", n, dash(inst.Info.Version), plugproto.Handshake.ProtocolVersion, inst.Info.Engine, nodes[n])
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// inspectNode describes a custom node library as `plugin inspect` does.
func inspectNode(ctx context.Context, host *pluginhost.Host, name, path string) (map[string]any, error) {
	inst, err := startNode(ctx, host, name, path)
	if err != nil {
		return nil, err
	}
	sum, _ := pluginhost.FileSHA256(path)
	return map[string]any{
		"kind": "custom node library", "name": inst.Info.Name, "path": path, "sha256": sum, "version": inst.Info.Version,
		"protocol_version": plugproto.Handshake.ProtocolVersion, "engine": inst.Info.Engine,
		"custom_node_library_config": map[string]string{"name": name, "base_path": path},
	}, nil
}
