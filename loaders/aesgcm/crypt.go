package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ovmsgo/ovms/plugins/modelfile"
)

// encSuffix ends the name of every encrypted model file.
const encSuffix = ".enc"

// magic starts every encrypted file: format name and version.
var magic = []byte("OVMSAESGCM1\n")

// nonceSize is AES-GCM's standard nonce length.
const nonceSize = 12

// ErrWrongKey is wrapped by the error for a file that fails GCM's
// authentication: a wrong key, or a file changed after encryption.
var ErrWrongKey = errors.New("cannot decrypt: wrong key, or the file was changed after encryption (AES-256-GCM authentication failed)")

// The file layout: magic, a random nonce, then the ciphertext with GCM's
// 16-byte tag. The plain file's base name (model.onnx) is the additional
// authenticated data, so a file renamed to another model file's name
// fails to decrypt.

// encrypt seals plain as the file name.
func encrypt(key []byte, name string, plain []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(magic)+nonceSize, len(magic)+nonceSize+len(plain)+gcm.Overhead())
	copy(out, magic)
	if _, err := rand.Read(out[len(magic):]); err != nil {
		return nil, err
	}
	return gcm.Seal(out, out[len(magic):], plain, []byte(filepath.Base(name))), nil
}

// decrypt opens a file sealed by encrypt, in place (data is overwritten).
func decrypt(key []byte, name string, data []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(data) < len(magic)+nonceSize+gcm.Overhead() || string(data[:len(magic)]) != string(magic) {
		return nil, errors.New("not a file written by `ovms-loader-aesgcm encrypt`")
	}
	nonce, sealed := data[len(magic):len(magic)+nonceSize], data[len(magic)+nonceSize:]
	plain, err := gcm.Open(sealed[:0], nonce, sealed, []byte(filepath.Base(name)))
	if err != nil {
		return nil, ErrWrongKey
	}
	return plain, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("the key is %d bytes; AES-256 takes 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// readKey reads the key from its source: 64 hex digits (a file may also
// hold the 32 raw bytes).
func readKey(s keySource) ([]byte, error) {
	var raw []byte
	var where string
	switch {
	case s.KeyEnv != "":
		where = "environment variable " + s.KeyEnv
		v, ok := os.LookupEnv(s.KeyEnv)
		if !ok {
			return nil, fmt.Errorf("key: %s is not set", where)
		}
		raw = []byte(v)
	case s.KeyFile != "":
		where = "key file " + s.KeyFile
		var err error
		if raw, err = modelfile.ReadFile(s.KeyFile, 4096); err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
	default:
		return nil, errors.New("no key: set key_file or key_env in custom_loader_options or in the loader_config_file")
	}
	if len(raw) == 32 && s.KeyEnv == "" {
		return raw, nil
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("key: %s does not hold an AES-256 key (64 hex digits)", where)
	}
	return key, nil
}
