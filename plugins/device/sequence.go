package device

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The control bits of InferRequest.SequenceControl. OVMS's
// sequence_control_input values 1 (SEQUENCE_START) and 2 (SEQUENCE_END)
// are these bits; Triton's sequence_start and sequence_end parameters may
// set both (a sequence of one request).
const (
	SequenceStart uint32 = 1
	SequenceEnd   uint32 = 2
)

// Stateful are the settings of a stateful model version (OVMS's stateful
// model options, and the ovms extension state_mapping).
//
// A device that serves stateful models keeps, per loaded version, its
// sequences: an id -> state map bounded by MaxSequenceNumber, where the
// state never crosses the process boundary. Requests of one sequence run in
// the order they arrived; different sequences run in parallel.
type Stateful struct {
	// MaxSequenceNumber bounds the sequences kept at once.
	MaxSequenceNumber uint32
	// IdleCleanup, when positive, is the sequence cleaner's interval: a
	// sequence that got no request for a whole interval is dropped.
	IdleCleanup time.Duration
	// LowLatencyTransformation is OVMS's low_latency_transformation.
	LowLatencyTransformation bool
	// StateMapping pairs state inputs with the outputs that feed them on a
	// sequence's next request (input name -> output name).
	StateMapping map[string]string
}

// SequenceError is a sequence error of a stateful model, reported by the
// device and turned into OVMS's status by the host.
type SequenceError int

// The sequence errors, each with OVMS's message and status.
const (
	// SequenceMissing: no sequence with that id (NOT_FOUND).
	SequenceMissing SequenceError = iota + 1
	// SequenceExists: a start names an id in use (ALREADY_EXISTS).
	SequenceExists
	// SequenceTerminated: the sequence's end is being processed
	// (FAILED_PRECONDITION).
	SequenceTerminated
	// SequenceLimit: max_sequence_number sequences exist (UNAVAILABLE).
	SequenceLimit
)

var sequenceErrors = map[SequenceError]struct {
	msg  string
	code codes.Code
}{
	SequenceMissing:    {"Sequence with provided ID does not exist", codes.NotFound},
	SequenceExists:     {"Sequence with provided ID already exists", codes.AlreadyExists},
	SequenceTerminated: {"Sequence last request is being processed and it's not available anymore", codes.FailedPrecondition},
	SequenceLimit:      {"Max sequence number has been reached. Could not create new sequence.", codes.Unavailable},
}

// sequencePrefix marks a sequence error in a status message.
const sequencePrefix = "ovms-sequence-error "

// Error is OVMS's message.
func (e SequenceError) Error() string { return sequenceErrors[e].msg }

// GRPCStatus is the status the error crosses the process boundary as: its
// code and a message the host recognises (ParseSequenceError).
func (e SequenceError) GRPCStatus() *status.Status {
	return status.New(sequenceErrors[e].code, sequencePrefix+strconv.Itoa(int(e))+": "+e.Error())
}

// ParseSequenceError recognises a sequence error returned by a device
// (directly or as a status from another process).
func ParseSequenceError(err error) (SequenceError, bool) {
	var se SequenceError
	if errors.As(err, &se) {
		return se, true
	}
	st, ok := status.FromError(err)
	if !ok || !strings.HasPrefix(st.Message(), sequencePrefix) {
		return 0, false
	}
	rest := strings.TrimPrefix(st.Message(), sequencePrefix)
	n, err := strconv.Atoi(rest[:max(0, strings.IndexByte(rest, ':'))])
	if _, known := sequenceErrors[SequenceError(n)]; err != nil || !known {
		return 0, false
	}
	return SequenceError(n), true
}
