package security

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"
)

// TLS serves the certificate of --tls_cert and --tls_key and, with
// --tls_client_ca, requires and verifies client certificates (mutual TLS).
// What it serves is swapped atomically when the files change; handshakes
// in progress keep the configuration they started with.
type TLS struct {
	cur   atomic.Pointer[tls.Config]
	files *fileSet
}

// loadTLS reads the certificate, key and (optional) client CA bundle.
func loadTLS(certFile, keyFile, clientCAFile string) (*TLS, error) {
	t := &TLS{}
	paths := []string{certFile, keyFile}
	if clientCAFile != "" {
		paths = append(paths, clientCAFile)
	}
	t.files = &fileSet{name: "TLS certificate", paths: paths, apply: t.apply}
	if err := t.files.load(); err != nil {
		return nil, err
	}
	return t, nil
}

// apply builds the per-handshake configuration from the files' contents.
func (t *TLS) apply(contents [][]byte) error {
	cert, err := tls.X509KeyPair(contents[0], contents[1])
	if err != nil {
		return fmt.Errorf("certificate and key: %w", err)
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if len(contents) > 2 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(contents[2]) {
			return errors.New("client CA: no PEM certificate found")
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	t.cur.Store(c)
	return nil
}

// MutualTLS reports whether client certificates are required.
func (t *TLS) MutualTLS() bool { return t.cur.Load().ClientAuth == tls.RequireAndVerifyClientCert }

// ServerConfig is a server configuration that negotiates the application
// protocols nextProtos ("h2" for gRPC, "http/1.1" for REST) and takes
// the certificate in force at each handshake.
func (t *TLS) ServerConfig(nextProtos ...string) *tls.Config {
	type derived struct{ base, cfg *tls.Config }
	var last atomic.Pointer[derived]
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: nextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			base := t.cur.Load()
			if d := last.Load(); d != nil && d.base == base {
				return d.cfg, nil
			}
			c := base.Clone()
			c.NextProtos = nextProtos
			last.Store(&derived{base: base, cfg: c})
			return c, nil
		},
	}
}
