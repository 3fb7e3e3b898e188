/* consensio_kv_*: three key-value nodes exchange bytes in-process. A
 * client opens a session, puts, compare-and-sets (a success, a failure, an
 * absent and an empty value), deletes and reads by ReadIndex and by lease;
 * a retried write is applied once; a follower refuses writes with NOT_LEADER and
 * names the leader; sequence 0 is refused; a follower restarted from its
 * records rebuilds the store. Snapshots: a follower that was down catches
 * up by the leader's snapshot, and a node restarted from its snapshot
 * record answers a retried write from the session saved in it. Bad input
 * gets a status and no reply. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

enum { N = 3, MAX_FRAMES = 1024, MAX_FRAME = 2048, MAX_RECORDS = 512, MAX_REPLIES = 64 };

struct frame {
    uint64_t from, to;
    size_t len;
    uint8_t bytes[MAX_FRAME];
};

/* One reply, as a node reported it. */
struct reply {
    uint64_t node, id, result, extra, peer;
    size_t len;
    int null_data;
    char value[32];
};

static struct frame queue[MAX_FRAMES];
static int queued;
static uint8_t *disk[N + 1][MAX_RECORDS];
static size_t disk_len[N + 1][MAX_RECORDS];
static int records[N + 1];
static struct reply replies[MAX_REPLIES];
static int reply_count;
static uint64_t committed[N + 1], snapshots_loaded[N + 1];

/* A snapshot record replaces every record before it: the "disk" keeps it
 * alone, as a host compacts its file. */
static void persist(uint64_t id, const uint8_t *data, size_t len) {
    uint8_t snapshot = 9;
    CHECK_OK(consensio_raft_record_is_snapshot(data, len, &snapshot));
    if (snapshot == 1) {
        for (int i = 0; i < records[id]; i++) free(disk[id][i]);
        records[id] = 0;
    }
    CHECK(len > 0 && records[id] < MAX_RECORDS);
    if (records[id] < MAX_RECORDS) {
        disk[id][records[id]] = malloc(len);
        memcpy(disk[id][records[id]], data, len);
        disk_len[id][records[id]++] = len;
    }
}

static void drain(consensio_participant *kv, uint64_t id) {
    struct consensio_output out;
    for (;;) {
        CHECK_OK(consensio_participant_poll(kv, &out));
        switch (out.kind) {
            case CONSENSIO_OUTPUT_NONE:
                return;
            case CONSENSIO_OUTPUT_SEND:
                CHECK(out.len <= MAX_FRAME && queued < MAX_FRAMES);
                if (queued < MAX_FRAMES && out.len <= MAX_FRAME) {
                    queue[queued] = (struct frame){.from = id, .to = out.peer, .len = out.len};
                    memcpy(queue[queued].bytes, out.data, out.len);
                    queued++;
                }
                break;
            case CONSENSIO_OUTPUT_PERSIST:
                persist(id, out.data, out.len);
                break;
            case CONSENSIO_OUTPUT_EVENT:
                switch (out.event) {
                    case CONSENSIO_KV_REPLY:
                        CHECK(reply_count < MAX_REPLIES && out.len <= sizeof replies[0].value);
                        if (reply_count < MAX_REPLIES && out.len <= sizeof replies[0].value) {
                            struct reply *r = &replies[reply_count++];
                            *r = (struct reply){.node = id,
                                                .id = out.values[0],
                                                .result = out.values[1],
                                                .extra = out.values[2],
                                                .peer = out.peer,
                                                .len = out.len,
                                                .null_data = out.data == NULL};
                            if (out.len > 0) memcpy(r->value, out.data, out.len);
                        }
                        break;
                    case CONSENSIO_KV_COMMITTED:
                        /* Already applied to the store; every index once, in order. */
                        CHECK(out.values[0] == committed[id] + 1);
                        committed[id] = out.values[0];
                        break;
                    case CONSENSIO_KV_APPLY_SNAPSHOT:
                        /* The store has loaded it; entries go on after it. */
                        CHECK(out.values[0] > committed[id]);
                        committed[id] = out.values[0];
                        snapshots_loaded[id]++;
                        break;
                    case CONSENSIO_KV_READ_READY:
                    case CONSENSIO_KV_READ_FAILED:
                    case CONSENSIO_KV_BECAME_LEADER:
                    case CONSENSIO_KV_BECAME_FOLLOWER:
                    case CONSENSIO_KV_LOG_FULL:
                        break;
                    default:
                        CHECK(!"unknown event");
                        return;
                }
                break;
            default:
                CHECK(!"unknown output kind");
                return;
        }
    }
}

static void run(consensio_participant *nodes[N + 1], uint64_t *now, uint64_t until) {
    for (int round = 0; round < 100000; round++) {
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
        if (next > until) {
            *now = until;
            return;
        }
        *now = next > *now ? next : *now;
        for (uint64_t id = 1; id <= N; id++) {
            uint8_t has = 0;
            uint64_t at = 0;
            if (!nodes[id]) continue;
            CHECK_OK(consensio_participant_next_deadline(nodes[id], &has, &at));
            if (has && at <= *now) CHECK_OK(consensio_participant_tick(nodes[id], *now));
        }
    }
    CHECK(!"the cluster never settled");
}

/* The one reply to request `id` from `node`, or NULL (and a failed check)
 * if there is none or more than one. */
static const struct reply *reply_to(uint64_t node, uint64_t id) {
    const struct reply *found = NULL;
    int n = 0;
    for (int i = 0; i < reply_count; i++)
        if (replies[i].node == node && replies[i].id == id) found = &replies[i], n++;
    CHECK(n == 1);
    return n == 1 ? found : NULL;
}

/* Request `id` at `node` was answered `result` (and, for a value, `value`). */
static void expect(uint64_t node, uint64_t id, enum consensio_kv_result result, const char *value) {
    const struct reply *r = reply_to(node, id);
    CHECK(r != NULL && r->result == (uint64_t)result);
    if (r && value) CHECK(r->len == strlen(value) && memcmp(r->value, value, r->len) == 0);
}

/* Node `id`'s own copy of `key` is `value` (NULL: absent). */
static void local(consensio_participant *kv, const char *key, const char *value) {
    char buf[32];
    size_t len = 99;
    uint8_t found = 9;
    CHECK_OK(consensio_kv_local_value(kv, (const uint8_t *)key, strlen(key), (uint8_t *)buf, sizeof buf, &len, &found));
    if (value == NULL) {
        CHECK(found == 0 && len == 0);
    } else {
        CHECK(found == 1 && len == strlen(value) && memcmp(buf, value, len) == 0);
    }
}

static uint64_t leader_of(consensio_participant *nodes[N + 1]) {
    for (uint64_t id = 1; id <= N; id++) {
        enum consensio_raft_node_role role = CONSENSIO_RAFT_FOLLOWER;
        if (nodes[id]) CHECK_OK(consensio_kv_role(nodes[id], &role));
        if (role == CONSENSIO_RAFT_LEADER) return id;
    }
    return 0;
}

static const uint8_t *b(const char *s) { return (const uint8_t *)s; }

static void cluster(void) {
    const uint64_t voters[N] = {1, 2, 3};
    struct consensio_raft_config config[N + 1];
    struct consensio_kv_limits limits;
    CHECK_OK(consensio_kv_default_limits(&limits));
    CHECK(limits.max_keys == 65536 && limits.max_key_bytes == 1024 && limits.max_value_bytes == 16384);
    CHECK(limits.max_sessions == 10000 && limits.session_expiry_ms == 3600000);
    limits.max_key_bytes = 8;
    limits.max_value_bytes = 16;
    consensio_participant *nodes[N + 1] = {NULL};
    uint64_t now = 0;
    for (uint64_t id = 1; id <= N; id++) {
        CHECK_OK(consensio_raft_default_config(id, &config[id]));
        CHECK_OK(consensio_kv_new(&config[id], &limits, voters, N, &nodes[id]));
    }
    run(nodes, &now, 2000);
    uint64_t leader = leader_of(nodes);
    CHECK(leader != 0);
    if (leader == 0) return;
    consensio_participant *l = nodes[leader];
    uint64_t follower = leader % N + 1, other = follower % N + 1;

    /* The queries. */
    uint8_t has = 0;
    uint64_t hint = 0, term = 0, commit = 0, applied = 0;
    size_t frame = 0;
    CHECK_OK(consensio_kv_leader(nodes[follower], &has, &hint));
    CHECK(has == 1 && hint == leader);
    CHECK_OK(consensio_kv_term(l, &term));
    CHECK(term >= 1);
    CHECK_OK(consensio_kv_commit_index(l, &commit));
    CHECK_OK(consensio_kv_applied_index(l, &applied));
    CHECK(commit == 1 && applied == 1); /* the leader's empty entry */
    CHECK_OK(consensio_kv_max_frame_len(l, &frame));
    CHECK(frame > 256 * 1024 && frame < 300 * 1024);

    /* A follower refuses and names the leader; nothing was proposed. */
    CHECK_OK(consensio_kv_open_session(nodes[follower], now, 100));
    drain(nodes[follower], follower);
    const struct reply *r = reply_to(follower, 100);
    CHECK(r && r->result == CONSENSIO_KV_NOT_LEADER && r->extra == 1 && r->peer == leader);

    /* A session, then writes with sequence numbers 1, 2, ... */
    CHECK_OK(consensio_kv_open_session(l, now, 1));
    run(nodes, &now, now + 200);
    r = reply_to(leader, 1);
    CHECK(r && r->result == CONSENSIO_KV_SESSION_OPENED && r->extra == 2);
    uint64_t client = r ? r->extra : 0;

    CHECK_OK(consensio_kv_put(l, now, 2, client, 1, b("k"), 1, b("v1"), 2));
    run(nodes, &now, now + 200);
    expect(leader, 2, CONSENSIO_KV_DONE, NULL);
    for (uint64_t id = 1; id <= N; id++) local(nodes[id], "k", "v1");

    /* Compare-and-set: a success, a failure, "absent" expected, and the
     * empty value (a pointer with length 0), which is present. */
    CHECK_OK(consensio_kv_cas(l, now, 3, client, 2, b("k"), 1, b("v1"), 2, b("v2"), 2));
    CHECK_OK(consensio_kv_cas(l, now, 4, client, 3, b("k"), 1, b("nope"), 4, b("v3"), 2));
    run(nodes, &now, now + 200);
    expect(leader, 3, CONSENSIO_KV_SWAPPED, NULL);
    expect(leader, 4, CONSENSIO_KV_NOT_SWAPPED, NULL);
    local(l, "k", "v2");
    CHECK_OK(consensio_kv_cas(l, now, 5, client, 4, b("k"), 1, NULL, 0, b("v3"), 2));
    CHECK_OK(consensio_kv_cas(l, now, 6, client, 5, b("e"), 1, NULL, 0, b(""), 0));
    run(nodes, &now, now + 200);
    expect(leader, 5, CONSENSIO_KV_NOT_SWAPPED, NULL); /* "k" is not absent */
    expect(leader, 6, CONSENSIO_KV_SWAPPED, NULL);
    for (uint64_t id = 1; id <= N; id++) local(nodes[id], "e", "");

    /* A retried write is applied once: the retry (same seq) gets the first
     * answer, where applying it again would answer NOT_SWAPPED. */
    CHECK_OK(consensio_kv_cas(l, now, 7, client, 6, b("once"), 4, NULL, 0, b("1"), 1));
    run(nodes, &now, now + 200);
    CHECK_OK(consensio_kv_cas(l, now, 8, client, 6, b("once"), 4, NULL, 0, b("1"), 1));
    run(nodes, &now, now + 200);
    expect(leader, 7, CONSENSIO_KV_SWAPPED, NULL);
    expect(leader, 8, CONSENSIO_KV_SWAPPED, NULL);

    /* A delete, then reads: ReadIndex and lease; absent and empty values
     * differ. */
    CHECK_OK(consensio_kv_delete(l, now, 9, client, 7, b("k"), 1));
    run(nodes, &now, now + 200);
    expect(leader, 9, CONSENSIO_KV_DONE, NULL);
    for (uint64_t id = 1; id <= N; id++) local(nodes[id], "k", NULL);
    CHECK_OK(consensio_kv_get(l, now, 10, b("k"), 1, 0));
    CHECK_OK(consensio_kv_get(l, now, 11, b("once"), 4, 0));
    CHECK_OK(consensio_kv_get(l, now, 12, b("e"), 1, 0));
    run(nodes, &now, now + 200);
    expect(leader, 10, CONSENSIO_KV_ABSENT, NULL);
    expect(leader, 11, CONSENSIO_KV_VALUE, "1");
    expect(leader, 12, CONSENSIO_KV_VALUE, "");
    r = reply_to(leader, 12);
    CHECK(r && r->len == 0 && r->null_data);
    CHECK_OK(consensio_kv_get(l, now, 13, b("once"), 4, 1));
    drain(l, leader); /* within the lease: answered at once */
    expect(leader, 13, CONSENSIO_KV_VALUE, "1");
    /* A follower serves reads at the leader's read index (thesis 6.4.1). */
    CHECK_OK(consensio_kv_get(nodes[follower], now, 14, b("once"), 4, 0));
    run(nodes, &now, now + 200);
    expect(follower, 14, CONSENSIO_KV_VALUE, "1");

    /* Sequence 0, a stale and a skipping sequence, an unknown session. */
    CHECK_OK(consensio_kv_put(l, now, 15, client, 0, b("z"), 1, b("0"), 1));
    drain(l, leader); /* refused before it costs a log entry */
    expect(leader, 15, CONSENSIO_KV_ZERO_SEQUENCE, NULL);
    CHECK_OK(consensio_kv_put(l, now, 16, client, 3, b("z"), 1, b("3"), 1));
    CHECK_OK(consensio_kv_put(l, now, 17, client, 9, b("z"), 1, b("9"), 1));
    CHECK_OK(consensio_kv_put(l, now, 18, 12345, 1, b("z"), 1, b("x"), 1));
    run(nodes, &now, now + 200);
    expect(leader, 16, CONSENSIO_KV_STALE_SEQUENCE, NULL);
    expect(leader, 17, CONSENSIO_KV_SEQUENCE_GAP, NULL);
    expect(leader, 18, CONSENSIO_KV_SESSION_EXPIRED, NULL);
    local(l, "z", NULL);

    /* Too long a key or value: a status, no reply, nothing proposed. */
    int before = reply_count;
    uint64_t last_commit = 0, after_commit = 0;
    CHECK_OK(consensio_kv_commit_index(l, &last_commit));
    CHECK_FAILS(consensio_kv_put(l, now, 19, client, 8, b("123456789"), 9, b("v"), 1), CONSENSIO_LIMIT_EXCEEDED);
    CHECK_FAILS(consensio_kv_put(l, now, 19, client, 8, b("k"), 1, b("12345678901234567"), 17),
                CONSENSIO_LIMIT_EXCEEDED);
    CHECK_FAILS(consensio_kv_get(l, now, 19, b("123456789"), 9, 0), CONSENSIO_LIMIT_EXCEEDED);
    CHECK_FAILS(consensio_kv_cas(l, now, 19, client, 8, b("k"), 1, NULL, 3, NULL, 0), CONSENSIO_NULL_POINTER);
    run(nodes, &now, now + 200);
    CHECK_OK(consensio_kv_commit_index(l, &after_commit));
    CHECK(reply_count == before && after_commit == last_commit);

    /* A follower restarts from its records alone and rebuilds the store. */
    consensio_participant_free(nodes[follower]);
    nodes[follower] = NULL;
    committed[follower] = 0;
    const uint8_t *recs[MAX_RECORDS];
    size_t lens[MAX_RECORDS];
    for (int i = 0; i < records[follower]; i++) recs[i] = disk[follower][i], lens[i] = disk_len[follower][i];
    CHECK_OK(consensio_kv_restore(&config[follower], &limits, voters, N, recs, lens, (size_t)records[follower],
                                  &nodes[follower]));
    if (!nodes[follower]) return;
    CHECK_OK(consensio_kv_applied_index(nodes[follower], &applied));
    CHECK(applied == 0);
    local(nodes[follower], "once", NULL);
    run(nodes, &now, now + 1000);
    CHECK_OK(consensio_kv_applied_index(nodes[follower], &applied));
    CHECK_OK(consensio_kv_commit_index(l, &commit));
    CHECK(applied == commit && committed[follower] == commit);
    local(nodes[follower], "once", "1");
    local(nodes[follower], "e", "");
    local(nodes[follower], "k", NULL);
    local(nodes[other], "once", "1");

    /* Time going backwards is refused, and changes nothing. */
    CHECK_OK(consensio_participant_tick(l, now));
    drain(l, leader);
    CHECK_FAILS(consensio_kv_put(l, now - 1, 20, client, 8, b("t"), 1, b("1"), 1), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_participant_tick(l, now - 1), CONSENSIO_INVALID_ARGUMENT);
    CHECK_OK(consensio_kv_put(l, now, 20, client, 8, b("t"), 1, b("1"), 1));
    run(nodes, &now, now + 200);
    expect(leader, 20, CONSENSIO_KV_DONE, NULL);

    /* Leadership goes to `other`; writes meanwhile are redirected there. */
    CHECK_OK(consensio_kv_transfer_leadership(l, now, 21, 9));
    CHECK_OK(consensio_kv_transfer_leadership(nodes[other], now, 22, leader));
    CHECK_OK(consensio_kv_transfer_leadership(l, now, 23, other));
    CHECK_OK(consensio_kv_put(l, now, 24, client, 9, b("t"), 1, b("2"), 1));
    drain(l, leader);
    drain(nodes[other], other);
    expect(leader, 21, CONSENSIO_KV_NOT_A_VOTER, NULL);
    expect(other, 22, CONSENSIO_KV_NOT_LEADER, NULL);
    expect(leader, 23, CONSENSIO_KV_DONE, NULL);
    expect(leader, 24, CONSENSIO_KV_NOT_LEADER, NULL);
    run(nodes, &now, now + 200);
    CHECK(leader_of(nodes) == other);
    CHECK_OK(consensio_kv_put(nodes[other], now, 25, client, 9, b("t"), 1, b("2"), 1));
    run(nodes, &now, now + 200);
    expect(other, 25, CONSENSIO_KV_DONE, NULL);

    for (uint64_t id = 1; id <= N; id++) consensio_participant_free(nodes[id]);
}

/* Frees the disks and forgets the replies, for a new cluster. */
static void reset(void) {
    for (int id = 1; id <= N; id++) {
        for (int i = 0; i < records[id]; i++) free(disk[id][i]);
        records[id] = 0;
        committed[id] = snapshots_loaded[id] = 0;
    }
    reply_count = queued = 0;
}

/* Node `id`'s first record is a snapshot record. */
static int starts_with_snapshot(uint64_t id) {
    uint8_t snapshot = 0;
    if (records[id] == 0) return 0;
    CHECK_OK(consensio_raft_record_is_snapshot(disk[id][0], disk_len[id][0], &snapshot));
    return snapshot == 1;
}

/* Node `id` rebuilt from its disk. */
static consensio_participant *restore(const struct consensio_raft_config *config,
                                      const struct consensio_kv_limits *limits, const uint64_t *voters, uint64_t id) {
    const uint8_t *recs[MAX_RECORDS];
    size_t lens[MAX_RECORDS];
    for (int i = 0; i < records[id]; i++) recs[i] = disk[id][i], lens[i] = disk_len[id][i];
    consensio_participant *kv = NULL;
    committed[id] = snapshots_loaded[id] = 0;
    CHECK_OK(consensio_kv_restore(config, limits, voters, N, recs, lens, (size_t)records[id], &kv));
    return kv;
}

static void snapshots(void) {
    reset();
    const uint64_t voters[N] = {1, 2, 3};
    struct consensio_raft_config config[N + 1];
    struct consensio_kv_limits limits;
    consensio_participant *nodes[N + 1] = {NULL};
    uint64_t now = 0, interval = 0, applied = 0, commit = 0;
    CHECK_OK(consensio_kv_default_limits(&limits));
    for (uint64_t id = 1; id <= N; id++) {
        CHECK_OK(consensio_raft_default_config(id, &config[id]));
        CHECK_OK(consensio_kv_new(&config[id], &limits, voters, N, &nodes[id]));
        CHECK_OK(consensio_kv_snapshot_interval(nodes[id], &interval));
        CHECK(interval == 10000);
        CHECK_OK(consensio_kv_set_snapshot_interval(nodes[id], 4));
        CHECK_OK(consensio_kv_snapshot_interval(nodes[id], &interval));
        CHECK(interval == 4);
    }
    run(nodes, &now, 2000);
    uint64_t leader = leader_of(nodes);
    CHECK(leader != 0);
    if (leader == 0) goto out;
    consensio_participant *l = nodes[leader];
    uint64_t follower = leader % N + 1;

    /* A follower goes down. A session (entry 2), a put (3) and a
     * compare-and-set (4): the leader snapshots its store at 4, with the
     * session's saved answer to its last write; then another session (5),
     * recorded after the snapshot. */
    consensio_participant_free(nodes[follower]);
    nodes[follower] = NULL;
    CHECK_OK(consensio_kv_open_session(l, now, 1));
    run(nodes, &now, now + 200);
    const struct reply *r = reply_to(leader, 1);
    uint64_t client = r ? r->extra : 0;
    CHECK_OK(consensio_kv_put(l, now, 2, client, 1, b("k"), 1, b("1"), 1));
    run(nodes, &now, now + 200);
    expect(leader, 2, CONSENSIO_KV_DONE, NULL);
    CHECK(!starts_with_snapshot(leader));
    CHECK_OK(consensio_kv_cas(l, now, 3, client, 2, b("owner"), 5, NULL, 0, b("alice"), 5));
    run(nodes, &now, now + 200);
    expect(leader, 3, CONSENSIO_KV_SWAPPED, NULL);
    CHECK(records[leader] == 1 && starts_with_snapshot(leader));
    CHECK_OK(consensio_kv_open_session(l, now, 4));
    run(nodes, &now, now + 200);
    expect(leader, 4, CONSENSIO_KV_SESSION_OPENED, NULL);
    CHECK(snapshots_loaded[leader] == 0 && records[leader] >= 2 && starts_with_snapshot(leader));

    /* The follower comes back with its old log: the leader no longer holds
     * the entries it lacks and sends its snapshot, which the store loads. */
    nodes[follower] = restore(&config[follower], &limits, voters, follower);
    if (!nodes[follower]) goto out;
    run(nodes, &now, now + 1000);
    CHECK(snapshots_loaded[follower] == 1 && starts_with_snapshot(follower));
    local(nodes[follower], "owner", "alice");
    local(nodes[follower], "k", "1");
    CHECK_OK(consensio_kv_applied_index(nodes[follower], &applied));
    CHECK_OK(consensio_kv_commit_index(l, &commit));
    CHECK(applied == commit && committed[follower] == commit);

    /* It restarts from its snapshot record and the records after it: the
     * store is loaded before anything else (APPLY_SNAPSHOT first). */
    consensio_participant_free(nodes[follower]);
    nodes[follower] = restore(&config[follower], &limits, voters, follower);
    if (!nodes[follower]) goto out;
    struct consensio_output first;
    CHECK_OK(consensio_participant_poll(nodes[follower], &first));
    CHECK(first.kind == CONSENSIO_OUTPUT_EVENT && first.event == CONSENSIO_KV_APPLY_SNAPSHOT && first.values[0] >= 4);
    committed[follower] = first.values[0];
    local(nodes[follower], "owner", "alice");
    run(nodes, &now, now + 1000);
    local(nodes[follower], "k", "1");

    /* Leadership moves to it. The retried compare-and-set (same seq) is
     * answered from the session its snapshot saved, SWAPPED, where applying
     * it again would answer NOT_SWAPPED, as a new write with the next seq
     * does. */
    CHECK_OK(consensio_kv_transfer_leadership(l, now, 5, follower));
    run(nodes, &now, now + 300);
    expect(leader, 5, CONSENSIO_KV_DONE, NULL);
    CHECK(leader_of(nodes) == follower);
    CHECK_OK(consensio_kv_cas(nodes[follower], now, 6, client, 2, b("owner"), 5, NULL, 0, b("alice"), 5));
    run(nodes, &now, now + 200);
    expect(follower, 6, CONSENSIO_KV_SWAPPED, NULL);
    CHECK_OK(consensio_kv_cas(nodes[follower], now, 7, client, 3, b("owner"), 5, NULL, 0, b("bob"), 3));
    run(nodes, &now, now + 200);
    expect(follower, 7, CONSENSIO_KV_NOT_SWAPPED, NULL);
    for (uint64_t id = 1; id <= N; id++) local(nodes[id], "owner", "alice");
out:
    for (uint64_t id = 1; id <= N; id++) consensio_participant_free(nodes[id]);
}

/* Drains a lone node into `recs` (bytes kept in `store`). */
static void drain_records(consensio_participant *p, uint8_t store[][64], const uint8_t **recs, size_t *lens,
                          size_t *count, size_t max) {
    struct consensio_output out;
    for (;;) {
        CHECK_OK(consensio_participant_poll(p, &out));
        if (out.kind == CONSENSIO_OUTPUT_NONE) return;
        if (out.kind != CONSENSIO_OUTPUT_PERSIST) continue;
        CHECK(*count < max && out.len <= 64);
        if (*count >= max || out.len > 64) return;
        memcpy(store[*count], out.data, out.len);
        recs[*count] = store[*count];
        lens[(*count)++] = out.len;
    }
}

static void bad_input(void) {
    const uint64_t voters[N] = {1, 2, 3};
    struct consensio_raft_config config;
    struct consensio_kv_limits limits;
    CHECK_OK(consensio_raft_default_config(1, &config));
    CHECK_OK(consensio_kv_default_limits(&limits));
    consensio_participant *kv = NULL, *raft = NULL, *bad = NULL;
    CHECK_FAILS(consensio_kv_default_limits(NULL), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_kv_new(&config, NULL, voters, N, &kv), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_kv_new(NULL, &limits, voters, N, &kv), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_kv_new(&config, &limits, voters, N, NULL), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_kv_new(&config, &limits, voters, 0, &kv), CONSENSIO_INVALID_ARGUMENT);
    CHECK_OK(consensio_kv_new(&config, &limits, voters, N, &kv));
    CHECK_OK(consensio_raft_new(&config, voters, N, &raft));

    /* Handles of the other kind, and NULL handles. */
    uint64_t value = 0, index = 0, term = 0;
    CHECK_FAILS(consensio_kv_put(raft, 0, 1, 1, 1, b("k"), 1, b("v"), 1), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_kv_term(raft, &value), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_raft_propose(kv, 0, b("x"), 1, &index, &term), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_raft_term(kv, &value), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_kv_open_session(NULL, 0, 1), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_kv_get(NULL, 0, 1, b("k"), 1, 0), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_kv_term(kv, NULL), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_kv_put(kv, 0, 1, 1, 1, NULL, 1, b("v"), 1), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_kv_put(kv, 0, 1, 1, 1, b("k"), SIZE_MAX, b("v"), 1), CONSENSIO_BAD_LENGTH);
    size_t len = 0;
    uint8_t found = 0, buf[4];
    CHECK_FAILS(consensio_kv_local_value(kv, b("k"), 1, buf, sizeof buf, NULL, &found), CONSENSIO_NULL_POINTER);
    CHECK_OK(consensio_kv_local_value(kv, b("k"), 1, NULL, 0, &len, &found));
    CHECK(found == 0 && len == 0);

    /* Garbage frames and records. */
    const uint8_t garbage[] = {0xde, 0xad, 0xbe, 0xef};
    CHECK_FAILS(consensio_participant_handle_message(kv, 0, 2, garbage, sizeof garbage), CONSENSIO_MALFORMED);
    const uint8_t truncated[] = {1, 20, 5};
    CHECK_FAILS(consensio_participant_handle_message(kv, 0, 2, truncated, sizeof truncated), CONSENSIO_MALFORMED);
    const uint8_t *recs[1] = {garbage};
    const size_t lens[1] = {sizeof garbage};
    CHECK_FAILS(consensio_kv_restore(&config, &limits, voters, N, recs, lens, 1, &bad), CONSENSIO_MALFORMED);
    CHECK_FAILS(consensio_kv_restore(&config, &limits, voters, N, NULL, lens, 1, &bad), CONSENSIO_NULL_POINTER);
    CHECK(bad == NULL);
    CHECK_OK(consensio_kv_restore(&config, &limits, voters, N, NULL, NULL, 0, &bad));
    consensio_participant_free(bad);

    /* A follower's commands are answered, not refused: one NOT_LEADER
     * reply each, with no leader known yet. */
    reply_count = 0;
    CHECK_OK(consensio_kv_open_session(kv, 0, 7));
    CHECK_OK(consensio_kv_get(kv, 0, 8, b("k"), 1, 1));
    drain(kv, 1);
    const struct reply *r = reply_to(1, 7);
    CHECK(r && r->result == CONSENSIO_KV_NOT_LEADER && r->extra == 0);
    expect(1, 8, CONSENSIO_KV_NOT_LEADER, NULL);

    /* The store snapshots itself: its interval is set, the Raft node's
     * snapshot calls refuse its handle, and its calls a Raft handle. */
    uint64_t interval = 0;
    size_t snap_len = 0;
    uint8_t has = 0;
    CHECK_FAILS(consensio_kv_set_snapshot_interval(raft, 4), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_kv_set_snapshot_interval(NULL, 4), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_kv_snapshot_interval(raft, &interval), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_kv_snapshot_interval(kv, NULL), CONSENSIO_NULL_POINTER);
    CHECK_OK(consensio_kv_set_snapshot_interval(kv, 0)); /* never */
    CHECK_OK(consensio_kv_snapshot_interval(kv, &interval));
    CHECK(interval == 0);
    CHECK_FAILS(consensio_raft_compact(kv, 1, b("x"), 1), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_raft_snapshot(kv, NULL, 0, &snap_len, &index, &term, &has), CONSENSIO_INVALID_ARGUMENT);

    /* A snapshot that is not a store's image: a Raft node's records
     * restore a Raft node, but not a key-value node (MALFORMED). */
    const uint64_t alone[1] = {1};
    uint8_t store[16][64];
    const uint8_t *lone[16];
    size_t lone_lens[16], count = 0;
    consensio_participant *one = NULL;
    CHECK_OK(consensio_raft_new(&config, alone, 1, &one));
    for (int i = 0; i < 3; i++) {
        uint8_t armed = 0;
        uint64_t at = 0;
        CHECK_OK(consensio_participant_next_deadline(one, &armed, &at));
        CHECK_OK(consensio_participant_tick(one, at));
        drain_records(one, store, lone, lone_lens, &count, 16);
    }
    CHECK_OK(consensio_raft_applied_index(one, &index));
    CHECK(index >= 1);
    CHECK_OK(consensio_raft_compact(one, index, b("junk"), 4));
    drain_records(one, store, lone, lone_lens, &count, 16);
    consensio_participant_free(one);
    one = NULL;
    CHECK_OK(consensio_raft_restore(&config, alone, 1, lone, lone_lens, count, &one));
    consensio_participant_free(one);
    one = NULL;
    CHECK_FAILS(consensio_kv_restore(&config, &limits, alone, 1, lone, lone_lens, count, &one), CONSENSIO_MALFORMED);
    CHECK(one == NULL);

    /* The passed-through Raft events keep their numbers. */
    CHECK((int)CONSENSIO_KV_APPLY_SNAPSHOT == (int)CONSENSIO_RAFT_APPLY_SNAPSHOT);
    CHECK((int)CONSENSIO_KV_COMMITTED == (int)CONSENSIO_RAFT_COMMITTED);
    CHECK((int)CONSENSIO_KV_BECAME_FOLLOWER == (int)CONSENSIO_RAFT_BECAME_FOLLOWER);
    CHECK((int)CONSENSIO_KV_LOG_FULL == (int)CONSENSIO_RAFT_LOG_FULL);
    CHECK((int)CONSENSIO_KV_PROPOSAL_DROPPED == (int)CONSENSIO_RAFT_PROPOSAL_DROPPED);

    consensio_participant_free(kv);
    consensio_participant_free(raft);
}

int main(void) {
    cluster();
    snapshots();
    bad_input();
    for (int id = 1; id <= N; id++)
        for (int i = 0; i < records[id]; i++) free(disk[id][i]);
    return report("test_kv");
}
