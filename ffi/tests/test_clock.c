/* consensio_vclock_*, lamport, hlc, ntp, cristian, berkeley; bad input. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

static void vector_clocks(void) {
    consensio_vclock *a = NULL, *b = NULL, *c = NULL;
    uint64_t counter = 0;
    CHECK_OK(consensio_vclock_new(&a));
    CHECK_OK(consensio_vclock_increment(a, 1, &counter));
    CHECK(counter == 1);
    CHECK_OK(consensio_vclock_clone(a, &b));
    CHECK_OK(consensio_vclock_increment(b, 2, &counter));
    CHECK_OK(consensio_vclock_increment(a, 1, &counter));
    CHECK(counter == 2);

    enum consensio_causal_ordering order = CONSENSIO_EQUAL;
    CHECK_OK(consensio_vclock_compare(a, b, &order));
    CHECK(order == CONSENSIO_CONCURRENT);
    CHECK_OK(consensio_vclock_merge(a, b));
    CHECK_OK(consensio_vclock_merge(a, a));
    CHECK_OK(consensio_vclock_compare(b, a, &order));
    CHECK(order == CONSENSIO_BEFORE);

    uint64_t actors[4], counters[4];
    size_t len = 0;
    CHECK_OK(consensio_vclock_entries(a, actors, counters, 4, &len));
    CHECK(len == 2 && actors[0] == 1 && counters[0] == 2 && actors[1] == 2 && counters[1] == 1);
    CHECK_FAILS(consensio_vclock_entries(a, actors, counters, 1, &len), CONSENSIO_BUFFER_TOO_SMALL);
    CHECK(len == 2);

    uint8_t frame[64];
    CHECK_OK(consensio_vclock_encode(a, frame, sizeof frame, &len));
    CHECK_OK(consensio_vclock_decode(frame, len, &c));
    CHECK_OK(consensio_vclock_compare(a, c, &order));
    CHECK(order == CONSENSIO_EQUAL);
    size_t needed = 0;
    CHECK_FAILS(consensio_vclock_encode(a, frame, 2, &needed), CONSENSIO_BUFFER_TOO_SMALL);
    CHECK(needed == len);

    /* Garbage, truncated and non-canonical frames. */
    consensio_vclock *bad = NULL;
    for (size_t cut = 0; cut < len; cut++) {
        CHECK_FAILS(consensio_vclock_decode(frame, cut, &bad), CONSENSIO_MALFORMED);
    }
    const uint8_t unsorted[] = {1, 1, 2, 4, 1, 1, 2};
    CHECK_FAILS(consensio_vclock_decode(unsorted, sizeof unsorted, &bad), CONSENSIO_MALFORMED);
    const uint8_t garbage[] = {0xde, 0xad, 0xbe, 0xef};
    CHECK_FAILS(consensio_vclock_decode(garbage, sizeof garbage, &bad), CONSENSIO_MALFORMED);
    CHECK_FAILS(consensio_vclock_decode(NULL, 5, &bad), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_vclock_decode(frame, SIZE_MAX, &bad), CONSENSIO_BAD_LENGTH);
    CHECK(bad == NULL);

    /* Overflow leaves the clock unchanged. */
    const uint8_t at_max[] = {1, 1, 1, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    CHECK_OK(consensio_vclock_decode(at_max, sizeof at_max, &bad));
    CHECK_FAILS(consensio_vclock_increment(bad, 7, &counter), CONSENSIO_LIMIT_EXCEEDED);
    CHECK_OK(consensio_vclock_get(bad, 7, &counter));
    CHECK(counter == UINT64_MAX);

    CHECK_FAILS(consensio_vclock_increment(NULL, 1, &counter), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_vclock_compare(a, NULL, &order), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_vclock_new(NULL), CONSENSIO_NULL_POINTER);
    consensio_vclock_free(NULL);
    consensio_vclock_free(a);
    consensio_vclock_free(b);
    consensio_vclock_free(c);
    consensio_vclock_free(bad);
}

static void lamport_and_hlc(void) {
    struct consensio_lamport_clock p = {.node = 1, .time = 0}, q = {.node = 2, .time = 5};
    struct consensio_lamport_stamp sent, got;
    CHECK_OK(consensio_lamport_tick(&p, &sent));
    CHECK_OK(consensio_lamport_receive(&q, sent, &got));
    CHECK(sent.time == 1 && got.time == 6 && got.node == 2);
    struct consensio_lamport_stamp hostile = {.time = UINT64_MAX, .node = 9};
    CHECK_FAILS(consensio_lamport_receive(&q, hostile, &got), CONSENSIO_LIMIT_EXCEEDED);
    CHECK(q.time == 6);

    struct consensio_hlc h = {.max_offset_ms = 500};
    struct consensio_hlc_timestamp ts, remote = {.wall_ms = 1000, .logical = 3};
    CHECK_OK(consensio_hlc_receive(&h, 990, remote, &ts));
    CHECK(ts.wall_ms == 1000 && ts.logical == 4);
    CHECK_OK(consensio_hlc_now(&h, 990, &ts));
    CHECK(ts.wall_ms == 1000 && ts.logical == 5);
    struct consensio_hlc_timestamp far = {.wall_ms = 5000, .logical = 0};
    CHECK_FAILS(consensio_hlc_receive(&h, 1000, far, &ts), CONSENSIO_REJECTED);
    CHECK(h.last.wall_ms == 1000 && h.last.logical == 5);
    CHECK_FAILS(consensio_hlc_now(NULL, 1, &ts), CONSENSIO_NULL_POINTER);
}

static void synchronisation(void) {
    int64_t offset = 0, delay = 0;
    CHECK_OK(consensio_ntp_on_wire(100, 160, 162, 122, &offset, &delay));
    CHECK(offset == 50 && delay == 20);
    CHECK_FAILS(consensio_ntp_on_wire(100, 160, 162, 99, &offset, &delay), CONSENSIO_INVALID_ARGUMENT);

    consensio_ntp_filter *f = NULL;
    CHECK_OK(consensio_ntp_filter_new(&f));
    uint8_t fresh = 0;
    struct consensio_ntp_estimate e;
    CHECK_OK(consensio_ntp_filter_push(f, 40, 30, 1000, &fresh, &e));
    CHECK(fresh == 1 && e.offset == 40);
    CHECK_OK(consensio_ntp_filter_push(f, 52, 8, 2000, &fresh, &e));
    CHECK(fresh == 1 && e.offset == 52 && e.delay == 8);
    CHECK_OK(consensio_ntp_filter_push(f, 90, 70, 3000, &fresh, &e));
    CHECK(fresh == 0);
    consensio_ntp_filter_free(f);

    struct consensio_cristian_result c;
    CHECK_OK(consensio_cristian_estimate(1000, 5020, 1040, 5, &c));
    CHECK(c.server_time == 5040 && c.offset == 4000 && c.error == 15);
    CHECK_FAILS(consensio_cristian_estimate(10, 0, 9, 0, &c), CONSENSIO_INVALID_ARGUMENT);

    const int64_t readings[4] = {0, 25, -10, 10000};
    int64_t adjust[4];
    int64_t average = 0;
    size_t used = 0;
    CHECK_OK(consensio_berkeley_adjustments(readings, 4, 100, adjust, &average, &used));
    CHECK(average == 5 && used == 3 && adjust[0] == 5 && adjust[3] == -9995);
    CHECK_FAILS(consensio_berkeley_adjustments(readings, 0, 100, adjust, &average, &used),
                CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_berkeley_adjustments(readings, 4, 100, NULL, &average, &used), CONSENSIO_NULL_POINTER);
}

int main(void) {
    vector_clocks();
    lamport_and_hlc();
    synchronisation();
    /* The last error is readable with a short buffer, NUL-terminated. */
    char tiny[4];
    size_t full = consensio_last_error(tiny, sizeof tiny);
    CHECK(full > 3 && strlen(tiny) == 3);
    CHECK(consensio_last_error(NULL, 0) == full);
    CHECK(strlen(consensio_version()) > 0 && consensio_wire_version() == 1);
    return report("test_clock");
}
