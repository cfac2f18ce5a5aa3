package cli

// This file is `ovms health`: a health probe for container HEALTHCHECKs and
// Kubernetes exec probes, with no shell or curl in the image.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// healthCommand is `ovms health [--rest_port N | --port N] [--live]`: asks a
// running ovms whether it is ready (KServe's /v2/health/ready over REST, or
// the standard gRPC health service over gRPC) and exits 0 when it is, 1 when
// it is not or does not answer. Without ports it reads them from the command
// line of the server process (--pid, default 1: the container's entrypoint),
// so that an image's HEALTHCHECK needs no arguments.
func healthCommand() *cli.Command {
	return &cli.Command{
		Name:      "health",
		Usage:     "exit 0 when a running ovms is ready (REST /v2/health/ready, else gRPC health); for container health checks",
		UsageText: "ovms health [--rest_port 8000 | --port 9000] [--address 127.0.0.1] [--live] [--timeout 3s]",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "rest_port", Usage: "REST port to ask (default: the server's --rest_port, read from its command line)"},
			&cli.IntFlag{Name: "port", Usage: "gRPC port to ask when there is no REST port (default: the server's --port)"},
			&cli.StringFlag{Name: "address", Value: "127.0.0.1", Usage: "host to ask (default: the server's bind address unless it is 0.0.0.0, else 127.0.0.1)"},
			&cli.BoolFlag{Name: "live", Usage: "ask for liveness (/v2/health/live) rather than readiness"},
			&cli.DurationFlag{Name: "timeout", Value: 3 * time.Second, Usage: "give up after this long"},
			&cli.IntFlag{Name: "pid", Value: 1, Usage: "process whose command line gives the ports when no port flag is set"},
		},
		Action: healthAction,
	}
}

func healthAction(c *cli.Context) error {
	if err := noArgs(c, "health"); err != nil {
		return err
	}
	restPort, grpcPort := c.Int("rest_port"), c.Int("port")
	restAddr, grpcAddr := c.String("address"), c.String("address")
	if restPort == 0 && grpcPort == 0 {
		args, err := processArgs(c.Int("pid"))
		if err != nil {
			return errorf("health: no --rest_port or --port given and %v", err)
		}
		restPort, _ = strconv.Atoi(flagValue(args, "rest_port"))
		grpcPort, _ = strconv.Atoi(flagValue(args, "port"))
		if !c.IsSet("address") {
			restAddr = probeAddress(flagValue(args, "rest_bind_address"))
			grpcAddr = probeAddress(flagValue(args, "grpc_bind_address"))
		}
	}
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	defer cancel()
	var err error
	switch {
	case restPort > 0:
		err = restHealth(ctx, net.JoinHostPort(restAddr, strconv.Itoa(restPort)), c.Bool("live"))
	case grpcPort > 0:
		err = grpcHealth(ctx, net.JoinHostPort(grpcAddr, strconv.Itoa(grpcPort)))
	default:
		return errorf("health: the server has neither --rest_port nor --port; give one")
	}
	if err != nil {
		return errorf("health: %v", err)
	}
	fmt.Fprintln(c.App.Writer, "ok")
	return nil
}

// restHealth asks GET /v2/health/ready (or /live) at addr.
func restHealth(ctx context.Context, addr string, live bool) error {
	path := "/v2/health/ready"
	if live {
		path = "/v2/health/live"
	}
	url := "http://" + addr + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// grpcHealth asks the standard gRPC health service (the whole server) at addr.
func grpcHealth(ctx context.Context, addr string) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("gRPC %s: %w", addr, err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	if err != nil {
		return fmt.Errorf("gRPC health at %s: %w", addr, err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("gRPC health at %s: %s", addr, resp.GetStatus())
	}
	return nil
}

// processArgs is the command line of process pid, from /proc.
func processArgs(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil, fmt.Errorf("reading the server's command line: %w", err)
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), nil
}

// flagValue is the value of flag name in args (-name V, --name V,
// -name=V or --name=V; the last one wins, as in the server), or "".
func flagValue(args []string, name string) string {
	v := ""
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		if a == args[i] || a == "" {
			continue // not a flag
		}
		if k, val, ok := strings.Cut(a, "="); ok {
			if k == name {
				v = val
			}
			continue
		}
		if a == name && i+1 < len(args) {
			v = args[i+1]
			i++
		}
	}
	return v
}

// probeAddress is where to reach a server bound to bind: the address
// itself, or loopback for the wildcard addresses and when unset.
func probeAddress(bind string) string {
	switch bind {
	case "", "0.0.0.0", "::", "[::]":
		return "127.0.0.1"
	}
	return strings.Trim(bind, "[]")
}
