/* consensio_election_*: three Bully nodes and three ring nodes elect the
 * highest id through bytes passed in-process; a restart from the persisted
 * epoch takes over; bad input is rejected. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

enum { N = 3, MAX_FRAMES = 256, MAX_FRAME = 64 };

struct frame {
    uint64_t from, to;
    size_t len;
    uint8_t bytes[MAX_FRAME];
};

static struct frame queue[MAX_FRAMES];
static int queued;
static uint64_t persisted[N + 1];
static uint64_t last_elected[N + 1];

static void drain(consensio_participant *e, uint64_t id) {
    struct consensio_output out;
    for (;;) {
        CHECK_OK(consensio_participant_poll(e, &out));
        switch (out.kind) {
            case CONSENSIO_OUTPUT_NONE:
                return;
            case CONSENSIO_OUTPUT_SEND:
                if (queued < MAX_FRAMES && out.len <= MAX_FRAME) {
                    queue[queued].from = id;
                    queue[queued].to = out.peer;
                    queue[queued].len = out.len;
                    memcpy(queue[queued].bytes, out.data, out.len);
                    queued++;
                }
                break;
            case CONSENSIO_OUTPUT_PERSIST:
                CHECK(out.len == 0 && out.values[0] > persisted[id]);
                persisted[id] = out.values[0];
                break;
            case CONSENSIO_OUTPUT_EVENT:
                if (out.event == CONSENSIO_ELECTION_ELECTED) last_elected[id] = out.peer;
                break;
            default:
                break;
        }
    }
}

/* Runs the nodes (NULL entries are crashed) until every timer is past `until`. */
static void run(consensio_participant *nodes[N + 1], uint64_t *now, uint64_t until) {
    for (int round = 0; round < 10000 && *now <= until; round++) {
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
        if (next == UINT64_MAX) return;
        *now = next > *now ? next : *now;
        for (uint64_t id = 1; id <= N; id++)
            if (nodes[id]) CHECK_OK(consensio_participant_tick(nodes[id], *now));
    }
}

static void elect(enum consensio_election_algorithm algorithm) {
    const uint64_t members[N] = {1, 2, 3};
    consensio_participant *nodes[N + 1] = {NULL};
    memset(persisted, 0, sizeof persisted);
    memset(last_elected, 0, sizeof last_elected);
    queued = 0;
    uint64_t now = 0;
    for (uint64_t id = 1; id <= N; id++) {
        CHECK_OK(consensio_election_new(algorithm, id, members, N, 0, &nodes[id]));
        CHECK_OK(consensio_participant_tick(nodes[id], now));
    }
    run(nodes, &now, 3000);
    for (uint64_t id = 1; id <= N; id++) {
        uint8_t has = 0;
        uint64_t leader = 0, epoch = 0;
        CHECK_OK(consensio_election_leader(nodes[id], &has, &leader, &epoch));
        CHECK(has == 1 && leader == 3 && epoch >= 1);
        CHECK(last_elected[id] == 3);
    }
    /* n3 crashes; n2 takes over; n3 restarts from its persisted epoch and takes back. */
    uint64_t epoch3 = persisted[3];
    consensio_participant_free(nodes[3]);
    nodes[3] = NULL;
    run(nodes, &now, now + 3000);
    CHECK(last_elected[1] == 2 && last_elected[2] == 2);
    CHECK_OK(consensio_election_new(algorithm, 3, members, N, epoch3, &nodes[3]));
    CHECK_OK(consensio_participant_tick(nodes[3], now));
    run(nodes, &now, now + 3000);
    CHECK(last_elected[1] == 3 && last_elected[2] == 3 && last_elected[3] == 3);
    CHECK(persisted[3] > epoch3);
    for (uint64_t id = 1; id <= N; id++) consensio_participant_free(nodes[id]);
}

int main(void) {
    elect(CONSENSIO_ELECTION_BULLY);
    elect(CONSENSIO_ELECTION_RING);

    const uint64_t members[N] = {1, 2, 3};
    consensio_participant *e = NULL;
    CHECK_OK(consensio_election_new(CONSENSIO_ELECTION_BULLY, 1, members, N, 0, &e));
    const uint8_t garbage[] = {0xde, 0xad, 0xbe, 0xef};
    CHECK_FAILS(consensio_participant_handle_message(e, 0, 2, garbage, sizeof garbage), CONSENSIO_MALFORMED);
    const uint8_t truncated[] = {1, 17};
    CHECK_FAILS(consensio_participant_handle_message(e, 0, 2, truncated, sizeof truncated), CONSENSIO_MALFORMED);
    CHECK_FAILS(consensio_participant_handle_message(e, 0, 2, NULL, 3), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_participant_handle_message(e, 0, 2, garbage, SIZE_MAX), CONSENSIO_BAD_LENGTH);
    CHECK_FAILS(consensio_participant_tick(NULL, 0), CONSENSIO_NULL_POINTER);
    consensio_participant *bad = NULL;
    const uint64_t without_self[2] = {2, 3};
    CHECK_FAILS(consensio_election_new(CONSENSIO_ELECTION_BULLY, 1, without_self, 2, 0, &bad), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_election_new(CONSENSIO_ELECTION_RING, 1, members, 100000, 0, &bad), CONSENSIO_LIMIT_EXCEEDED);
    CHECK_FAILS(consensio_election_new(CONSENSIO_ELECTION_BULLY, 1, NULL, 3, 0, &bad), CONSENSIO_NULL_POINTER);
    CHECK(bad == NULL);
    /* A frame from a node outside the members. */
    consensio_participant *other = NULL;
    const uint64_t five[5] = {1, 2, 3, 4, 5};
    CHECK_OK(consensio_election_new(CONSENSIO_ELECTION_BULLY, 5, five, 5, 0, &other));
    CHECK_OK(consensio_election_start(other, 0));
    struct consensio_output out;
    do {
        CHECK_OK(consensio_participant_poll(other, &out));
    } while (out.kind != CONSENSIO_OUTPUT_SEND && out.kind != CONSENSIO_OUTPUT_NONE);
    if (out.kind == CONSENSIO_OUTPUT_SEND) {
        uint8_t frame[64];
        size_t len = out.len < sizeof frame ? out.len : sizeof frame;
        memcpy(frame, out.data, len);
        CHECK_FAILS(consensio_participant_handle_message(e, 0, 5, frame, len), CONSENSIO_INVALID_ARGUMENT);
    }
    /* One handle type, but each family's calls check the family. */
    uint64_t id = 0;
    CHECK_OK(consensio_participant_id(other, &id));
    CHECK(id == 5);
    uint64_t index = 0, term = 0;
    CHECK_FAILS(consensio_raft_propose(other, 0, garbage, sizeof garbage, &index, &term), CONSENSIO_INVALID_ARGUMENT);
    uint8_t suspected = 0;
    CHECK_FAILS(consensio_detector_suspects(other, 1, &suspected), CONSENSIO_INVALID_ARGUMENT);
    CHECK(index == 0 && suspected == 0);

    /* Time going backwards is refused, whichever call carries it, and
     * changes nothing. */
    CHECK_OK(consensio_participant_tick(other, 500));
    do CHECK_OK(consensio_participant_poll(other, &out));
    while (out.kind != CONSENSIO_OUTPUT_NONE);
    uint8_t has = 0;
    uint64_t deadline = 0, again = 0;
    CHECK_OK(consensio_participant_next_deadline(other, &has, &deadline));
    CHECK_FAILS(consensio_participant_tick(other, 499), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_election_start(other, 10), CONSENSIO_INVALID_ARGUMENT);
    CHECK_OK(consensio_participant_poll(other, &out));
    CHECK(out.kind == CONSENSIO_OUTPUT_NONE);
    CHECK_OK(consensio_participant_next_deadline(other, &has, &again));
    CHECK(again == deadline);
    CHECK_OK(consensio_participant_tick(other, 500));
    do CHECK_OK(consensio_participant_poll(other, &out));
    while (out.kind != CONSENSIO_OUTPUT_NONE);
    consensio_participant_free(other);
    consensio_participant_free(e);
    consensio_participant_free(NULL);
    return report("test_election");
}
