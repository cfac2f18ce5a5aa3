// SIGBUS guard for client shared-memory mappings; see guard.go.
#include "guard.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static fg_slot fg_slots[FG_SLOTS];
static struct sigaction fg_old;
static uintptr_t fg_page;

// fg_handler runs on every SIGBUS. A fault inside a watched mapping (the
// object was truncated under it) is absorbed: anonymous zero pages replace
// the mapping from the faulting page to its end, the slot is marked, and
// the faulting access is retried against them. Anything else goes to the
// handler that was installed before (Go's), as if this one did not exist.
static void fg_handler(int sig, siginfo_t *si, void *ctx) {
	int saved_errno = errno; // mmap may set it; the interrupted code must not see that
	if (si != NULL && si->si_code == BUS_ADRERR) {
		uintptr_t a = (uintptr_t)si->si_addr;
		for (int i = 0; i < FG_SLOTS; i++) {
			uintptr_t s = __atomic_load_n(&fg_slots[i].start, __ATOMIC_ACQUIRE);
			if (s == 0 || a < s) {
				continue;
			}
			uintptr_t e = __atomic_load_n(&fg_slots[i].end, __ATOMIC_ACQUIRE);
			if (a >= e) {
				continue;
			}
			uintptr_t p = a & ~(fg_page - 1);
			void *r = mmap((void *)p, e - p, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			if (r != MAP_FAILED) {
				__atomic_store_n(&fg_slots[i].faulted, 1, __ATOMIC_RELEASE);
				errno = saved_errno;
				return;
			}
			break;
		}
	}
	errno = saved_errno;
	if (fg_old.sa_flags & SA_SIGINFO) {
		fg_old.sa_sigaction(sig, si, ctx);
		return;
	}
	if (fg_old.sa_handler == SIG_IGN) {
		return;
	}
	if (fg_old.sa_handler == SIG_DFL) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	fg_old.sa_handler(sig);
}

int fg_install(void) {
	fg_page = (uintptr_t)sysconf(_SC_PAGESIZE);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = fg_handler;
	sigfillset(&sa.sa_mask);
	// SA_ONSTACK: Go requires it of every handler in its process.
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	return sigaction(SIGBUS, &sa, &fg_old);
}

int fg_watch(uintptr_t start, uintptr_t end) {
	for (int i = 0; i < FG_SLOTS; i++) {
		if (__atomic_load_n(&fg_slots[i].start, __ATOMIC_ACQUIRE) == 0) {
			__atomic_store_n(&fg_slots[i].faulted, 0, __ATOMIC_RELEASE);
			__atomic_store_n(&fg_slots[i].end, end, __ATOMIC_RELEASE);
			__atomic_store_n(&fg_slots[i].start, start, __ATOMIC_RELEASE);
			return i;
		}
	}
	return -1;
}

void fg_unwatch(int slot) {
	__atomic_store_n(&fg_slots[slot].start, 0, __ATOMIC_RELEASE);
}

int fg_faulted(int slot) {
	return __atomic_load_n(&fg_slots[slot].faulted, __ATOMIC_ACQUIRE);
}

uintptr_t fg_page_size(void) { return fg_page; }

// Test helpers: touch memory from C, on this thread or on a new one, as
// the engine's own threads do.
static void *fg_touch_start(void *p) {
	volatile unsigned char *b = p;
	b[0] = b[0] + 1;
	return NULL;
}

int fg_touch(void *p) {
	fg_touch_start(p);
	return 0;
}

int fg_touch_thread(void *p) {
	pthread_t th;
	if (pthread_create(&th, NULL, fg_touch_start, p) != 0) {
		return -1;
	}
	return pthread_join(th, NULL);
}
