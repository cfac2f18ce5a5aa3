package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/plugins/host/loaderhost"
	"github.com/ovmsgo/ovms/plugins/loader/loadertest"
)

const testKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func key(t *testing.T, h string) []byte {
	k, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRoundTripAndWrongKey(t *testing.T) {
	plain := []byte("model bytes")
	sealed, err := encrypt(key(t, testKey), "model.onnx", plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain) {
		t.Fatal("the plain bytes are in the encrypted file")
	}
	other := strings.Repeat("ab", 32)
	if _, err := decrypt(key(t, other), "model.onnx", bytes.Clone(sealed)); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := decrypt(key(t, testKey), "other.onnx", bytes.Clone(sealed)); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("renamed file: %v", err)
	}
	got, err := decrypt(key(t, testKey), "model.onnx", sealed)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("decrypt = %q, %v", got, err)
	}
}

// encryptedVersion writes base/1/model.onnx.enc and returns base.
func encryptedVersion(t *testing.T, plain []byte) string {
	base := t.TempDir()
	sealed, err := encrypt(key(t, testKey), "model.onnx", plain)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(base, "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "1", "model.onnx.enc"), sealed, 0o644); err != nil {
		t.Fatal(err)
	}
	return base
}

func TestContract(t *testing.T) {
	base := encryptedVersion(t, []byte("onnx"))
	t.Setenv("TEST_MODEL_KEY", testKey)
	loadertest.Contract(t, newAESGCM, loadertest.Case{BasePath: base, Version: 1, Options: map[string]any{"key_env": "TEST_MODEL_KEY"}})
}

func TestKeySources(t *testing.T) {
	plain := []byte("onnx model")
	base := encryptedVersion(t, plain)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "model.key")
	if err := os.WriteFile(keyFile, []byte(testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "aesgcm.json")
	if err := os.WriteFile(cfg, []byte(`{"key_file": "model.key"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WRONG_KEY", strings.Repeat("cd", 32))
	req := loaderhost.Request{Name: "secret", BasePath: base, Version: 1, Path: filepath.Join(base, "1"), OptionsJSON: `{"loader_name":"aesgcm"}`}
	c := loadertest.Start(t, newAESGCM, cfg)
	files, err := c.Load(context.Background(), req)
	if err != nil || len(files) != 1 || files[0].Name != "model.onnx" || !bytes.Equal(files[0].Data, plain) {
		t.Fatalf("key from the loader config: %v, %v", files, err)
	}
	req.OptionsJSON = `{"loader_name":"aesgcm","key_env":"WRONG_KEY"}`
	_, err = c.Load(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "model secret version 1: model.onnx.enc: cannot decrypt: wrong key") {
		t.Fatalf("wrong key from the options: %v", err)
	}
	req.OptionsJSON = `{"loader_name":"aesgcm","key_env":"UNSET_KEY_VARIABLE"}`
	if _, err = c.Load(context.Background(), req); err == nil || !strings.Contains(err.Error(), "UNSET_KEY_VARIABLE is not set") {
		t.Fatalf("unset variable: %v", err)
	}
}
