/* consensio_paxos_*: three Multi-Paxos nodes choose values through frames
 * passed in-process; a node restarted from its byte records keeps its log
 * and reports it again; bad input is rejected and changes nothing. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

enum { N = 3, MAX_FRAMES = 4096, MAX_FRAME = 4096, MAX_RECORDS = 4096, MAX_SLOTS = 256 };

struct frame {
    uint64_t from, to;
    size_t len;
    uint8_t bytes[MAX_FRAME];
};

struct record {
    size_t len;
    uint8_t *bytes;
};

static struct frame *queue;
static int queued;
static struct record disk[N + 1][MAX_RECORDS];
static size_t records[N + 1];
/* What each node reported chosen, slot by slot, in this life. */
static char chosen[N + 1][MAX_SLOTS][8];
static uint64_t reported[N + 1];
static uint64_t adopted[N + 1];
static int restored_from_snapshot[N + 1];
/* Key-value replies by request id: the code, and a value's bytes. */
enum { MAX_REQUESTS = 64 };
static int replies[MAX_REQUESTS];
static uint64_t reply_client[MAX_REQUESTS];
static char reply_value[MAX_REQUESTS][16];

static void drain(consensio_participant *p, uint64_t id) {
    struct consensio_output out;
    for (;;) {
        CHECK_OK(consensio_participant_poll(p, &out));
        switch (out.kind) {
            case CONSENSIO_OUTPUT_NONE:
                return;
            case CONSENSIO_OUTPUT_SEND:
                CHECK(out.len <= MAX_FRAME);
                if (queued < MAX_FRAMES && out.len <= MAX_FRAME) {
                    queue[queued].from = id;
                    queue[queued].to = out.peer;
                    queue[queued].len = out.len;
                    memcpy(queue[queued].bytes, out.data, out.len);
                    queued++;
                }
                break;
            case CONSENSIO_OUTPUT_PERSIST:
                CHECK(out.len > 0 && records[id] < MAX_RECORDS);
                if (records[id] < MAX_RECORDS) {
                    struct record *r = &disk[id][records[id]++];
                    r->bytes = malloc(out.len);
                    CHECK(r->bytes != NULL);
                    memcpy(r->bytes, out.data, out.len);
                    r->len = out.len;
                }
                break;
            case CONSENSIO_OUTPUT_EVENT:
                if (out.event == CONSENSIO_PAXOS_CHOSEN) {
                    /* Every slot from 1, once, in order. */
                    CHECK(out.values[0] == reported[id] + 1);
                    reported[id] = out.values[0];
                    if (out.values[0] < MAX_SLOTS && out.len < 8) {
                        memcpy(chosen[id][out.values[0]], out.data, out.len);
                        chosen[id][out.values[0]][out.len] = 0;
                    }
                } else if (out.event == CONSENSIO_KV_REPLY) {
                    /* Exactly one reply per request. */
                    CHECK(out.values[0] < MAX_REQUESTS && replies[out.values[0]] == -1);
                    if (out.values[0] < MAX_REQUESTS) {
                        replies[out.values[0]] = (int)out.values[1];
                        reply_client[out.values[0]] = out.values[2];
                        if (out.values[1] == CONSENSIO_KV_VALUE && out.len < 16) {
                            memcpy(reply_value[out.values[0]], out.data, out.len);
                            reply_value[out.values[0]][out.len] = 0;
                        }
                    }
                } else if (out.event == CONSENSIO_PAXOS_SNAPSHOT) {
                    /* A restart from a snapshot: chosen slots go on after it. */
                    reported[id] = out.values[0];
                    restored_from_snapshot[id] = 1;
                } else if (out.event == CONSENSIO_PAXOS_ADOPTED) {
                    CHECK(out.peer == id && out.values[0] > 0);
                    adopted[id] = out.values[0];
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

static consensio_participant *leader_of(consensio_participant *nodes[N + 1]) {
    for (uint64_t id = 1; id <= N; id++) {
        consensio_paxos_node_role role;
        if (nodes[id] && consensio_paxos_role(nodes[id], &role) == CONSENSIO_OK && role == CONSENSIO_PAXOS_LEADER)
            return nodes[id];
    }
    return NULL;
}

/* Empties the network and the disks between the two clusters. */
static void reset(void) {
    queued = 0;
    for (uint64_t id = 1; id <= N; id++) {
        for (size_t i = 0; i < records[id]; i++) free(disk[id][i].bytes);
        records[id] = 0;
        reported[id] = 0;
        adopted[id] = 0;
    }
    for (int i = 0; i < MAX_REQUESTS; i++) replies[i] = -1;
}

/* The key-value store on Multi-Paxos, through the consensio_kv_* calls. */
static void kv_cluster(void) {
    reset();
    const uint64_t members[N] = {1, 2, 3};
    consensio_participant *nodes[N + 1] = {NULL};
    struct consensio_paxos_config config;
    struct consensio_kv_limits limits;
    CHECK_OK(consensio_kv_default_limits(&limits));
    uint64_t now = 0;
    for (uint64_t id = 1; id <= N; id++) {
        CHECK_OK(consensio_paxos_default_config(id, &config));
        CHECK_OK(consensio_paxos_kv_new(&config, &limits, members, N, &nodes[id]));
        /* Snapshots every few slots, so the restart below starts from one. */
        uint64_t interval = 0;
        CHECK_OK(consensio_kv_snapshot_interval(nodes[id], &interval));
        CHECK(interval == 10000);
        CHECK_OK(consensio_kv_set_snapshot_interval(nodes[id], 2));
        CHECK_OK(consensio_kv_snapshot_interval(nodes[id], &interval));
        CHECK(interval == 2);
    }
    run(nodes, &now, 1000);
    consensio_participant *leader = leader_of(nodes);
    CHECK(leader != NULL);
    if (!leader) return;
    CHECK_OK(consensio_kv_open_session(leader, now, 1));
    run(nodes, &now, now + 200);
    CHECK(replies[1] == CONSENSIO_KV_SESSION_OPENED && reply_client[1] > 0);
    uint64_t client = reply_client[1];
    const uint8_t key[] = "k";
    CHECK_OK(consensio_kv_put(leader, now, 2, client, 1, key, 1, (const uint8_t *)"v1", 2));
    run(nodes, &now, now + 200);
    CHECK(replies[2] == CONSENSIO_KV_DONE);
    /* A retry of write 1 is answered from the session, not applied again;
     * an older one is refused. */
    CHECK_OK(consensio_kv_put(leader, now, 3, client, 1, key, 1, (const uint8_t *)"v1", 2));
    run(nodes, &now, now + 200);
    CHECK_OK(consensio_kv_cas(leader, now, 4, client, 2, key, 1, (const uint8_t *)"v1", 2, (const uint8_t *)"v2", 2));
    run(nodes, &now, now + 200);
    CHECK_OK(consensio_kv_put(leader, now, 9, client, 1, key, 1, (const uint8_t *)"v3", 2));
    run(nodes, &now, now + 200);
    CHECK(replies[3] == CONSENSIO_KV_DONE && replies[4] == CONSENSIO_KV_SWAPPED);
    CHECK(replies[9] == CONSENSIO_KV_STALE_SEQUENCE);
    CHECK_OK(consensio_kv_get(leader, now, 5, key, 1, 0));
    run(nodes, &now, now + 200);
    CHECK(replies[5] == CONSENSIO_KV_VALUE && strcmp(reply_value[5], "v2") == 0);
    /* A follower answers NOT_LEADER; Raft's operator calls are refused. */
    uint64_t fid = 0;
    for (uint64_t id = 1; id <= N; id++)
        if (nodes[id] != leader) fid = id;
    CHECK_OK(consensio_kv_get(nodes[fid], now, 6, key, 1, 1));
    drain(nodes[fid], fid);
    CHECK(replies[6] == CONSENSIO_KV_NOT_LEADER);
    CHECK_FAILS(consensio_kv_transfer_leadership(leader, now, 7, 2), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_kv_put(leader, now, 8, client, 3, key, 1, NULL, 100000), CONSENSIO_NULL_POINTER);
    CHECK(replies[7] == -1 && replies[8] == -1);
    /* A node restarted from its records rebuilds the store. */
    uint64_t lid = 0;
    CHECK_OK(consensio_participant_id(leader, &lid));
    uint64_t f = lid == 1 ? 2 : 1;
    const uint8_t *ptrs[MAX_RECORDS];
    size_t lens[MAX_RECORDS];
    for (size_t i = 0; i < records[f]; i++) {
        ptrs[i] = disk[f][i].bytes;
        lens[i] = disk[f][i].len;
    }
    consensio_participant_free(nodes[f]);
    reported[f] = 0;
    CHECK_OK(consensio_paxos_default_config(f, &config));
    CHECK_OK(consensio_paxos_kv_restore(&config, &limits, members, N, ptrs, lens, records[f], &nodes[f]));
    drain(nodes[f], f);
    CHECK(restored_from_snapshot[f] == 1);
    uint64_t first = 0;
    CHECK_OK(consensio_paxos_first_unchosen(nodes[f], &first));
    CHECK(reported[f] == first - 1);
    run(nodes, &now, now + 300);
    uint64_t caught_up = 0, leaders = 0;
    CHECK_OK(consensio_paxos_first_unchosen(nodes[f], &caught_up));
    CHECK_OK(consensio_paxos_first_unchosen(leader, &leaders));
    CHECK(caught_up == leaders && caught_up > 4);
    /* The bare node's calls refuse a key-value handle's commands and vice versa. */
    CHECK_FAILS(consensio_paxos_propose(leader, now, key, 1), CONSENSIO_INVALID_ARGUMENT);
    for (uint64_t id = 1; id <= N; id++) consensio_participant_free(nodes[id]);
}

static consensio_participant *restore(const uint64_t *members, uint64_t id) {
    const uint8_t *ptrs[MAX_RECORDS];
    size_t lens[MAX_RECORDS];
    for (size_t i = 0; i < records[id]; i++) {
        ptrs[i] = disk[id][i].bytes;
        lens[i] = disk[id][i].len;
    }
    struct consensio_paxos_config config;
    CHECK_OK(consensio_paxos_default_config(id, &config));
    consensio_participant *p = NULL;
    reported[id] = 0;
    CHECK_OK(consensio_paxos_restore(&config, members, N, ptrs, lens, records[id], &p));
    return p;
}

int main(void) {
    queue = calloc(MAX_FRAMES, sizeof *queue);
    CHECK(queue != NULL);
    for (int i = 0; i < MAX_REQUESTS; i++) replies[i] = -1;
    const uint64_t members[N] = {1, 2, 3};
    consensio_participant *nodes[N + 1] = {NULL};
    uint64_t now = 0;
    for (uint64_t id = 1; id <= N; id++) {
        struct consensio_paxos_config config;
        CHECK_OK(consensio_paxos_default_config(id, &config));
        CHECK(config.id == id && config.window == 256 && config.max_batch == 64);
        CHECK_OK(consensio_paxos_new(&config, members, N, &nodes[id]));
        CHECK_OK(consensio_participant_tick(nodes[id], now));
    }
    run(nodes, &now, 1000);
    consensio_participant *leader = leader_of(nodes);
    CHECK(leader != NULL);
    if (!leader) return report("test_paxos");
    uint64_t lid = 0;
    CHECK_OK(consensio_participant_id(leader, &lid));
    CHECK(adopted[lid] > 0);
    for (int i = 0; i < 40; i++) {
        char value[8];
        int len = snprintf(value, sizeof value, "v%d", i);
        CHECK_OK(consensio_paxos_propose(leader, now, (const uint8_t *)value, (size_t)len));
    }
    run(nodes, &now, now + 500);
    /* Every node learned the 40 values, in order, at the same slots. */
    for (uint64_t id = 1; id <= N; id++) {
        uint64_t first = 0;
        CHECK_OK(consensio_paxos_first_unchosen(nodes[id], &first));
        CHECK(first == reported[id] + 1 && reported[id] >= 40);
        uint8_t has = 0, leader_known = 0;
        uint64_t who = 0;
        CHECK_OK(consensio_paxos_leader(nodes[id], &leader_known, &who));
        CHECK(leader_known == 1 && who == lid);
        for (uint64_t slot = 1; slot <= reported[id]; slot++) CHECK(strcmp(chosen[id][slot], chosen[lid][slot]) == 0);
        char buf[8];
        size_t len = 0;
        CHECK_OK(consensio_paxos_chosen(nodes[id], reported[id], (uint8_t *)buf, sizeof buf, &len, &has));
        CHECK(has == 1 && len == strlen(chosen[id][reported[id]]));
        CHECK_FAILS(consensio_paxos_chosen(nodes[id], reported[id], (uint8_t *)buf, 1, &len, &has), CONSENSIO_BUFFER_TOO_SMALL);
        CHECK_OK(consensio_paxos_chosen(nodes[id], 100000, (uint8_t *)buf, sizeof buf, &len, &has));
        CHECK(has == 0);
    }
    uint64_t last = reported[lid];
    CHECK(strcmp(chosen[lid][last], "v39") == 0);

    /* A follower crashes and restarts from its records alone. */
    uint64_t f = lid == 1 ? 2 : 1;
    uint64_t before = 0, after = 0;
    CHECK_OK(consensio_paxos_first_unchosen(nodes[f], &before));
    consensio_participant_free(nodes[f]);
    nodes[f] = restore(members, f);
    /* It knows at once the chosen prefix its records hold (a page at
     * most behind), and reports it again. */
    CHECK_OK(consensio_paxos_first_unchosen(nodes[f], &after));
    CHECK(after <= before && after + 64 >= before);
    drain(nodes[f], f);
    CHECK(reported[f] == after - 1);
    CHECK_OK(consensio_paxos_propose(leader, now, (const uint8_t *)"late", 4));
    run(nodes, &now, now + 500);
    CHECK(strcmp(chosen[f][reported[f]], "late") == 0);

    /* Compaction: a snapshot past what was applied is refused; one at the
     * applied slot is a snapshot record, and a restart from it (and the
     * records after it) reports the snapshot first. */
    uint64_t applied = reported[f];
    CHECK_FAILS(consensio_paxos_compact(nodes[f], now, applied + 1, (const uint8_t *)"S", 1), CONSENSIO_INVALID_ARGUMENT);
    CHECK_OK(consensio_paxos_compact(nodes[f], now, applied, (const uint8_t *)"state", 5));
    drain(nodes[f], f);
    uint8_t is_snapshot = 0;
    CHECK_OK(consensio_paxos_record_is_snapshot(disk[f][records[f] - 1].bytes, disk[f][records[f] - 1].len, &is_snapshot));
    CHECK(is_snapshot == 1);
    CHECK_OK(consensio_paxos_record_is_snapshot(disk[f][0].bytes, disk[f][0].len, &is_snapshot));
    CHECK(is_snapshot == 0);
    CHECK_FAILS(consensio_paxos_record_is_snapshot((const uint8_t *)"xx", 2, &is_snapshot), CONSENSIO_MALFORMED);
    /* The host deletes the records before the snapshot record. */
    size_t keep = records[f] - 1;
    for (size_t i = 0; i < keep; i++) free(disk[f][i].bytes);
    disk[f][0] = disk[f][keep];
    records[f] = 1;
    consensio_participant_free(nodes[f]);
    nodes[f] = restore(members, f);
    struct consensio_output snap;
    CHECK_OK(consensio_participant_poll(nodes[f], &snap));
    CHECK(snap.kind == CONSENSIO_OUTPUT_EVENT && snap.event == CONSENSIO_PAXOS_SNAPSHOT && snap.values[0] == applied);
    reported[f] = snap.values[0];
    char state[8];
    size_t state_len = 0;
    uint64_t upto = 0;
    uint8_t has_snapshot = 0;
    CHECK_OK(consensio_paxos_snapshot(nodes[f], (uint8_t *)state, sizeof state, &state_len, &upto, &has_snapshot));
    CHECK(has_snapshot == 1 && upto == applied && state_len == 5 && memcmp(state, "state", 5) == 0);
    CHECK_FAILS(consensio_paxos_snapshot(nodes[f], (uint8_t *)state, 2, &state_len, &upto, &has_snapshot), CONSENSIO_BUFFER_TOO_SMALL);
    CHECK_OK(consensio_paxos_propose(leader, now, (const uint8_t *)"after", 5));
    run(nodes, &now, now + 500);
    CHECK(strcmp(chosen[f][reported[f]], "after") == 0);

    /* Bad input: nothing changes. */
    consensio_participant *follower = nodes[f];
    CHECK_FAILS(consensio_paxos_propose(follower, now, (const uint8_t *)"x", 1), CONSENSIO_REJECTED);
    CHECK_FAILS(consensio_paxos_propose(leader, now, (const uint8_t *)"", 0), CONSENSIO_INVALID_ARGUMENT);
    uint8_t *big = calloc(65537, 1);
    CHECK_FAILS(consensio_paxos_propose(leader, now, big, 65537), CONSENSIO_LIMIT_EXCEEDED);
    free(big);
    const uint8_t garbage[] = {0xde, 0xad, 0xbe, 0xef};
    CHECK_FAILS(consensio_participant_handle_message(leader, now, 2, garbage, sizeof garbage), CONSENSIO_MALFORMED);
    const uint8_t truncated[] = {1, 24, 3};
    CHECK_FAILS(consensio_participant_handle_message(leader, now, 2, truncated, sizeof truncated), CONSENSIO_MALFORMED);
    const uint8_t probe[] = {1, 24, 0, 1};
    CHECK_FAILS(consensio_participant_handle_message(leader, now, 9, probe, sizeof probe), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_participant_handle_message(leader, now, 2, NULL, 3), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_participant_handle_message(leader, now, 2, garbage, SIZE_MAX), CONSENSIO_BAD_LENGTH);
    struct consensio_output out;
    CHECK_OK(consensio_participant_poll(leader, &out));
    CHECK(out.kind == CONSENSIO_OUTPUT_NONE);
    consensio_paxos_node_role role;
    CHECK_OK(consensio_paxos_role(leader, &role));
    CHECK(role == CONSENSIO_PAXOS_LEADER);
    /* Unusable configurations and records. */
    struct consensio_paxos_config config;
    CHECK_OK(consensio_paxos_default_config(4, &config));
    consensio_participant *bad = NULL;
    CHECK_FAILS(consensio_paxos_new(&config, members, N, &bad), CONSENSIO_INVALID_ARGUMENT);
    CHECK_OK(consensio_paxos_default_config(1, &config));
    config.election_timeout_min_ms = config.heartbeat_interval_ms;
    CHECK_FAILS(consensio_paxos_new(&config, members, N, &bad), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_paxos_new(NULL, members, N, &bad), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_paxos_new(&config, members, 1000, &bad), CONSENSIO_LIMIT_EXCEEDED);
    CHECK_OK(consensio_paxos_default_config(1, &config));
    const uint8_t *ptrs[1] = {garbage};
    size_t lens[1] = {sizeof garbage};
    CHECK_FAILS(consensio_paxos_restore(&config, members, N, ptrs, lens, 1, &bad), CONSENSIO_MALFORMED);
    CHECK(bad == NULL);
    /* Another family's call on a Paxos handle. */
    uint8_t suspected = 0;
    CHECK_FAILS(consensio_detector_suspects(leader, 1, &suspected), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_paxos_campaign(NULL, now), CONSENSIO_NULL_POINTER);

    for (uint64_t id = 1; id <= N; id++) consensio_participant_free(nodes[id]);
    kv_cluster();
    reset();
    free(queue);
    return report("test_paxos");
}
