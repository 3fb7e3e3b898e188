/* One Raft node driven from several threads at once: proposer threads, a
 * ticker and an observer share the handle. Each thread that gives an input
 * drains it; the turn the library hands out makes the records reach the
 * "disk" in the node's order (a node restored from them has every entry)
 * and the committed entries arrive in index order with the payload that
 * was proposed for each index. A thread that did not give an input polls
 * NONE, and an input waits while another thread holds the turn.
 *
 * check.h's counters are not thread-safe, so worker threads count their
 * own failures and the main thread checks them after joining. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"

enum { PROPOSERS = 4, PER_THREAD = 200, TOTAL = PROPOSERS * PER_THREAD, PAYLOAD = 16 };
enum { MAX_RECORDS = TOTAL + 64, MAX_INDEX = TOTAL + 8 };

static consensio_participant *node;
static const uint64_t voters[] = {1};
static atomic_uint_fast64_t clock_ms = 1000;

/* Everything below is written by whichever thread holds the turn, under
 * `lock` (the lock only keeps the tools quiet: the turn already orders it). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *disk[MAX_RECORDS];
static size_t disk_len[MAX_RECORDS];
static int records;
static char proposed[MAX_INDEX][PAYLOAD];
static uint64_t applied; /* the last index reported COMMITTED */
static int out_of_order, wrong_payload, unexpected, overflow;

/* Polls until NONE, doing what a host does with each output. */
static int drain(void) {
    struct consensio_output out;
    int failures = 0;
    for (;;) {
        if (consensio_participant_poll(node, &out) != CONSENSIO_OK) return failures + 1;
        if (out.kind == CONSENSIO_OUTPUT_NONE) return failures;
        pthread_mutex_lock(&lock);
        switch (out.kind) {
            case CONSENSIO_OUTPUT_PERSIST:
                if (records < MAX_RECORDS) {
                    disk[records] = malloc(out.len);
                    memcpy(disk[records], out.data, out.len);
                    disk_len[records++] = out.len;
                } else {
                    overflow++;
                }
                break;
            case CONSENSIO_OUTPUT_EVENT:
                if (out.event == CONSENSIO_RAFT_COMMITTED) {
                    uint64_t index = out.values[0];
                    if (index != applied + 1) out_of_order++;
                    applied = index;
                    if (index < MAX_INDEX && out.len > 0 &&
                        (out.len != strlen(proposed[index]) || memcmp(out.data, proposed[index], out.len) != 0))
                        wrong_payload++;
                } else if (out.event != CONSENSIO_RAFT_BECAME_LEADER) {
                    unexpected++;
                }
                break;
            default: /* a lone voter sends nothing and loses no leadership */
                unexpected++;
                break;
        }
        pthread_mutex_unlock(&lock);
    }
}

static void *propose(void *arg) {
    int t = (int)(intptr_t)arg;
    intptr_t failures = 0;
    for (int i = 0; i < PER_THREAD; i++) {
        char payload[PAYLOAD];
        snprintf(payload, sizeof payload, "t%d-%d", t, i);
        uint64_t index = 0, term = 0;
        /* The proposal and the record of what was proposed at its index
         * happen before this thread drains, so before anyone applies it. */
        if (consensio_raft_propose(node, atomic_fetch_add(&clock_ms, 1), (const uint8_t *)payload,
                                   strlen(payload), &index, &term) != CONSENSIO_OK ||
            index >= MAX_INDEX) {
            failures++;
            drain();
            continue;
        }
        pthread_mutex_lock(&lock);
        memcpy(proposed[index], payload, sizeof payload);
        pthread_mutex_unlock(&lock);
        failures += drain();
    }
    return (void *)failures;
}

static atomic_int stop;

/* A host's ticker and readers sleep between rounds; so do these (under
 * valgrind, which runs one thread at a time, spinning ones would starve
 * the proposers). */
static void pause_briefly(void) {
    struct timespec pause = {0, 100 * 1000};
    nanosleep(&pause, NULL);
}

static void *tick(void *arg) {
    (void)arg;
    intptr_t failures = 0;
    while (!atomic_load(&stop)) {
        if (consensio_participant_tick(node, atomic_fetch_add(&clock_ms, 1)) != CONSENSIO_OK) failures++;
        failures += drain();
        pause_briefly();
    }
    return (void *)failures;
}

/* Never gives an input: its polls are NONE, and the commit index it reads
 * never goes down. */
static void *observe(void *arg) {
    (void)arg;
    intptr_t failures = 0;
    uint64_t last = 0;
    while (!atomic_load(&stop)) {
        struct consensio_output out;
        uint64_t commit = 0;
        if (consensio_participant_poll(node, &out) != CONSENSIO_OK ||
            out.kind != CONSENSIO_OUTPUT_NONE)
            failures++;
        if (consensio_raft_commit_index(node, &commit) != CONSENSIO_OK || commit < last) failures++;
        last = commit;
        pause_briefly();
    }
    return (void *)failures;
}

static atomic_int waiter_done;

static void *tick_once(void *arg) {
    (void)arg;
    intptr_t failure = consensio_participant_tick(node, atomic_load(&clock_ms)) != CONSENSIO_OK;
    failure += drain();
    atomic_store(&waiter_done, 1);
    return (void *)failure;
}

static intptr_t join(pthread_t thread) {
    void *result = NULL;
    CHECK(pthread_join(thread, &result) == 0);
    return (intptr_t)result;
}

int main(void) {
    struct consensio_raft_config config;
    CHECK_OK(consensio_raft_default_config(1, &config));
    CHECK_OK(consensio_raft_new(&config, voters, 1, &node));

    /* The lone voter elects itself: the first tick arms its election
     * timer, the second (after the longest timeout) fires it. */
    CHECK_OK(consensio_participant_tick(node, atomic_load(&clock_ms)));
    CHECK(drain() == 0);
    CHECK_OK(consensio_participant_tick(node, atomic_fetch_add(&clock_ms, 1000) + 1000));
    CHECK(drain() == 0);
    enum consensio_raft_node_role role;
    CHECK_OK(consensio_raft_role(node, &role));
    CHECK(role == CONSENSIO_RAFT_LEADER);

    /* While this thread holds the turn (an input not yet drained), another
     * thread's poll is NONE and another thread's input waits. */
    uint64_t index = 0, held_term = 0;
    CHECK_OK(consensio_raft_propose(node, atomic_fetch_add(&clock_ms, 1), (const uint8_t *)"held", 4,
                                    &index, &held_term));
    memcpy(proposed[index], "held", 5);
    pthread_t observer, waiter;
    CHECK(pthread_create(&observer, NULL, observe, NULL) == 0);
    CHECK(pthread_create(&waiter, NULL, tick_once, NULL) == 0);
    struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    CHECK(atomic_load(&waiter_done) == 0);
    uint64_t commit = 0;
    CHECK_OK(consensio_raft_commit_index(node, &commit)); /* queries do not wait */
    CHECK(drain() == 0);
    CHECK(join(waiter) == 0);
    CHECK(atomic_load(&waiter_done) == 1);

    /* Proposers and a ticker at once, the observer still polling. */
    pthread_t proposers[PROPOSERS], ticker;
    CHECK(pthread_create(&ticker, NULL, tick, NULL) == 0);
    for (int t = 0; t < PROPOSERS; t++)
        CHECK(pthread_create(&proposers[t], NULL, propose, (void *)(intptr_t)t) == 0);
    for (int t = 0; t < PROPOSERS; t++) CHECK(join(proposers[t]) == 0);
    atomic_store(&stop, 1);
    CHECK(join(ticker) == 0);
    CHECK(join(observer) == 0);

    /* Index 1 is the leader's empty entry, 2 the held proposal. */
    uint64_t last = 0;
    CHECK_OK(consensio_raft_last_index(node, &last));
    CHECK(last == TOTAL + 2);
    CHECK(applied == TOTAL + 2);
    CHECK(out_of_order == 0);
    CHECK(wrong_payload == 0);
    CHECK(unexpected == 0);
    CHECK(overflow == 0);

    /* The records reached the disk in the node's order: a restart from
     * them has every entry and the same term. */
    uint64_t term = 0, restored_term = 0, restored_last = 0;
    CHECK_OK(consensio_raft_term(node, &term));
    const uint8_t *ptrs[MAX_RECORDS];
    for (int i = 0; i < records; i++) ptrs[i] = disk[i];
    consensio_participant *restored = NULL;
    CHECK_OK(consensio_raft_restore(&config, voters, 1, ptrs, disk_len, (size_t)records, &restored));
    CHECK_OK(consensio_raft_last_index(restored, &restored_last));
    CHECK_OK(consensio_raft_term(restored, &restored_term));
    CHECK(restored_last == TOTAL + 2);
    CHECK(restored_term == term);

    consensio_participant_free(restored);
    consensio_participant_free(node);
    for (int i = 0; i < records; i++) free(disk[i]);
    return report("threads");
}
