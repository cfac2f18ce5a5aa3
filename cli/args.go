package cli

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ovmsgo/ovms/core/config"
)

// flagsFirst moves the flags of the subcommand that args name in front of
// its positional arguments, so that flags may come before or after them
// (`ovms plugin install PATH --plugin_dir D`): urfave/cli v2, like Go's flag
// package, stops at the first argument that is not a flag. A flag's value
// moves with it (the next argument, unless the flag is boolean or written
// --name=value). After "--" everything is an argument, as before. The root
// command's arguments (the server flags) are returned unchanged.
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	var cmd *cli.Command
	cmds, i := app.Commands, 1
	for i < len(args) {
		next := findCommand(cmds, args[i])
		if next == nil {
			break
		}
		cmd, cmds = next, next.Subcommands
		i++
	}
	if cmd == nil {
		return args
	}
	var flags, pos []string
	ended := false
	for k := i; k < len(args); k++ {
		a := args[k]
		switch {
		case a == "--":
			pos = append(pos, args[k+1:]...)
			ended = true
			k = len(args)
		case len(a) > 1 && a[0] == '-':
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && takesValue(cmd.Flags, name) && k+1 < len(args) {
				flags = append(flags, args[k+1])
				k++
			}
		default:
			pos = append(pos, a)
		}
	}
	out := append(append([]string{}, args[:i]...), flags...)
	if ended {
		out = append(out, "--")
	}
	return append(out, pos...)
}

// findCommand is the command of cmds named (or aliased) name, or nil.
func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// takesValue reports whether the flag called name takes a value (false for
// boolean and unknown flags).
func takesValue(flags []cli.Flag, name string) bool {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				df, ok := f.(cli.DocGenerationFlag)
				return ok && df.TakesValue()
			}
		}
	}
	return false
}

// usageErrors makes every command, at every depth, report flag parsing
// errors as usage errors (exit 64).
func usageErrors(cmds []*cli.Command, onUsage cli.OnUsageErrorFunc) {
	for _, c := range cmds {
		c.OnUsageError = onUsage
		usageErrors(c.Subcommands, onUsage)
	}
}

// noArgs fails with a usage error when the command (named in the message)
// was given positional arguments.
func noArgs(c *cli.Context, name string) error {
	if c.NArg() > 0 {
		return fmt.Errorf("%w: %s: unexpected arguments: %s", config.ErrUsage, name, strings.Join(c.Args().Slice(), " "))
	}
	return nil
}

// oneArg fails with a usage error unless the command (named in the
// message) was given exactly one positional argument, what.
func oneArg(c *cli.Context, name, what string) error {
	if c.NArg() != 1 {
		return fmt.Errorf("%w: %s takes one %s (flags may come before or after it), got %d arguments", config.ErrUsage, name, what, c.NArg())
	}
	return nil
}
