package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/customnode"
	"github.com/ovmsgo/ovms/core/pipeline"
)

// validateCommand is `ovms validate [--check_storage] CONFIG`: the offline
// check of a config.json (schema, every model entry, then every model's
// base path as serving would list it, custom node libraries' programs, and
// pipeline definitions as far as they need no model metadata), printing
// every problem with its
// JSON path or model name. Exit 0 when the file would load every model, 1
// otherwise, 64 on a usage error; warnings alone do not fail it.
func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check a config.json offline (schema, model entries, base paths, custom node libraries, pipelines) and print every problem",
		ArgsUsage: "CONFIG",
		UsageText: "ovms validate [--check_storage] /models/config.json (or --config_path /models/config.json)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config_path", Usage: "the config.json to check (or give it as the argument)"},
			&cli.BoolFlag{Name: "check_storage", Usage: "also list remote base paths (s3://, gs://, az://, azfs://) with this environment's credentials, as serving would"},
		},
		Action: validateAction,
	}
}

// validatePath is the config file named by --config_path or the argument.
func validatePath(c *cli.Context) (string, error) {
	flag, args := c.String("config_path"), c.Args().Slice()
	switch {
	case len(args) > 1:
		return "", fmt.Errorf("%w: validate takes one config file, got %d arguments", config.ErrUsage, len(args))
	case len(args) == 1 && flag != "":
		return "", fmt.Errorf("%w: validate: give the config file as the argument or with --config_path, not both", config.ErrUsage)
	case len(args) == 1:
		return args[0], nil
	case flag == "":
		return "", fmt.Errorf("%w: validate: which config file? ovms validate /path/to/config.json", config.ErrUsage)
	}
	return flag, nil
}

func validateAction(c *cli.Context) error {
	path, err := validatePath(c)
	if err != nil {
		return err
	}
	out := c.App.Writer
	f, err := config.LoadFile(path)
	var fe *config.FileError
	switch {
	case errors.As(err, &fe):
		fmt.Fprintf(out, "%s: %s\n", path, fe.Reason)
		for _, p := range fe.Problems {
			fmt.Fprintf(out, "  error: %s\n", p)
		}
		if len(fe.Problems) == 0 && fe.Err != nil {
			fmt.Fprintf(out, "  error: %v\n", fe.Err)
		}
		return errorf("%s: invalid (%s); ovms would not start with it", path, plural(max(1, len(fe.Problems)), "problem"))
	case err != nil:
		return errorf("%v", err)
	}
	pipeProblems, libProblems := 0, 0
	for _, p := range f.Problems {
		what := "model"
		switch {
		case strings.HasPrefix(p.Path, "/pipeline_config_list/"):
			what = "pipeline"
			pipeProblems++
		case strings.HasPrefix(p.Path, "/custom_node_library_config_list/"):
			what = "custom node library"
			libProblems++
		}
		fmt.Fprintf(out, "  error: %s (the %s is skipped)\n", p, what)
	}
	failed := 0
	for _, m := range f.Models {
		r := checkModel(c.Context, m, c.Bool("check_storage"))
		r.print(out, m.Name)
		if r.err != "" {
			failed++
		}
	}
	for _, w := range f.Warnings {
		fmt.Fprintf(out, "  warning: %s\n", w)
	}
	libsFailed := 0
	for _, l := range f.NodeLibraries {
		if _, err := customnode.Resolve(l.BasePath); err != nil {
			fmt.Fprintf(out, "  error: custom node library %q: %v\n", l.Name, err)
			libsFailed++
		}
	}
	// Pipelines: the checks that need no model metadata (OVMS's texts);
	// the rest is checked when serving, against the loaded models.
	pipesFailed := 0
	for _, p := range f.Pipelines {
		if err := pipeline.Check(p, f.Models, f.NodeLibraries); err != nil {
			fmt.Fprintf(out, "  error: pipeline %q: %v\n", p.Name, err)
			pipesFailed++
		}
	}
	modelProblems := len(f.Problems) - pipeProblems - libProblems
	if bad := modelProblems + failed; bad > 0 {
		return errorf("%s: %d of %s would not load; the others would", path, bad, plural(modelProblems+len(f.Models), "model"))
	}
	if bad := libsFailed + libProblems; bad > 0 {
		return errorf("%s: %d of %d custom node libraries would not start; the rest would", path, bad, len(f.NodeLibraries)+libProblems)
	}
	if bad := pipesFailed + pipeProblems; bad > 0 {
		return errorf("%s: %d of %s would not validate; the rest would serve", path, bad, plural(len(f.Pipelines)+pipeProblems, "pipeline"))
	}
	if len(f.Pipelines) > 0 {
		fmt.Fprintf(out, "%s: valid, %s, %s (checked without their models' metadata)\n", path, plural(len(f.Models), "model"), plural(len(f.Pipelines), "pipeline"))
		return nil
	}
	fmt.Fprintf(out, "%s: valid, %s\n", path, plural(len(f.Models), "model"))
	return nil
}

// plural is "1 model" or "n models".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// modelCheck is what checkModel found about one model.
type modelCheck struct {
	err      string   // why the model would not load; "" when it would
	warnings []string // e.g. folders that are not versions
	note     string   // e.g. a remote path left unchecked
}

func (r modelCheck) print(w io.Writer, name string) {
	if r.err != "" {
		fmt.Fprintf(w, "  error: model %q: %s\n", name, r.err)
	}
	for _, s := range r.warnings {
		fmt.Fprintf(w, "  warning: model %q: %s\n", name, s)
	}
	if r.note != "" {
		fmt.Fprintf(w, "  note: model %q: %s\n", name, r.note)
	}
}
