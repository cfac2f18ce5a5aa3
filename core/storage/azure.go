package storage

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob/azureblob"

	"github.com/ovmsgo/ovms/core/apierr"
)

// azCreds is how Azure requests are authorised.
type azCreds int

const (
	azNone             azCreds = iota // nothing configured: an error
	azConnectionString                // AZURE_STORAGE_CONNECTION_STRING
	azSharedKey                       // AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY
	azSAS                             // AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_SAS_TOKEN
	azDefault                         // AZURE_STORAGE_ACCOUNT alone: azidentity's default chain (blob only)
)

// String names the mode in logs and tests.
func (c azCreds) String() string {
	return [...]string{"none", "connection string", "shared key", "SAS", "default credential"}[c]
}

// azSettings is what an Azure blob or file share client is built from.
type azSettings struct {
	root, prefix string // container or share, and the prefix under it
	creds        azCreds
	// connection string, account key and SAS token; never printed.
	connStr, account, key, sas string
	// serviceURL is the account's service URL without SAS ("" in
	// connection string mode, where the string has the endpoint).
	serviceURL string
}

// azSettingsFrom reads the settings of an az:// (file=false) or azfs://
// (file=true) location from env. The service URL of the account modes is
// https://<account>.blob.core.windows.net (or .file. for shares);
// AZURE_STORAGE_DOMAIN, AZURE_STORAGE_PROTOCOL and
// AZURE_STORAGE_IS_LOCAL_EMULATOR change it as gocloud's azureblob does.
func azSettingsFrom(loc location, file bool, env func(string) string) (azSettings, error) {
	s := azSettings{root: loc.root, prefix: loc.prefix}
	s.connStr = env("AZURE_STORAGE_CONNECTION_STRING")
	s.account, s.key, s.sas = env("AZURE_STORAGE_ACCOUNT"), env("AZURE_STORAGE_KEY"), strings.TrimPrefix(env("AZURE_STORAGE_SAS_TOKEN"), "?")
	switch {
	case s.connStr != "":
		s.creds = azConnectionString
		return s, nil
	case s.account != "" && s.key != "":
		s.creds = azSharedKey
	case s.account != "" && s.sas != "":
		s.creds = azSAS
	case s.account != "" && !file:
		s.creds = azDefault
	default:
		return s, fsErr(nil, "%s: no Azure credentials: set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN", loc.base)
	}
	domain := env("AZURE_STORAGE_DOMAIN")
	if domain == "" {
		domain = "blob.core.windows.net"
		if file {
			domain = "file.core.windows.net"
		}
	}
	emu, _ := strconv.ParseBool(env("AZURE_STORAGE_IS_LOCAL_EMULATOR"))
	u, err := azureblob.NewServiceURL(&azureblob.ServiceURLOptions{
		AccountName:     s.account,
		StorageDomain:   domain,
		Protocol:        env("AZURE_STORAGE_PROTOCOL"),
		IsLocalEmulator: emu,
	})
	if err != nil {
		return s, apierr.Newf(apierr.PathInvalid, "%s: invalid Azure service settings: %v", loc.base, err)
	}
	s.serviceURL = string(u)
	return s, nil
}

// rootURL is the URL of the container or share, with the SAS token in SAS
// mode.
func (s azSettings) rootURL() string {
	u := strings.TrimRight(s.serviceURL, "/") + "/" + url.PathEscape(s.root)
	if s.creds == azSAS {
		u += "?" + s.sas
	}
	return u
}

// containerClient builds the Azure blob client of s. It does no network
// I/O.
func (s azSettings) containerClient() (*container.Client, error) {
	switch s.creds {
	case azConnectionString:
		return container.NewClientFromConnectionString(s.connStr, s.root, nil)
	case azSharedKey:
		cred, err := container.NewSharedKeyCredential(s.account, s.key)
		if err != nil {
			return nil, err
		}
		return container.NewClientWithSharedKeyCredential(s.rootURL(), cred, nil)
	case azSAS:
		return container.NewClientWithNoCredential(s.rootURL(), nil)
	case azDefault:
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, err
		}
		return container.NewClient(s.rootURL(), cred, nil)
	}
	return nil, errors.New("no Azure credentials")
}

// openAzBlob opens an az:// (or azure://) location.
func openAzBlob(ctx context.Context, loc location, env func(string) string) (store, error) {
	s, err := azSettingsFrom(loc, false, env)
	if err != nil {
		return nil, err
	}
	c, err := s.containerClient()
	if err != nil {
		return nil, fsErr(err, "%s: cannot configure the Azure blob client (%s)", loc.base, s.creds)
	}
	b, err := azureblob.OpenBucket(ctx, c, nil)
	if err != nil {
		return nil, fsErr(err, "%s: cannot open Azure container %q", loc.base, s.root)
	}
	return &blobStore{b: b}, nil
}
