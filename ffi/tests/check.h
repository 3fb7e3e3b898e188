/* A tiny test harness for the C tests: CHECK counts, report() prints
 * "N passed, M failed" and gives the exit status. */
#ifndef CONSENSIO_CHECK_H
#define CONSENSIO_CHECK_H

#include <stdio.h>
#include <string.h>

#include "consensio.h"

static int passed, failed;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (cond) {                                                          \
            passed++;                                                        \
        } else {                                                             \
            failed++;                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
        }                                                                    \
    } while (0)

/* The call returns `expected`; on failure the last error is printed. */
#define CHECK_STATUS(call, expected)                                          \
    do {                                                                      \
        enum consensio_status got_ = (call);                                  \
        if (got_ == (expected)) {                                             \
            passed++;                                                         \
        } else {                                                              \
            char msg_[256];                                                   \
            consensio_last_error(msg_, sizeof msg_);                          \
            failed++;                                                         \
            fprintf(stderr, "%s:%d: %s returned %d, expected %d (%s)\n",      \
                    __FILE__, __LINE__, #call, (int)got_, (int)(expected),    \
                    msg_);                                                    \
        }                                                                     \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, CONSENSIO_OK)

/* The call fails with `expected` and leaves a readable message. */
#define CHECK_FAILS(call, expected)                                           \
    do {                                                                      \
        CHECK_STATUS(call, expected);                                         \
        char why_[256];                                                       \
        size_t why_len_ = consensio_last_error(why_, sizeof why_);            \
        CHECK(why_len_ > 0 && strlen(why_) > 0);                              \
    } while (0)

static int report(const char *name) {
    printf("%s: %d passed, %d failed\n", name, passed, failed);
    return failed == 0 ? 0 : 1;
}

#endif
