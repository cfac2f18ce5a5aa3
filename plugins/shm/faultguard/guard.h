// SIGBUS guard for client shared-memory mappings; see guard.go.
#ifndef OVMS_FAULTGUARD_H
#define OVMS_FAULTGUARD_H

#include <stdint.h>

// FG_SLOTS bounds how many mappings are watched at once.
#define FG_SLOTS 4096

typedef struct {
	uintptr_t start; // 0: free
	uintptr_t end;   // page-aligned end of the mapping
	int32_t faulted; // a fault was absorbed
} fg_slot;

int fg_install(void);
int fg_watch(uintptr_t start, uintptr_t end);
void fg_unwatch(int slot);
int fg_faulted(int slot);
uintptr_t fg_page_size(void);
int fg_touch(void *p);
int fg_touch_thread(void *p);

#endif
