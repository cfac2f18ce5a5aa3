package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/logging"
	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/core/server"
	sdknode "github.com/ovmsgo/ovms/plugins/customnode"
	plugproto "github.com/ovmsgo/ovms/plugins/host"
	"github.com/ovmsgo/ovms/plugins/host/loaderhost"
)

// pluginCommand is `ovms plugin ...`: device plugin and custom loader
// management.
func pluginCommand() *cli.Command {
	dir := &cli.StringFlag{Name: "plugin_dir", Usage: "folder searched first for device plugin and custom loader binaries"}
	return &cli.Command{
		Name:   "plugin",
		Usage:  "device plugins, custom node libraries and custom loaders: list what is installed and whether its device is present here",
		Action: pluginAction,
		Subcommands: []*cli.Command{pluginNewCommand(), {
			Name:   "list",
			Usage:  "start every installed device plugin, custom node library (ovms-node-NAME) and custom loader (ovms-loader-NAME) once and print its version, protocol, engine, devices and availability",
			Flags:  []cli.Flag{dir},
			Action: pluginList,
		}, {
			Name:      "install",
			Usage:     "copy a plugin binary (ovms-device-<family>, ovms-node-<name> or ovms-loader-<name>) into the plugin folder and record its sha256 in the folder's manifest (plugins.json); a folder without a manifest gets one that also records the plugins already there",
			ArgsUsage: "PATH|file:///PATH",
			Flags:     []cli.Flag{dir, &cli.StringFlag{Name: "sha256", Usage: "refuse the file unless its sha256 is this (hex)"}},
			Action:    pluginInstall,
		}, {
			Name:      "remove",
			Usage:     "delete an installed plugin and its manifest entry",
			ArgsUsage: "NAME (e.g. gpu, ovms-node-argmax or ovms-loader-aesgcm)",
			Flags:     []cli.Flag{dir},
			Action:    pluginRemove,
		}, {
			Name:      "inspect",
			Usage:     "start one plugin and print what it reports about itself, as JSON",
			ArgsUsage: "NAME (e.g. cpu, argmax for ovms-node-argmax, or aesgcm for a loader)",
			Flags:     []cli.Flag{dir},
			Action:    pluginInspect,
		}},
	}
}

// pluginAction runs for `ovms plugin` without a known subcommand: help, or
// a usage error naming the subcommands.
func pluginAction(c *cli.Context) error {
	if c.NArg() == 0 {
		return cli.ShowSubcommandHelp(c)
	}
	return fmt.Errorf("%w: plugin: unknown command %q (want new, list, install, remove or inspect)", config.ErrUsage, c.Args().First())
}

// probeHost is a plugin host for starting plugins once to ask them about
// themselves (small arenas; only errors are logged). done stops it.
func probeHost(c *cli.Context) (host *pluginhost.Host, done func(), err error) {
	closer, err := logging.Setup("ERROR", "")
	if err != nil {
		return nil, nil, errorf("%v", err)
	}
	host = pluginhost.New(pluginhost.Config{Dirs: server.PluginDirs(c.String("plugin_dir")), ArenaBytes: 16 << 20})
	return host, func() { host.Close(); _ = closer.Close() }, nil
}

func pluginList(c *cli.Context) (err error) {
	if err := noArgs(c, "plugin list"); err != nil {
		return err
	}
	host, done, err := probeHost(c)
	if err != nil {
		return err
	}
	defer done()
	fams := host.Installed()
	dirs := server.PluginDirs(c.String("plugin_dir"))
	if len(fams) == 0 && len(installedNodes(dirs)) == 0 && len(installedLoaders(dirs)) == 0 {
		return errorf("no device plugin (%s<family>), custom node library (%s<name>) or custom loader (%s<name>) found; set --plugin_dir",
			pluginhost.BinaryPrefix, sdknode.BinaryPrefix, loaderhost.BinaryPrefix)
	}
	defer func() {
		if err == nil {
			err = listLoaders(c)
		}
	}()
	if len(fams) == 0 {
		return listNodes(c.Context, c.App.Writer, host, dirs)
	}
	w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PLUGIN\tVERSION\tPROTOCOL\tENGINE\tDEVICES\tSTATUS")
	for _, fam := range fams {
		path, _ := host.Find(fam)
		ctx, cancel := context.WithTimeout(c.Context, 30*time.Second)
		inst, err := host.Get(ctx, fam)
		cancel()
		if err != nil {
			fmt.Fprintf(w, "%s\t-\t-\t-\t-\tfailed to start: %v (%s)\n", fam, oneLine(err.Error()), path)
			continue
		}
		info := inst.Info
		state := "available"
		if info.Unavailable {
			state = "not present: " + info.Reason
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", fam, info.Version, plugproto.Handshake.ProtocolVersion, info.Engine, strings.Join(info.Devices, ","), state)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(installedNodes(dirs)) > 0 {
		fmt.Fprintln(c.App.Writer)
	}
	return listNodes(c.Context, c.App.Writer, host, dirs)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// installDir is where install and remove work: --plugin_dir, else the
// folder of the ovms executable.
func installDir(c *cli.Context) string {
	return server.PluginDirs(c.String("plugin_dir"))[0]
}

func pluginInstall(c *cli.Context) error {
	if err := oneArg(c, "plugin install", "PATH"); err != nil {
		return err
	}
	src := strings.TrimPrefix(c.Args().First(), "file://")
	name := filepath.Base(src)
	if !pluginFileName(name) {
		return errorf("%s: a device plugin's file name must be %s<family>, a custom node library's %s<name>, a custom loader's %s<name>", src, pluginhost.BinaryPrefix, sdknode.BinaryPrefix, loaderhost.BinaryPrefix)
	}
	sum, err := pluginhost.FileSHA256(src)
	if err != nil {
		return errorf("%v", err)
	}
	if want := strings.ToLower(c.String("sha256")); want != "" && want != sum {
		return errorf("%s: sha256 is %s, not %s; not installed", src, sum, want)
	}
	dir := installDir(c)
	m, err := pluginhost.ReadManifest(dir)
	if err != nil {
		return errorf("%v", err)
	}
	var adopted []string
	if m == nil {
		// A folder without a manifest trusts every plugin in it; a manifest
		// trusts only what it lists. Keep the plugins already there (the
		// built-in ones beside ovms) trusted, as they are now.
		if m, adopted, err = adoptInstalled(dir, name); err != nil {
			return errorf("%v", err)
		}
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return errorf("%v", err)
	}
	dst := filepath.Join(dir, name)
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		return errorf("%v", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return errorf("%v", err)
	}
	m.Plugins[name] = sum
	if err := m.Write(dir); err != nil {
		return errorf("%v", err)
	}
	if len(adopted) > 0 {
		fmt.Fprintf(c.App.Writer, "%s had no %s: recorded the plugins already there as installed: %s\n", dir, pluginhost.ManifestFile, strings.Join(adopted, ", "))
	}
	fmt.Fprintf(c.App.Writer, "installed %s (sha256 %s) into %s\n", name, sum, dir)
	return nil
}

// adoptInstalled starts the manifest of a folder that has none: every
// plugin binary already in dir (other than the one being installed, skip)
// is recorded with its current sha256, so that writing the manifest does
// not lock them out. It returns the manifest and the names recorded.
func adoptInstalled(dir, skip string) (*pluginhost.Manifest, []string, error) {
	m := &pluginhost.Manifest{Plugins: map[string]string{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if !pluginFileName(name) || name == skip || !e.Type().IsRegular() {
			continue
		}
		if info, err := e.Info(); err != nil || info.Mode()&0o111 == 0 {
			continue
		}
		sum, err := pluginhost.FileSHA256(filepath.Join(dir, name))
		if err != nil {
			return nil, nil, err
		}
		m.Plugins[name] = sum
		names = append(names, name)
	}
	return m, names, nil
}

func pluginRemove(c *cli.Context) error {
	if err := oneArg(c, "plugin remove", "NAME"); err != nil {
		return err
	}
	dir := installDir(c)
	name := removeTarget(dir, c.Args().First())
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		return errorf("%v", err)
	}
	if m, err := pluginhost.ReadManifest(dir); err == nil && m != nil {
		delete(m.Plugins, name)
		if err := m.Write(dir); err != nil {
			return errorf("%v", err)
		}
	}
	fmt.Fprintf(c.App.Writer, "removed %s from %s\n", name, dir)
	return nil
}

func pluginInspect(c *cli.Context) error {
	if err := oneArg(c, "plugin inspect", "NAME"); err != nil {
		return err
	}
	host, done, err := probeHost(c)
	if err != nil {
		return err
	}
	defer done()
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	arg := c.Args().First()
	fam := strings.TrimPrefix(arg, pluginhost.BinaryPrefix)
	nodes := installedNodes(server.PluginDirs(c.String("plugin_dir")))
	node, isNode := strings.CutPrefix(arg, sdknode.BinaryPrefix)
	if _, err := host.Find(fam); !isNode && err != nil && nodes[arg] != "" {
		node, isNode = arg, true // no device plugin of that name, but a custom node library
	}
	if isNode {
		if nodes[node] == "" {
			return errorf("custom node library %s%s not found; set --plugin_dir", sdknode.BinaryPrefix, node)
		}
		out, err := inspectNode(c.Context, host, node, nodes[node])
		if err != nil {
			return errorf("%v", err)
		}
		return enc.Encode(out)
	}
	if _, err := host.Find(fam); err != nil || strings.HasPrefix(arg, loaderhost.BinaryPrefix) {
		out, ok, lerr := inspectLoader(c, arg)
		if ok {
			if lerr != nil {
				return errorf("%v", lerr)
			}
			return enc.Encode(out)
		}
	}
	inst, err := host.Get(c.Context, fam)
	if err != nil {
		return errorf("%v", err)
	}
	sum, _ := pluginhost.FileSHA256(inst.Path)
	out := map[string]any{
		"kind": "device", "name": inst.Info.Name, "path": inst.Path, "sha256": sum, "version": inst.Info.Version,
		"protocol_version": plugproto.Handshake.ProtocolVersion, "engine": inst.Info.Engine, "devices": inst.Info.Devices,
		"available": !inst.Info.Unavailable, "unavailable_reason": inst.Info.Reason,
	}
	return enc.Encode(out)
}
