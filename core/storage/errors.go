package storage

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/ovmsgo/ovms/core/apierr"
)

// errFilesystem is the code of list and read failures.
var errFilesystem = apierr.FilesystemError

// fsErr returns an errFilesystem error whose details are the formatted text
// followed by ": cause" when err is not nil, with credentials redacted.
func fsErr(err error, format string, args ...any) *apierr.Error {
	return codeErr(errFilesystem, err, format, args...)
}

// codeErr is fsErr with a chosen code.
func codeErr(c apierr.Code, err error, format string, args ...any) *apierr.Error {
	d := fmt.Sprintf(format, args...)
	if err != nil {
		d += ": " + err.Error()
		err = redactedError{err}
	}
	return &apierr.Error{Code: c, Details: redact(d), Err: err}
}

// redactedError hides credentials in the text of a cause while keeping it
// for errors.Is and errors.As.
type redactedError struct{ err error }

func (e redactedError) Error() string { return redact(e.err.Error()) }
func (e redactedError) Unwrap() error { return e.err }

// secretEnv are the variables whose values never appear in errors.
var secretEnv = []string{
	"AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN",
	"AZURE_STORAGE_CONNECTION_STRING",
	"AZURE_STORAGE_KEY",
	"AZURE_STORAGE_SAS_TOKEN",
}

// secretPatterns catch credentials embedded in URLs and connection strings
// (SAS signatures, presigned S3 URLs, account keys).
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(AccountKey=)[^;\s"']+`),
	regexp.MustCompile(`(?i)(SharedAccessSignature=)[^;\s"']+`),
	regexp.MustCompile(`(?i)([?&]sig=)[^&\s"']+`),
	regexp.MustCompile(`(?i)(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s"']+`),
}

// minSecretLen is the shortest environment value redact replaces: shorter
// ones would mangle unrelated text.
const minSecretLen = 6

// redact removes credentials from s.
func redact(s string) string {
	for _, name := range secretEnv {
		v := os.Getenv(name)
		if len(v) >= minSecretLen {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
		if name == "AZURE_STORAGE_CONNECTION_STRING" {
			for _, part := range strings.Split(v, ";") {
				k, val, ok := strings.Cut(part, "=")
				if ok && (k == "AccountKey" || k == "SharedAccessSignature") && len(val) >= minSecretLen {
					s = strings.ReplaceAll(s, val, "[REDACTED]")
				}
			}
		}
	}
	for _, re := range secretPatterns {
		s = re.ReplaceAllString(s, "${1}[REDACTED]")
	}
	return s
}
