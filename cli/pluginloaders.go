package cli

// This file makes `ovms plugin list|install|remove|inspect` handle custom
// model loader plugins (ovms-loader-<name>) beside device plugins.

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

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/ovmsgo/ovms/core/customloader"
	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/core/server"
	sdknode "github.com/ovmsgo/ovms/plugins/customnode"
	"github.com/ovmsgo/ovms/plugins/host/loaderhost"
)

// installedLoaders lists the loader binaries in the plugin folders (the
// first folder that has a name wins): name -> path.
func installedLoaders(dirs []string) map[string]string {
	out := map[string]string{}
	for _, dir := range dirs {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			name, ok := strings.CutPrefix(e.Name(), loaderhost.BinaryPrefix)
			if !ok || name == "" || out[name] != "" {
				continue
			}
			if p, err := customloader.Find(name, name, []string{dir}); err == nil {
				out[name] = p
			}
		}
	}
	return out
}

// loaderInfo starts a loader binary once and asks its name and version.
func loaderInfo(ctx context.Context, path string) (name, version string, err error) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	c, pc, _, err := customloader.Start(path, logrus.NewEntry(log))
	if err != nil {
		return "", "", err
	}
	defer pc.Kill()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return c.Info(ctx)
}

// listLoaders prints the loaders table of `ovms plugin list` (nothing
// when none is installed).
func listLoaders(c *cli.Context) error {
	loaders := installedLoaders(server.PluginDirs(c.String("plugin_dir")))
	if len(loaders) == 0 {
		return nil
	}
	names := make([]string, 0, len(loaders))
	for n := range loaders {
		names = append(names, n)
	}
	sort.Strings(names)
	w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\nLOADER\tVERSION\tPROTOCOL\tSTATUS")
	for _, n := range names {
		_, version, err := loaderInfo(c.Context, loaders[n])
		if err != nil {
			fmt.Fprintf(w, "%s\t-\t-\tfailed to start: %v (%s)\n", n, oneLine(err.Error()), loaders[n])
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%d\tavailable\n", n, version, loaderhost.Handshake.ProtocolVersion)
	}
	return w.Flush()
}

// inspectLoader is `ovms plugin inspect` for a loader; ok is false when no
// loader of that name is installed.
func inspectLoader(c *cli.Context, arg string) (out map[string]any, ok bool, err error) {
	name := strings.TrimPrefix(arg, loaderhost.BinaryPrefix)
	path := installedLoaders(server.PluginDirs(c.String("plugin_dir")))[name]
	if path == "" {
		return nil, false, nil
	}
	pname, version, err := loaderInfo(c.Context, path)
	if err != nil {
		return nil, true, err
	}
	sum, _ := pluginhost.FileSHA256(path)
	return map[string]any{"kind": "loader", "name": pname, "path": path, "sha256": sum, "version": version,
		"protocol_version": loaderhost.Handshake.ProtocolVersion}, true, nil
}

// removeTarget is the binary `ovms plugin remove NAME` deletes from dir: a
// full binary name as given; else the device plugin of that family, or the
// loader of that name when only it exists.
func removeTarget(dir, arg string) string {
	if pluginFileName(arg) {
		return arg
	}
	device := pluginhost.BinaryPrefix + arg
	if _, err := os.Stat(filepath.Join(dir, device)); err != nil {
		for _, p := range []string{sdknode.BinaryPrefix, loaderhost.BinaryPrefix} {
			if _, err := os.Stat(filepath.Join(dir, p+arg)); err == nil {
				return p + arg // a custom node library or loader of that name
			}
		}
	}
	return device
}
