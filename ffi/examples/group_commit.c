/* Group commit with threads. One Raft voter on one record file, and client
 * threads that each write in a loop: propose, then wait until the write is
 * applied. It runs twice:
 *
 * - fsync per record: the thread that polls a PERSIST writes and fsyncs it
 *   before polling on, under the node's turn, so every other thread's
 *   input waits for that fsync: one fsync per record, one at a time;
 * - group commit: the thread writes each PERSIST under the turn without
 *   fsync, queues each COMMITTED with its `records` count for one applier
 *   thread, and fsyncs after its poll returns NONE (the turn given back).
 *   The applier applies an entry once the file is durable up to its count.
 *   While one thread fsyncs, the others write and wait; the next fsync
 *   covers them all.
 *
 * Both runs check that every record count is the number of records
 * written, that entries are applied in index order and never before their
 * record is durable, and restore a node from the file, which must hold
 * every write. Each prints writes/s and fsyncs.
 *
 *   group_commit [writes] [threads]        (defaults: 200 and 4)
 *
 * Build (after `cargo build -p consensio-ffi`), from the repository root:
 *   gcc -std=c11 -Wall -Wextra -pthread -Iffi/include ffi/examples/group_commit.c \
 *       target/debug/libconsensio.a -lpthread -ldl -lm -o group_commit && ./group_commit 4000 8
 */
#include "host.h"

#include <pthread.h>
#include <time.h>

enum mode { PER_RECORD, GROUP };

/* One committed entry waiting for the applier. */
struct pending {
    uint64_t records, index;
};

/* The host's state; `lock` guards the counters and the queue. */
static struct host {
    enum mode mode;
    consensio_participant *node;
    struct consensio_raft_config config;
    int fd;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    uint64_t clock;            /* the time given with each input */
    uint64_t written, durable; /* records written; records known durable */
    uint64_t applied;          /* the last index applied */
    uint64_t fsyncs;
    int syncing;               /* an fsync is running */
    struct pending *queue; /* COMMITTED entries for the applier (group) */
    size_t head, tail, cap;
    int stop, errors;
} h;

static uint64_t now(void) {
    pthread_mutex_lock(&h.lock);
    uint64_t t = ++h.clock;
    pthread_mutex_unlock(&h.lock);
    return t;
}

/* Under `lock`: the state machine (here: checks the order). */
static void apply(uint64_t index) {
    if (index != h.applied + 1) h.errors++;
    h.applied = index;
    pthread_cond_broadcast(&h.changed);
}

/* Makes the file durable up to every record written so far. One fsync
 * runs at a time: a thread that finds one running waits for it and then,
 * if its records are still not durable, runs the next, which covers every
 * record written meanwhile by any thread. */
static void sync_file(void) {
    pthread_mutex_lock(&h.lock);
    uint64_t mine = h.written;
    while (h.durable < mine) {
        if (h.syncing) {
            pthread_cond_wait(&h.changed, &h.lock);
            continue;
        }
        h.syncing = 1;
        uint64_t upto = h.written; /* written before the fsync begins */
        pthread_mutex_unlock(&h.lock);
        if (fsync(h.fd) != 0) die("fsync");
        pthread_mutex_lock(&h.lock);
        h.syncing = 0;
        h.durable = upto;
        h.fsyncs++;
        pthread_cond_broadcast(&h.changed);
    }
    pthread_mutex_unlock(&h.lock);
}

/* Polls until NONE, then (group commit) fsyncs outside the turn. */
static void drain(void) {
    struct consensio_output out;
    for (;;) {
        TRY(consensio_participant_poll(h.node, &out));
        if (out.kind == CONSENSIO_OUTPUT_NONE) break;
        if (out.kind == CONSENSIO_OUTPUT_PERSIST) {
            write_frame(h.fd, out.data, out.len); /* under the turn: in the node's order */
            pthread_mutex_lock(&h.lock);
            if (out.records != ++h.written) h.errors++;
            pthread_mutex_unlock(&h.lock);
            if (h.mode == PER_RECORD) sync_file();
            continue;
        }
        if (out.kind != CONSENSIO_OUTPUT_EVENT) { /* a lone voter sends nothing */
            h.errors++;
            continue;
        }
        if (out.event == CONSENSIO_RAFT_BECAME_LEADER) continue;
        pthread_mutex_lock(&h.lock);
        if (out.event != CONSENSIO_RAFT_COMMITTED || out.records > h.written) {
            h.errors++;
        } else if (h.mode == PER_RECORD) {
            if (out.records > h.durable) h.errors++;
            apply(out.values[0]);
        } else { /* queued under the turn, so in the node's order */
            if (h.tail == h.cap) {
                h.cap = h.cap ? 2 * h.cap : 256;
                h.queue = realloc(h.queue, h.cap * sizeof *h.queue);
                if (!h.queue) exit(1);
            }
            h.queue[h.tail++] = (struct pending){out.records, out.values[0]};
            pthread_cond_broadcast(&h.changed);
        }
        pthread_mutex_unlock(&h.lock);
    }
    if (h.mode == GROUP) sync_file();
}

/* Group commit's applier: each queued entry, in order, once its record
 * count is durable. */
static void *applier(void *arg) {
    (void)arg;
    pthread_mutex_lock(&h.lock);
    for (;;) {
        if (h.head < h.tail && h.queue[h.head].records <= h.durable) {
            apply(h.queue[h.head++].index);
        } else if (h.stop && h.head == h.tail) {
            break;
        } else {
            pthread_cond_wait(&h.changed, &h.lock);
        }
    }
    pthread_mutex_unlock(&h.lock);
    return NULL;
}

static int per_thread;

static void *client(void *arg) {
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < per_thread; i++) {
        char payload[32];
        int len = snprintf(payload, sizeof payload, "t%d-%d", t, i);
        uint64_t index = 0, term = 0;
        TRY(consensio_raft_propose(h.node, now(), (const uint8_t *)payload, (size_t)len, &index, &term));
        drain();
        pthread_mutex_lock(&h.lock);
        while (h.applied < index) pthread_cond_wait(&h.changed, &h.lock);
        pthread_mutex_unlock(&h.lock);
    }
    return NULL;
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One run; returns the writes per second. */
static double run(enum mode mode, int threads, const char *path) {
    static const uint64_t voters[] = {1};
    h = (struct host){.mode = mode, .clock = 1000};
    pthread_mutex_init(&h.lock, NULL);
    pthread_cond_init(&h.changed, NULL);
    h.fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0644);
    if (h.fd < 0) die(path);
    TRY(consensio_raft_default_config(1, &h.config));
    TRY(consensio_raft_new(&h.config, voters, 1, &h.node));
    pthread_t apply_thread;
    if (mode == GROUP && pthread_create(&apply_thread, NULL, applier, NULL) != 0) exit(1);

    /* The lone voter elects itself: one tick arms its election timer, one
     * after the longest timeout fires it. */
    TRY(consensio_participant_tick(h.node, now()));
    drain();
    h.clock += 1000;
    TRY(consensio_participant_tick(h.node, now()));
    drain();

    double start = seconds();
    pthread_t clients[64];
    for (int t = 0; t < threads; t++)
        if (pthread_create(&clients[t], NULL, client, (void *)(intptr_t)t) != 0) exit(1);
    for (int t = 0; t < threads; t++) pthread_join(clients[t], NULL);
    double elapsed = seconds() - start;
    pthread_mutex_lock(&h.lock);
    h.stop = 1;
    pthread_cond_broadcast(&h.changed);
    pthread_mutex_unlock(&h.lock);
    if (mode == GROUP) pthread_join(apply_thread, NULL);
    consensio_participant_free(h.node);
    close(h.fd);

    /* The file holds every write: the empty entry of the election, then
     * one per write. */
    uint64_t writes = (uint64_t)threads * (uint64_t)per_thread;
    size_t max = 2 * (size_t)writes + 16, count = 0, torn = 0;
    const uint8_t **starts = malloc(max * sizeof *starts);
    size_t *lens = malloc(max * sizeof *lens);
    if (!starts || !lens) exit(1);
    uint8_t *bytes = load_records(path, starts, lens, max, &count, &torn);
    consensio_participant *restored = NULL;
    TRY(consensio_raft_restore(&h.config, voters, 1, starts, lens, count, &restored));
    uint64_t last = 0;
    TRY(consensio_raft_last_index(restored, &last));
    consensio_participant_free(restored);
    free(bytes);
    free(starts);
    free(lens);
    free(h.queue);
    pthread_cond_destroy(&h.changed);
    pthread_mutex_destroy(&h.lock);
    if (h.errors || torn || count != h.written || last != writes + 1 || h.applied != writes + 1) {
        fprintf(stderr, "%s: %d errors, %zu of %llu records read back, last index %llu, applied %llu\n",
                mode == GROUP ? "group commit" : "per record", h.errors, count, (unsigned long long)h.written,
                (unsigned long long)last, (unsigned long long)h.applied);
        exit(1);
    }
    double rate = (double)writes / elapsed;
    printf("%-18s %llu writes, %d threads: %8.0f writes/s, %llu fsyncs (%.2f per write)\n",
           mode == GROUP ? "group commit:" : "fsync per record:", (unsigned long long)writes, threads, rate,
           (unsigned long long)h.fsyncs, (double)h.fsyncs / (double)writes);
    return rate;
}

int main(int argc, char **argv) {
    int writes = argc > 1 ? atoi(argv[1]) : 200, threads = argc > 2 ? atoi(argv[2]) : 4;
    if (writes < 1 || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: %s [writes] [threads (1 to 64)]\n", argv[0]);
        return 2;
    }
    per_thread = (writes + threads - 1) / threads;
    char dir[] = "/tmp/consensio-group-commit-XXXXXX", path[64];
    if (!mkdtemp(dir)) die("mkdtemp");
    snprintf(path, sizeof path, "%s/records", dir);
    double plain = run(PER_RECORD, threads, path);
    double grouped = run(GROUP, threads, path);
    printf("group commit / fsync per record: %.2fx\n", grouped / plain);
    unlink(path);
    rmdir(dir);
    return 0;
}
