package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ovmsgo/ovms/core/logging"
	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/core/server"
	"github.com/ovmsgo/ovms/plugins/device"
)

// pluginCommand is `ovms plugin ...`: device plugin management.
func pluginCommand() *cli.Command {
	dir := &cli.StringFlag{Name: "plugin_dir", Usage: "folder searched first for device plugin binaries"}
	return &cli.Command{
		Name:  "plugin",
		Usage: "device plugins: list what is installed and whether its device is present here",
		Subcommands: []*cli.Command{{
			Name:   "list",
			Usage:  "start every installed device plugin once and print its version, protocol, engine, devices and availability",
			Flags:  []cli.Flag{dir},
			Action: pluginList,
		}},
	}
}

func pluginList(c *cli.Context) error {
	closer, err := logging.Setup("ERROR", "")
	if err != nil {
		return errorf("%v", err)
	}
	defer closer.Close()
	host := pluginhost.New(pluginhost.Config{Dirs: server.PluginDirs(c.String("plugin_dir")), ArenaBytes: 16 << 20})
	defer host.Close()
	fams := host.Installed()
	if len(fams) == 0 {
		return errorf("no device plugin (%s<family>) found; set --plugin_dir", pluginhost.BinaryPrefix)
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
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", fam, info.Version, device.Handshake.ProtocolVersion, info.Engine, strings.Join(info.Devices, ","), state)
	}
	return w.Flush()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
