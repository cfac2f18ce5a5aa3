// Package bench is the load generator behind `ovms bench`, in the spirit of
// Triton's perf_analyzer: it shapes inputs from a model's metadata, builds
// one request once (pre-marshalled protobuf, JSON or binary body) and sends
// it over KServe gRPC, KServe REST (JSON or the binary tensor extension),
// TF Serving gRPC or TF Serving REST, optionally with the inputs and outputs
// in client-created POSIX shared memory (the KServe system shared-memory
// extension).
//
// # Load
//
// A concurrency level runs N workers in a closed loop (each sends its next
// request when the previous one is answered); a request rate runs an open
// loop where a dispatcher schedules sends at a constant or Poisson rate and
// a pool of workers sends them, latency being measured from the scheduled
// send time, so a server that falls behind shows it in the latency
// (no coordinated omission).
//
// # Measurement
//
// After a warm-up, samples are gathered in back-to-back windows. A level is
// stable once the last three windows agree: each one's throughput and p50
// latency lie within ±Stability percent of the three windows' mean. The
// level's figures are then computed over the samples of those three
// windows; after MaxTrials windows without agreement the level is reported
// from its last three windows and marked unstable. Percentiles use the
// nearest-rank method (see Percentile). Errors are counted, never fatal;
// the first error message of a level is kept. Only the first request (the
// probe, sent before measuring) must succeed.
//
// Run measures a server; Measure runs the same load and statistics on any
// Doer, which is how the benchmark suite measures the engine in-process.
package bench
