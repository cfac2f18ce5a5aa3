package cli

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/urfave/cli/v2"

	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/internal/version"
	sdknode "github.com/ovmsgo/ovms/plugins/customnode"
)

// starterFiles are the templates `ovms plugin new` writes.
//
//go:embed starter/*.tmpl
var starterFiles embed.FS

// ovmsModule is the module path of the SDK.
const ovmsModule = "github.com/ovmsgo/ovms"

// familyName is a plugin family a target_device can name: what
// pluginhost.Family leaves of it.
var familyName = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// pluginNewCommand is `ovms plugin new NAME`.
func pluginNewCommand() *cli.Command {
	return &cli.Command{
		Name:  "new",
		Usage: "write a starter device plugin ovms-device-NAME, or with --node a custom node library ovms-node-NAME (main.go, a contract test, go.mod) that builds as it is",
		Description: "The plugin serves models whose target_device is NAME in capitals. Without --dir it is written into ./ovms-device-NAME.\n" +
			"Inside an ovms source checkout it becomes a package of that module; elsewhere it gets a go.mod, pointed at a\n" +
			"checkout with --sdk (its go.sum is copied, so go mod tidy works offline where ovms was built).",
		ArgsUsage: "NAME (e.g. negate)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Usage: "folder to write the plugin into (must not exist or be empty)"},
			&cli.StringFlag{Name: "sdk", Usage: "an ovms source checkout the plugin's go.mod points at (replace directive)"},
			&cli.BoolFlag{Name: "node", Usage: "write a custom node library ovms-node-NAME instead (docs/custom-nodes.md)"},
		},
		Action: pluginNew,
	}
}

func pluginNew(c *cli.Context) error {
	if err := oneArg(c, "plugin new", "NAME"); err != nil {
		return err
	}
	prefix, tmplPrefix := pluginhost.BinaryPrefix, ""
	if c.Bool("node") {
		prefix, tmplPrefix = sdknode.BinaryPrefix, "node_"
	}
	name := strings.TrimPrefix(c.Args().First(), prefix)
	if !familyName.MatchString(name) {
		return errorf("plugin new: %q is not a plugin family name: lowercase letters, digits, '_' and '-', starting with a letter", name)
	}
	dir := c.String("dir")
	if dir == "" {
		dir = prefix + name
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return errorf("plugin new: %s exists and is not empty", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return errorf("plugin new: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errorf("plugin new: %v", err)
	}
	data := struct{ Name, Device string }{name, strings.ToUpper(name)}
	for _, f := range []string{"main.go", "main_test.go"} {
		tmpl, err := template.ParseFS(starterFiles, "starter/"+tmplPrefix+f+".tmpl")
		if err != nil {
			return errorf("plugin new: %v", err)
		}
		var b bytes.Buffer
		if err := tmpl.Execute(&b, data); err != nil {
			return errorf("plugin new: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b.Bytes(), 0o644); err != nil {
			return errorf("plugin new: %v", err)
		}
	}
	next, err := starterModule(dir, prefix+name, c.String("sdk"))
	if err != nil {
		return errorf("plugin new: %v", err)
	}
	what := "a device plugin for target_device " + data.Device
	if c.Bool("node") {
		what = fmt.Sprintf("a custom node library (config: \"custom_node_library_config_list\": [{\"name\": %q, \"base_path\": \"%s%s\"}])", name, prefix, name)
	}
	fmt.Fprintf(c.App.Writer, "wrote %s: %s\nnext:\n%s", dir, what, next)
	return nil
}

// starterModule gives the starter in dir (program bin) a module: none inside an ovms
// checkout, else a go.mod requiring the SDK (replaced by sdk when given,
// with its go.sum). It returns the next steps to print.
func starterModule(dir, bin, sdk string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	steps := fmt.Sprintf("  go test ./...                # the contract tests\n  go build -o %s .\n  ovms plugin install ./%s     # beside ovms, or --plugin_dir DIR\n", bin, bin)
	if root := moduleRoot(abs); root != "" && sdk == "" {
		rel, _ := filepath.Rel(root, abs)
		return fmt.Sprintf("  cd %s   (a package of the ovms module at %s)\n%s", dir, filepath.Join(root, rel), steps), nil
	}
	mod := fmt.Sprintf("module %s\n\ngo 1.26\n\nrequire %s %s\n", bin, ovmsModule, version.Release)
	if sdk != "" {
		abssdk, err := filepath.Abs(sdk)
		if err != nil {
			return "", err
		}
		if moduleRoot(abssdk) != abssdk {
			return "", fmt.Errorf("--sdk %s is not an ovms source checkout (no go.mod of %s there)", sdk, ovmsModule)
		}
		sum, err := os.ReadFile(filepath.Join(abssdk, "go.sum"))
		if err != nil {
			return "", err
		}
		mod += fmt.Sprintf("\nreplace %s => %s\n", ovmsModule, abssdk)
		if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		return "", err
	}
	tidy := "  go mod tidy                  # the SDK's requirements (offline where ovms was built: its go.sum is here)\n"
	if sdk == "" {
		tidy = "  go mod tidy                  # fetches the SDK; or write the plugin again with --sdk DIR, an ovms checkout\n"
	}
	steps = tidy + steps
	return fmt.Sprintf("  cd %s\n%s", dir, steps), nil
}

// moduleRoot is the folder of the ovms module's go.mod at or above dir, or
// "".
func moduleRoot(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil {
			if regexp.MustCompile(`(?m)^module\s+` + regexp.QuoteMeta(ovmsModule) + `\s*$`).Match(b) {
				return d
			}
			return ""
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}
