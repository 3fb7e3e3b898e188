/* consensio_paxos_single_*: five single-decree Paxos nodes all propose at
 * once and agree on one value through frames passed in-process; a node
 * restarted from its byte records keeps its promise and its outcome; bad
 * input is rejected and changes nothing. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

enum { N = 5, MAX_FRAMES = 4096, MAX_FRAME = 256, MAX_RECORDS = 256 };

struct frame {
    uint64_t from, to;
    size_t len;
    uint8_t bytes[MAX_FRAME];
};

struct record {
    size_t len;
    uint8_t *bytes;
};

static struct frame queue[MAX_FRAMES];
static int queued;
static struct record disk[N + 1][MAX_RECORDS];
static size_t records[N + 1];
/* What each node reported chosen in this life, and how often. */
static char chosen[N + 1][16];
static int reports[N + 1];
static int preempted;
/* A frame seen on the wire, to replay from a stranger. */
static uint8_t sample[MAX_FRAME];
static size_t sample_len;

static void drain(consensio_participant *p, uint64_t id) {
    struct consensio_output out;
    for (;;) {
        CHECK_OK(consensio_participant_poll(p, &out));
        switch (out.kind) {
            case CONSENSIO_OUTPUT_NONE:
                return;
            case CONSENSIO_OUTPUT_SEND:
                CHECK(out.len <= MAX_FRAME && out.peer != id && out.peer >= 1 && out.peer <= N);
                if (queued < MAX_FRAMES && out.len <= MAX_FRAME) {
                    queue[queued].from = id;
                    queue[queued].to = out.peer;
                    queue[queued].len = out.len;
                    memcpy(queue[queued].bytes, out.data, out.len);
                    queued++;
                    memcpy(sample, out.data, out.len);
                    sample_len = out.len;
                }
                break;
            case CONSENSIO_OUTPUT_PERSIST:
                CHECK(out.len > 0 && records[id] < MAX_RECORDS);
                if (records[id] < MAX_RECORDS) {
                    struct record *r = &disk[id][records[id]++];
                    r->bytes = malloc(out.len);
                    CHECK(r->bytes != NULL);
                    if (r->bytes) memcpy(r->bytes, out.data, out.len);
                    r->len = out.len;
                }
                break;
            case CONSENSIO_OUTPUT_EVENT:
                if (out.event == CONSENSIO_PAXOS_SINGLE_CHOSEN) {
                    reports[id]++;
                    CHECK(out.len > 0 && out.len < sizeof chosen[id]);
                    if (out.len < sizeof chosen[id]) {
                        memcpy(chosen[id], out.data, out.len);
                        chosen[id][out.len] = 0;
                    }
                } else if (out.event == CONSENSIO_PAXOS_SINGLE_PREEMPTED) {
                    /* Refused by a higher promise, of another node. */
                    CHECK(out.values[1] > out.values[0] || out.peer > id);
                    CHECK(out.peer != 0);
                    preempted++;
                }
                break;
            default:
                break;
        }
    }
}

/* Runs the nodes (NULL entries are crashed) until `until`. */
static void run(consensio_participant *nodes[N + 1], uint64_t *now, uint64_t until) {
    for (int round = 0; round < 200000 && *now <= until; round++) {
        for (uint64_t id = 1; id <= N; id++)
            if (nodes[id]) drain(nodes[id], id);
        if (queued > 0) {
            struct frame f = queue[0];
            memmove(queue, queue + 1, (size_t)(queued - 1) * sizeof queue[0]);
            queued--;
            if (nodes[f.to]) CHECK_OK(consensio_participant_handle_message(nodes[f.to], *now, f.from, f.bytes, f.len));
            continue;
        }
        uint64_t next = UINT64_MAX;
        for (uint64_t id = 1; id <= N; id++) {
            uint8_t has = 0;
            uint64_t at = 0;
            if (!nodes[id]) continue;
            CHECK_OK(consensio_participant_next_deadline(nodes[id], &has, &at));
            if (has && at < next) next = at;
        }
        if (next == UINT64_MAX || next > until) break;
        *now = next > *now ? next : *now;
        for (uint64_t id = 1; id <= N; id++)
            if (nodes[id]) CHECK_OK(consensio_participant_tick(nodes[id], *now));
    }
    if (*now < until) *now = until;
}

static consensio_participant *restore(const uint64_t *members, uint64_t id) {
    const uint8_t *ptrs[MAX_RECORDS];
    size_t lens[MAX_RECORDS];
    for (size_t i = 0; i < records[id]; i++) {
        ptrs[i] = disk[id][i].bytes;
        lens[i] = disk[id][i].len;
    }
    struct consensio_paxos_single_config config;
    CHECK_OK(consensio_paxos_single_default_config(id, &config));
    consensio_participant *p = NULL;
    CHECK_OK(consensio_paxos_single_restore(&config, members, N, ptrs, lens, records[id], &p));
    return p;
}

int main(void) {
    const uint64_t members[N] = {1, 2, 3, 4, 5};
    consensio_participant *nodes[N + 1] = {NULL};
    struct consensio_paxos_single_config config;
    for (uint64_t id = 1; id <= N; id++) {
        CHECK_OK(consensio_paxos_single_default_config(id, &config));
        CHECK(config.id == id && config.retry_min_ms == 100 && config.backoff_base_ms == 20);
        CHECK_OK(consensio_paxos_single_new(&config, members, N, &nodes[id]));
    }
    uint64_t now = 1;
    /* Every node proposes its own value at once: they duel. */
    for (uint64_t id = 1; id <= N; id++) {
        uint8_t value[2] = {'a', (uint8_t)('0' + id)};
        CHECK_OK(consensio_paxos_single_propose(nodes[id], now, value, 2));
        /* One proposal at a time. */
        CHECK_FAILS(consensio_paxos_single_propose(nodes[id], now, value, 2), CONSENSIO_LIMIT_EXCEEDED);
    }
    run(nodes, &now, 5000);
    /* One value, one of those proposed, reported once by every node. */
    for (uint64_t id = 1; id <= N; id++) {
        CHECK(reports[id] == 1);
        CHECK(strcmp(chosen[id], chosen[1]) == 0);
    }
    CHECK(strlen(chosen[1]) == 2 && chosen[1][0] == 'a' && chosen[1][1] >= '1' && chosen[1][1] <= '5');
    uint8_t buf[16];
    size_t len = 0;
    uint8_t has = 0;
    CHECK_OK(consensio_paxos_single_chosen(nodes[3], buf, sizeof buf, &len, &has));
    CHECK(has == 1 && len == 2 && memcmp(buf, chosen[1], 2) == 0);
    CHECK_FAILS(consensio_paxos_single_chosen(nodes[3], buf, 1, &len, &has), CONSENSIO_BUFFER_TOO_SMALL);
    CHECK(len == 2);
    printf("chosen: %s after %d preemptions\n", chosen[1], preempted);

    /* The decree is made: a new proposal is refused. */
    CHECK_FAILS(consensio_paxos_single_propose(nodes[2], now, (const uint8_t *)"b", 1), CONSENSIO_REJECTED);

    /* Restarted from its byte records, a node keeps its promise and its
     * outcome, and reports the outcome again first. */
    uint64_t round = 0, node = 0;
    CHECK_OK(consensio_paxos_single_promised(nodes[4], &round, &node));
    CHECK(round > 0 && node >= 1 && node <= N);
    consensio_participant_free(nodes[4]);
    reports[4] = 0;
    nodes[4] = restore(members, 4);
    CHECK(nodes[4] != NULL);
    if (nodes[4]) {
        drain(nodes[4], 4);
        CHECK(reports[4] == 1 && strcmp(chosen[4], chosen[1]) == 0);
        uint64_t round2 = 0, node2 = 0;
        CHECK_OK(consensio_paxos_single_promised(nodes[4], &round2, &node2));
        CHECK(round2 == round && node2 == node);
    }

    /* Bad input: rejected with a status and a message, nothing changes. */
    CHECK_FAILS(consensio_paxos_single_propose(nodes[1], now, (const uint8_t *)"", 0), CONSENSIO_INVALID_ARGUMENT);
    static uint8_t big[70000];
    CHECK_FAILS(consensio_paxos_single_propose(nodes[1], now, big, sizeof big), CONSENSIO_LIMIT_EXCEEDED);
    const uint8_t junk[] = {1, 27, 250, 250, 250};
    CHECK_FAILS(consensio_participant_handle_message(nodes[1], now, 2, junk, sizeof junk), CONSENSIO_MALFORMED);
    CHECK(sample_len > 0);
    CHECK_FAILS(consensio_participant_handle_message(nodes[1], now, 9, sample, sample_len), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_participant_handle_message(nodes[1], now, 1, sample, sample_len), CONSENSIO_INVALID_ARGUMENT);
    /* A Multi-Paxos call on a single-decree handle, and the reverse. */
    CHECK_FAILS(consensio_paxos_propose(nodes[1], now, (const uint8_t *)"x", 1), CONSENSIO_INVALID_ARGUMENT);
    struct consensio_paxos_config multi;
    consensio_participant *m = NULL;
    CHECK_OK(consensio_paxos_default_config(1, &multi));
    CHECK_OK(consensio_paxos_new(&multi, members, N, &m));
    CHECK_FAILS(consensio_paxos_single_propose(m, now, (const uint8_t *)"x", 1), CONSENSIO_INVALID_ARGUMENT);
    consensio_participant_free(m);
    /* A configuration that leaves out the node, and bytes that are no
     * record. */
    consensio_participant *bad = NULL;
    CHECK_OK(consensio_paxos_single_default_config(9, &config));
    CHECK_FAILS(consensio_paxos_single_new(&config, members, N, &bad), CONSENSIO_INVALID_ARGUMENT);
    CHECK(bad == NULL);
    CHECK_OK(consensio_paxos_single_default_config(1, &config));
    const uint8_t *ptrs[1] = {junk};
    size_t lens[1] = {sizeof junk};
    CHECK_FAILS(consensio_paxos_single_restore(&config, members, N, ptrs, lens, 1, &bad), CONSENSIO_MALFORMED);
    CHECK(bad == NULL);
    CHECK_OK(consensio_paxos_single_chosen(nodes[1], buf, sizeof buf, &len, &has));
    CHECK(has == 1 && len == 2 && memcmp(buf, chosen[1], 2) == 0);

    for (uint64_t id = 1; id <= N; id++) {
        consensio_participant_free(nodes[id]);
        for (size_t i = 0; i < records[id]; i++) free(disk[id][i].bytes);
    }
    return report("test_paxos_single");
}
