package security

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"
)

// Config names the files of --tls_cert, --tls_key, --tls_client_ca,
// --api_key_file and --control_api_key_file ("" when not given).
type Config struct {
	TLSCert, TLSKey, TLSClientCA  string
	APIKeyFile, ControlAPIKeyFile string
}

// Security is what Load read: TLS (nil when off) and the API key
// Authorizer (nil when off).
type Security struct {
	TLS  *TLS
	Auth *Authorizer
	sets []*fileSet
}

// Load reads every file of c; any that cannot be read or parsed is an
// error (the server does not start).
func Load(c Config) (*Security, error) {
	s := &Security{}
	if c.TLSCert != "" {
		t, err := loadTLS(c.TLSCert, c.TLSKey, c.TLSClientCA)
		if err != nil {
			return nil, err
		}
		s.TLS = t
		s.sets = append(s.sets, t.files)
	}
	if c.APIKeyFile != "" || c.ControlAPIKeyFile != "" {
		s.Auth = &Authorizer{}
		var err error
		if c.APIKeyFile != "" {
			if s.Auth.inference, err = loadKeyFile("API key file", c.APIKeyFile); err != nil {
				return nil, fmt.Errorf("--api_key_file: %w", err)
			}
			s.sets = append(s.sets, s.Auth.inference.files)
		}
		if c.ControlAPIKeyFile != "" {
			if s.Auth.control, err = loadKeyFile("control API key file", c.ControlAPIKeyFile); err != nil {
				return nil, fmt.Errorf("--control_api_key_file: %w", err)
			}
			s.sets = append(s.sets, s.Auth.control.files)
		}
	}
	return s, nil
}

// Watch reloads the files when they change, until ctx is done.
func (s *Security) Watch(ctx context.Context, log *logrus.Entry) {
	watch(ctx, log, s.sets...)
}
