package cli

// This file is `ovms health`: a health probe for container HEALTHCHECKs and
// Kubernetes exec probes, with no shell or curl in the image.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/ovmsgo/ovms/core/config"
)

// healthCommand is `ovms health [--rest_port N | --port N] [--live]`: asks a
// running ovms whether it is ready (KServe's /v2/health/ready over REST, or
// the standard gRPC health service over gRPC) and exits 0 when it is, 1 when
// it is not or does not answer. Without ports it reads them from the command
// line of the server process (--pid, default 1: the container's entrypoint),
// so that an image's HEALTHCHECK needs no arguments; that command line also
// says whether the server speaks TLS (--tls_cert) and asks for client
// certificates (--tls_client_ca), see healthTLSConfig.
func healthCommand() *cli.Command {
	return &cli.Command{
		Name:      "health",
		Usage:     "exit 0 when a running ovms is ready (REST /v2/health/ready, else gRPC health); for container health checks",
		UsageText: "ovms health [--rest_port 8000 | --port 9000] [--address 127.0.0.1] [--live] [--timeout 3s] [--tls] [--tls_ca ca.pem] [--tls_server_name NAME] [--tls_client_cert c.crt --tls_client_key c.key]",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "rest_port", Usage: "REST port to ask (default: the server's --rest_port, read from its command line)"},
			&cli.IntFlag{Name: "port", Usage: "gRPC port to ask when there is no REST port (default: the server's --port)"},
			&cli.StringFlag{Name: "address", Value: "127.0.0.1", Usage: "host to ask (default: the server's bind address unless it is 0.0.0.0, else 127.0.0.1)"},
			&cli.BoolFlag{Name: "live", Usage: "ask for liveness (/v2/health/live) rather than readiness"},
			&cli.DurationFlag{Name: "timeout", Value: 3 * time.Second, Usage: "give up after this long"},
			&cli.IntFlag{Name: "pid", Value: 1, Usage: "process whose command line gives the ports (and TLS files) when no port flag is set"},
			&cli.BoolFlag{Name: "tls", Usage: "speak TLS (https, TLS gRPC); implied by the other tls flags and, without port flags, by the server's --tls_cert"},
			&cli.StringFlag{Name: "tls_ca", EnvVars: []string{"OVMS_HEALTH_TLS_CA"}, Usage: "PEM CA bundle to verify the server's certificate with (default: the system's roots; without port flags, the server's own --tls_cert is trusted as it is)"},
			&cli.StringFlag{Name: "tls_server_name", EnvVars: []string{"OVMS_HEALTH_TLS_SERVER_NAME"}, Usage: "name (DNS or IP) the server's certificate must carry (default: --address)"},
			&cli.StringFlag{Name: "tls_client_cert", EnvVars: []string{"OVMS_HEALTH_TLS_CLIENT_CERT"}, Usage: "PEM client certificate for a server with --tls_client_ca (mutual TLS); needs --tls_client_key (default without port flags: the server's own certificate and key)"},
			&cli.StringFlag{Name: "tls_client_key", EnvVars: []string{"OVMS_HEALTH_TLS_CLIENT_KEY"}, Usage: "PEM private key of --tls_client_cert"},
			&cli.BoolFlag{Name: "insecure_skip_verify", Usage: "speak TLS without verifying the server's certificate"},
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
	var server *serverTLSFiles // the server's own TLS files, when its command line was read
	if restPort == 0 && grpcPort == 0 {
		pid := c.Int("pid")
		args, err := processArgs(pid)
		if err != nil {
			return errorf("health: no --rest_port or --port given and %v", err)
		}
		restPort, _ = strconv.Atoi(flagValue(args, "rest_port"))
		grpcPort, _ = strconv.Atoi(flagValue(args, "port"))
		if !c.IsSet("address") {
			restAddr = probeAddress(flagValue(args, "rest_bind_address"))
			grpcAddr = probeAddress(flagValue(args, "grpc_bind_address"))
		}
		server = readServerTLSFiles(pid, args)
	}
	host, port := restAddr, restPort
	switch {
	case restPort > 0:
	case grpcPort > 0:
		host, port = grpcAddr, grpcPort
	default:
		return errorf("health: the server has neither --rest_port nor --port; give one")
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	tlsCfg, err := healthTLSConfig(c, server, strings.Trim(host, "[]"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	defer cancel()
	if restPort > 0 {
		err = restHealth(ctx, addr, c.Bool("live"), tlsCfg)
	} else {
		err = grpcHealth(ctx, addr, tlsCfg)
	}
	if err != nil {
		return errorf("health: %v", err)
	}
	fmt.Fprintln(c.App.Writer, "ok")
	return nil
}

// serverTLSFiles are the TLS flags of the server's command line, as paths
// the probe can open (relative ones resolved against the server's working
// folder).
type serverTLSFiles struct {
	cert, key, clientCA string
}

// readServerTLSFiles reads --tls_cert, --tls_key and --tls_client_ca from
// args, the command line of process pid; nil when it has no --tls_cert.
func readServerTLSFiles(pid int, args []string) *serverTLSFiles {
	cert := flagValue(args, "tls_cert")
	if cert == "" {
		return nil
	}
	cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) || cwd == "" {
			return p
		}
		return filepath.Join(cwd, p)
	}
	return &serverTLSFiles{cert: abs(cert), key: abs(flagValue(args, "tls_key")), clientCA: abs(flagValue(args, "tls_client_ca"))}
}

// healthTLSConfig is the probe's TLS configuration, or nil for plain text.
// TLS is on with --tls or any other TLS flag, or when the server's command
// line (server, when it was read) has --tls_cert. The server is verified
// with --tls_ca for --tls_server_name (default host), or, with no --tls_ca
// but the server's files at hand, by its certificate being the one in the
// server's --tls_cert file (the probe runs beside the server, so it needs
// no names in the certificate and no CA), else with the system's roots. The
// client certificate is --tls_client_cert/--tls_client_key, or, when the
// server asks for one (--tls_client_ca) and none is given, the server's own
// certificate and key (accepted when the client CA signed it and it allows
// client authentication).
func healthTLSConfig(c *cli.Context, server *serverTLSFiles, host string) (*tls.Config, error) {
	explicit := c.Bool("tls") || c.Bool("insecure_skip_verify")
	for _, f := range []string{"tls_ca", "tls_server_name", "tls_client_cert", "tls_client_key"} {
		explicit = explicit || c.String(f) != ""
	}
	if !explicit && server == nil {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	clientCert, clientKey := c.String("tls_client_cert"), c.String("tls_client_key")
	if (clientCert == "") != (clientKey == "") {
		return nil, fmt.Errorf("%w: health: tls_client_cert and tls_client_key must be given together", config.ErrUsage)
	}
	if clientCert == "" && server != nil && server.clientCA != "" {
		clientCert, clientKey = server.cert, server.key
	}
	if clientCert != "" {
		pair, err := tls.LoadX509KeyPair(clientCert, clientKey)
		if err != nil {
			return nil, errorf("health: client certificate %s, key %s: %v", clientCert, clientKey, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	switch ca := c.String("tls_ca"); {
	case c.Bool("insecure_skip_verify"):
		cfg.InsecureSkipVerify = true
	case ca != "":
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, errorf("health: reading the CA bundle: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errorf("health: %s holds no PEM certificate", ca)
		}
		cfg.RootCAs = pool
		cfg.ServerName = serverName(c, host)
	case server != nil:
		leaf, err := firstCertificate(server.cert)
		if err != nil {
			return nil, errorf("health: the server's certificate: %v", err)
		}
		// Verified below by comparing the certificate itself, not its chain and names.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, leaf) {
				return fmt.Errorf("the server's certificate is not the one in %s (give --tls_ca to verify it by its CA)", server.cert)
			}
			return nil
		}
	default:
		cfg.ServerName = serverName(c, host) // the system's roots
	}
	return cfg, nil
}

func serverName(c *cli.Context, host string) string {
	if n := c.String("tls_server_name"); n != "" {
		return n
	}
	return host
}

// firstCertificate is the DER of the first certificate of a PEM file.
func firstCertificate(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s holds no PEM certificate", path)
		}
		if blk.Type == "CERTIFICATE" {
			return blk.Bytes, nil
		}
	}
}

// restHealth asks GET /v2/health/ready (or /live) at addr, over TLS when
// tlsCfg is not nil.
func restHealth(ctx context.Context, addr string, live bool, tlsCfg *tls.Config) error {
	path := "/v2/health/ready"
	if live {
		path = "/v2/health/live"
	}
	scheme, client := "http", http.DefaultClient
	if tlsCfg != nil {
		scheme = "https"
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg, DisableKeepAlives: true}}
	}
	url := scheme + "://" + addr + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		if tlsCfg == nil && resp.StatusCode == http.StatusBadRequest && bytes.Contains(body, []byte("HTTPS server")) {
			return fmt.Errorf("GET %s: %s: the server speaks TLS (give --tls, and --tls_ca or --insecure_skip_verify)", url, resp.Status)
		}
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// grpcHealth asks the standard gRPC health service (the whole server) at
// addr, over TLS when tlsCfg is not nil.
func grpcHealth(ctx context.Context, addr string, tlsCfg *tls.Config) error {
	creds := insecure.NewCredentials()
	if tlsCfg != nil {
		creds = credentials.NewTLS(tlsCfg)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return fmt.Errorf("gRPC %s: %w", addr, err)
	}
	defer conn.Close()
	// Without WaitForReady when TLS is on: a handshake failure then ends the
	// call with its cause rather than waiting out the timeout.
	opts := []grpc.CallOption{grpc.WaitForReady(tlsCfg == nil)}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, opts...)
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
