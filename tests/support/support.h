/*
 * support.h - helpers shared by the unit tests (lib/tests, services/<x>/tests).
 * The integration tests have tests/harness; these need no running stack.
 */
#ifndef POSTERN_TEST_SUPPORT_H
#define POSTERN_TEST_SUPPORT_H

/*
 * ts_agent_running - is a gpg-agent for homedir dir alive? (A zombie has
 * an empty /proc/<pid>/cmdline, so it does not count.)
 */
int ts_agent_running(const char *dir);

/* ts_entries - entries of dir whose names start with prefix; -1 if dir cannot be read */
int ts_entries(const char *dir, const char *prefix);

/* ts_fuzz_seed and the fuzz stream: tests/support/fuzz.h */
#include "fuzz.h"

#endif
