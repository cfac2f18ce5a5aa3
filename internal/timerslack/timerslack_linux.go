//go:build linux && cgo

package timerslack

/*
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define OVMS_SLACK_DEFAULT_NS 1000000L
#define OVMS_SLACK_MAX_NS 10000000000LL

enum { ovms_slack_unset = 0, ovms_slack_set = 1, ovms_slack_inherited = 2, ovms_slack_invalid = 3, ovms_slack_failed = 4 };

static int ovms_slack_state;
static long ovms_slack_ns;
static int ovms_slack_errno;

// ovms_parse_duration parses a slack: decimal digits, an optional fraction,
// and one unit (ns, us, µs, ms, s), or a bare "0"; at most 10 s. Nothing
// else: no sign, blanks, exponent or hexadecimal.
static int ovms_parse_duration(const char* s, long long* ns) {
	const char* p = s;
	long long whole = 0;
	double frac = 0, scale = 1;
	int digits = 0;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		if (whole > OVMS_SLACK_MAX_NS) return 0;
		whole = whole * 10 + (*p - '0');
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
			scale /= 10;
			frac += (*p - '0') * scale;
		}
	}
	if (digits == 0) return 0;
	double mult;
	if (strcmp(p, "ns") == 0) mult = 1;
	else if (strcmp(p, "us") == 0 || strcmp(p, "\xc2\xb5s") == 0 || strcmp(p, "\xce\xbcs") == 0) mult = 1e3;
	else if (strcmp(p, "ms") == 0) mult = 1e6;
	else if (strcmp(p, "s") == 0) mult = 1e9;
	else if (*p == 0 && whole == 0 && frac == 0) mult = 0;
	else return 0;
	double r = ((double)whole + frac) * mult + 0.5;
	if (r > (double)OVMS_SLACK_MAX_NS + 0.5) return 0;
	*ns = (long long)r;
	return 1;
}

// ovms_timer_slack runs before the Go runtime starts, so every thread the
// runtime makes inherits the slack. It records the slack in force
// afterwards, as the kernel reports it.
__attribute__((constructor)) static void ovms_timer_slack(void) {
	long long ns = OVMS_SLACK_DEFAULT_NS;
	const char* v = getenv("OVMS_TIMER_SLACK");
	if (v != NULL && *v != 0 && !ovms_parse_duration(v, &ns)) {
		ovms_slack_state = ovms_slack_invalid;
	} else if (ns == 0) {
		ovms_slack_state = ovms_slack_inherited;
	} else if (prctl(PR_SET_TIMERSLACK, (unsigned long)ns, 0, 0, 0) != 0) {
		ovms_slack_errno = errno;
		ovms_slack_state = ovms_slack_failed;
	} else {
		ovms_slack_state = ovms_slack_set;
	}
	long got = syscall(SYS_prctl, PR_GET_TIMERSLACK, 0L, 0L, 0L, 0L); // glibc's prctl returns an int
	ovms_slack_ns = got >= 0 ? got : 0;
}

static int ovms_slack_get(long* ns, int* err) {
	*ns = ovms_slack_ns;
	*err = ovms_slack_errno;
	return ovms_slack_state;
}
*/
import "C"

import "syscall"

const (
	stateUnset     = C.ovms_slack_unset
	stateSet       = C.ovms_slack_set
	stateInherited = C.ovms_slack_inherited
	stateInvalid   = C.ovms_slack_invalid
	stateFailed    = C.ovms_slack_failed
)

// defaultNS is the constructor's default, checked against Default by a test.
const defaultNS = C.OVMS_SLACK_DEFAULT_NS

// applied returns what the constructor did: the slack in force after it
// ran, its state, and the errno of a refused prctl.
func applied() (ns int64, state int, errno syscall.Errno) {
	var n C.long
	var e C.int
	st := int(C.ovms_slack_get(&n, &e))
	return int64(n), st, syscall.Errno(e)
}
