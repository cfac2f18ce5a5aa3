package cli

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/ovmsgo/ovms/core/config"
)

// validateCommand is `ovms validate --config_path FILE`: the offline check
// of a config.json (schema, then every model entry), printing every
// problem with its JSON path. Exit 0 when the file would load every model,
// 1 otherwise; warnings alone do not fail it.
func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check a config.json offline and print every problem with its JSON path",
		UsageText: "ovms validate --config_path /models/config.json",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config_path", Usage: "the config.json to check", Required: true},
		},
		Action: validateAction,
	}
}

func validateAction(c *cli.Context) error {
	path := c.String("config_path")
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
		return errorf("%s: invalid (%d problems); ovms would not start with it", path, max(1, len(fe.Problems)))
	case err != nil:
		return errorf("%v", err)
	}
	for _, p := range f.Problems {
		fmt.Fprintf(out, "  error: %s (the model is skipped)\n", p)
	}
	for _, w := range f.Warnings {
		fmt.Fprintf(out, "  warning: %s\n", w)
	}
	if len(f.Problems) > 0 {
		return errorf("%s: %d of %d model entries have problems; the others would load", path, len(f.Problems), len(f.Problems)+len(f.Models))
	}
	fmt.Fprintf(out, "%s: valid, %d models\n", path, len(f.Models))
	return nil
}
