package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ovmsgo/ovms/plugins/modelfile"
)

// command runs `ovms-loader-aesgcm keygen|encrypt ...` and returns the
// exit code.
func command(name string, args []string) int {
	var err error
	switch name {
	case "keygen":
		err = keygen(args)
	case "encrypt":
		err = encryptFiles(args)
	default:
		err = fmt.Errorf("unknown command %q; want keygen KEYFILE, or encrypt (-key-file KEYFILE | -key-env VAR) FILE...", name)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ovms-loader-aesgcm:", err)
		return 1
	}
	return 0
}

// keygen writes a random key (64 hex digits) to a new file, mode 0600.
func keygen(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: keygen KEYFILE")
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// encryptFiles writes FILE.enc beside each FILE.
func encryptFiles(args []string) error {
	fs := flag.NewFlagSet("encrypt", flag.ContinueOnError)
	var src keySource
	fs.StringVar(&src.KeyFile, "key-file", "", "file holding the key (64 hex digits)")
	fs.StringVar(&src.KeyEnv, "key-env", "", "environment variable holding the key (64 hex digits)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("usage: encrypt (-key-file KEYFILE | -key-env VAR) FILE...")
	}
	key, err := readKey(src)
	if err != nil {
		return err
	}
	for _, path := range fs.Args() {
		if strings.HasSuffix(path, encSuffix) {
			return fmt.Errorf("%s is already encrypted", path)
		}
		plain, err := modelfile.ReadFile(path, 0)
		if err != nil {
			return err
		}
		sealed, err := encrypt(key, filepath.Base(path), plain)
		if err != nil {
			return err
		}
		if err := os.WriteFile(path+encSuffix, sealed, 0o644); err != nil {
			return err
		}
		fmt.Printf("wrote %s%s\n", path, encSuffix)
	}
	return nil
}
