// Command s3server runs the S3-compatible server of the integration tests
// (integration/storageservers: gofakes3, in memory) as a process of its own,
// seeded with a folder, for the container tests and the S3 compose stack:
//
//	s3server -listen :9000 -bucket models -seed /seed
//	s3server -health http://127.0.0.1:9000/   # exit 0 when it answers (a HEALTHCHECK)
//
// Credentials are the fixed test values of storageservers (printed at start).
// It has no persistence and no authentication: a test fixture, not a store.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ovmsgo/ovms/integration/storageservers"
)

func main() {
	listen := flag.String("listen", ":9000", "address to serve S3 on")
	bucket := flag.String("bucket", "models", "bucket to create")
	seed := flag.String("seed", "", "folder uploaded into the bucket at start (its files keep their relative paths)")
	health := flag.String("health", "", "only check that an S3 server answers at this URL, then exit")
	flag.Parse()
	if *health != "" {
		os.Exit(check(*health))
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3server:", err)
		os.Exit(1)
	}
	srv := storageservers.ServeS3(ln)
	ctx := context.Background()
	if err := srv.CreateBucket(ctx, *bucket); err != nil {
		fmt.Fprintln(os.Stderr, "s3server:", err)
		os.Exit(1)
	}
	if *seed != "" {
		if err := storageservers.UploadDir(ctx, srv, *seed, *bucket, ""); err != nil {
			fmt.Fprintln(os.Stderr, "s3server: seeding:", err)
			os.Exit(1)
		}
	}
	fmt.Printf("s3server: serving bucket %s on %s (%s)\n", *bucket, ln.Addr(), strings.Join(srv.Env(), " "))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	_ = srv.Close()
}

// check is 0 when url answers HTTP at all (any status), else 1.
func check(url string) int {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3server:", err)
		return 1
	}
	_ = resp.Body.Close()
	return 0
}
