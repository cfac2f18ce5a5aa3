// Package cli is the ovms command line as a library: the urfave/cli app, the
// OVMS flags (accepted on the root command and on `ovms serve`) and the exit
// codes OVMS uses (0 ok, 1 failure, 64 usage error).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/logging"
	"github.com/ovmsgo/ovms/core/server"
	"github.com/ovmsgo/ovms/internal/coreprocs"
	"github.com/ovmsgo/ovms/internal/gcfloor"
	"github.com/ovmsgo/ovms/internal/profiling"
	"github.com/ovmsgo/ovms/internal/version"
)

// Exit codes, as OVMS defines them.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 64
)

// plainError is a failure whose message is printed as is (exit 1).
type plainError struct{ msg string }

func (e *plainError) Error() string { return e.msg }

func errorf(format string, args ...any) error { return &plainError{fmt.Sprintf(format, args...)} }

// NewApp builds the ovms command-line app writing to stdout and stderr.
func NewApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:            "ovms",
		Usage:           "OpenVINO Model Server compatible model server (gRPC and REST, TF Serving and KServe v2 APIs)",
		Version:         version.String(),
		Writer:          stdout,
		ErrWriter:       stderr,
		Flags:           serveFlags(),
		HideHelpCommand: true,
		Action:          rootAction,
		Commands: []*cli.Command{{
			Name:   "serve",
			Usage:  "serve models (the same flags are accepted on the root command)",
			Flags:  serveFlags(),
			Action: serveAction,
		}, benchCommand(), validateCommand(), pluginCommand(), convertCommand(), healthCommand()},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return fmt.Errorf("%w: error parsing options: %v", config.ErrUsage, err)
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	usageErrors(app.Commands, app.OnUsageError)
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Fprintf(c.App.Writer, "OpenVINO Model Server (ovms) %s\n", c.App.Version)
	}
	return app
}

// Main runs the app on os.Args and returns the process exit code.
func Main(args []string) int {
	return Run(context.Background(), args, os.Stdout, os.Stderr)
}

// Run runs the app and maps its outcome to an exit code, printing errors
// alone on a line on stderr as OVMS does.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := NewApp(stdout, stderr)
	err := app.RunContext(ctx, flagsFirst(app, args))
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, config.ErrUsage):
		fmt.Fprintln(stderr, config.UsageMessage(err))
		return ExitUsage
	default:
		fmt.Fprintln(stderr, err)
		return ExitFailure
	}
}

func rootAction(c *cli.Context) error {
	if c.NumFlags() == 0 && c.NArg() == 0 {
		return cli.ShowAppHelp(c)
	}
	if c.NArg() > 0 {
		return fmt.Errorf("%w: error parsing options - unmatched arguments: %s, ", config.ErrUsage, strings.Join(c.Args().Slice(), ", "))
	}
	return serveAction(c)
}

func serveAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("%w: error parsing options - unmatched arguments: %s, ", config.ErrUsage, strings.Join(c.Args().Slice(), ", "))
	}
	cfg, err := serverConfig(c)
	if err != nil {
		return err
	}
	closer, err := logging.Setup(cfg.LogLevel, cfg.LogPath)
	if err != nil {
		return errorf("%v", err)
	}
	defer closer.Close()
	profiling.Start("ovms", logrus.Warnf)
	logTimerSlack(logging.Component("server"))
	gcfloor.StartLogged(logging.Component("server"))
	coreprocs.LimitLogged(logging.Component("server"))
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := server.Run(ctx, cfg, version.String()); err != nil {
		return errorf("%v", err)
	}
	return nil
}
