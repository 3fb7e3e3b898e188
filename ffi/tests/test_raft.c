/* consensio_raft_*: three Raft nodes exchange bytes in-process, elect a
 * leader and commit proposals in the same order everywhere; a follower
 * restarted from its persisted records catches up; reads are answered; bad
 * input is rejected with a status. Snapshots: a leader compacts, a follower
 * that was down catches up by its snapshot, and a node restarts from a
 * snapshot record and the records after it (the records before it are
 * deleted, as a host compacts its file). */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

enum { N = 3, MAX_FRAMES = 1024, MAX_FRAME = 1024, MAX_RECORDS = 512, MAX_APPLIED = 64, MAX_STATE = 256 };

struct frame {
    uint64_t from, to;
    size_t len;
    uint8_t bytes[MAX_FRAME];
};

struct applied {
    uint64_t index, term;
    size_t len;
    char data[16];
};

static struct frame queue[MAX_FRAMES];
static int queued;
/* What each node asked to persist, in order: its "disk". */
static uint8_t *disk[N + 1][MAX_RECORDS];
static size_t disk_len[N + 1][MAX_RECORDS];
static int records[N + 1];
/* What each node reported as committed, in order. */
static struct applied applied[N + 1][MAX_APPLIED];
static int applied_count[N + 1];
static uint64_t reads_ready[N + 1], reads_failed[N + 1], elected_term[N + 1];
/* Each node's state machine: its non-empty payloads joined with ',', the
 * last index applied to it (by COMMITTED or APPLY_SNAPSHOT), and the
 * snapshots it loaded. Its snapshots are this state. */
static char state[N + 1][MAX_STATE];
static size_t state_len[N + 1];
static uint64_t last_applied[N + 1], snapshots_loaded[N + 1];
/* Frames from or to node `cut` are lost (0: none). */
static uint64_t cut;
/* The last PROPOSAL_DROPPED of each node: index, term, and the term
 * committed at that index just before it. */
static uint64_t dropped_index[N + 1], dropped_term[N + 1], dropped_after[N + 1];
/* The last MEMBERSHIP_COMMITTED of each node: its counts, and its ids. */
static uint64_t members_committed[N + 1][4], member_ids[N + 1][8];

/* The record just persisted: a snapshot record replaces every record
 * before it, so the "disk" keeps it alone. */
static void persist(uint64_t id, const uint8_t *data, size_t len) {
    uint8_t snapshot = 9;
    CHECK_OK(consensio_raft_record_is_snapshot(data, len, &snapshot));
    CHECK(snapshot == 0 || snapshot == 1);
    if (snapshot == 1) {
        for (int i = 0; i < records[id]; i++) free(disk[id][i]);
        records[id] = 0;
    }
    CHECK(records[id] < MAX_RECORDS);
    if (records[id] < MAX_RECORDS) {
        disk[id][records[id]] = malloc(len);
        memcpy(disk[id][records[id]], data, len);
        disk_len[id][records[id]] = len;
        records[id]++;
    }
}

/* APPLY_SNAPSHOT at `index` of `term`: the state becomes the snapshot's. */
static void load_snapshot(consensio_participant *r, uint64_t id, uint64_t index, uint64_t term) {
    size_t len = 0;
    uint64_t at = 0, of = 0;
    uint8_t has = 0;
    CHECK(index > last_applied[id]);
    CHECK_OK(consensio_raft_snapshot(r, (uint8_t *)state[id], sizeof state[id], &len, &at, &of, &has));
    CHECK(has == 1 && at == index && of == term && len <= sizeof state[id]);
    state_len[id] = len;
    last_applied[id] = index;
    snapshots_loaded[id]++;
}

static void apply(uint64_t id, const struct consensio_output *out) {
    /* Every index once, in order, from the one after the last snapshot. */
    CHECK(out->values[0] == last_applied[id] + 1);
    last_applied[id] = out->values[0];
    if (out->len == 0) return;
    CHECK(state_len[id] + out->len + 1 <= sizeof state[id]);
    if (state_len[id] + out->len + 1 > sizeof state[id]) return;
    if (state_len[id] > 0) state[id][state_len[id]++] = ',';
    memcpy(state[id] + state_len[id], out->data, out->len);
    state_len[id] += out->len;
}

/* Node `id`'s state machine is `expected`. */
static int state_is(uint64_t id, const char *expected) {
    return state_len[id] == strlen(expected) && memcmp(state[id], expected, state_len[id]) == 0;
}

static void drain(consensio_participant *r, uint64_t id) {
    struct consensio_output out;
    for (;;) {
        CHECK_OK(consensio_participant_poll(r, &out));
        switch (out.kind) {
            case CONSENSIO_OUTPUT_NONE:
                return;
            case CONSENSIO_OUTPUT_SEND:
                CHECK(out.len <= MAX_FRAME && queued < MAX_FRAMES);
                if (queued < MAX_FRAMES && out.len <= MAX_FRAME) {
                    queue[queued].from = id;
                    queue[queued].to = out.peer;
                    queue[queued].len = out.len;
                    memcpy(queue[queued].bytes, out.data, out.len);
                    queued++;
                }
                break;
            case CONSENSIO_OUTPUT_PERSIST:
                /* Durable before anything after it: here, copied at once. */
                CHECK(out.len > 0);
                persist(id, out.data, out.len);
                break;
            case CONSENSIO_OUTPUT_EVENT:
                switch (out.event) {
                    case CONSENSIO_RAFT_COMMITTED: {
                        apply(id, &out);
                        CHECK(out.len <= sizeof applied[0][0].data);
                        CHECK((out.len == 0) == (out.data == NULL));
                        dropped_after[id] = out.values[1];
                        if (applied_count[id] < MAX_APPLIED && out.len <= sizeof applied[0][0].data) {
                            struct applied *a = &applied[id][applied_count[id]++];
                            a->index = out.values[0];
                            a->term = out.values[1];
                            a->len = out.len;
                            if (out.len > 0) memcpy(a->data, out.data, out.len);
                        }
                        break;
                    }
                    case CONSENSIO_RAFT_READ_READY:
                        reads_ready[id] = out.values[0];
                        break;
                    case CONSENSIO_RAFT_READ_FAILED:
                        reads_failed[id] = out.values[0];
                        break;
                    case CONSENSIO_RAFT_BECAME_LEADER:
                        elected_term[id] = out.values[0];
                        break;
                    case CONSENSIO_RAFT_BECAME_FOLLOWER:
                        CHECK(out.values[1] == 0 || out.peer != id);
                        break;
                    case CONSENSIO_RAFT_APPLY_SNAPSHOT:
                        load_snapshot(r, id, out.values[0], out.values[1]);
                        break;
                    case CONSENSIO_RAFT_MEMBERSHIP_COMMITTED: {
                        /* After an empty COMMITTED of the same index. */
                        CHECK(out.values[0] == last_applied[id]);
                        uint64_t n = out.values[1] + out.values[2] + out.values[3];
                        CHECK(out.len == n * 8 && n <= 8);
                        memcpy(members_committed[id], out.values, sizeof members_committed[id]);
                        if (n <= 8 && out.len == n * 8) memcpy(member_ids[id], out.data, out.len);
                        break;
                    }
                    case CONSENSIO_RAFT_PROPOSAL_DROPPED:
                        /* Right after another term's entry at its index. */
                        CHECK(out.values[0] == last_applied[id] && out.values[1] != dropped_after[id]);
                        dropped_index[id] = out.values[0];
                        dropped_term[id] = out.values[1];
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

/* Runs the nodes (NULL entries are crashed) until `until`: every frame is
 * delivered at once, in order; then time jumps to the earliest deadline. */
static void run(consensio_participant *nodes[N + 1], uint64_t *now, uint64_t until) {
    for (int round = 0; round < 100000; round++) {
        for (uint64_t id = 1; id <= N; id++)
            if (nodes[id]) drain(nodes[id], id);
        if (queued > 0) {
            struct frame f = queue[0];
            memmove(queue, queue + 1, (size_t)(queued - 1) * sizeof queue[0]);
            queued--;
            if (nodes[f.to] && f.from != cut && f.to != cut)
                CHECK_OK(consensio_participant_handle_message(nodes[f.to], *now, f.from, f.bytes, f.len));
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

/* The one leader all live nodes agree on, or 0. */
static uint64_t agreed_leader(consensio_participant *nodes[N + 1]) {
    uint64_t leader = 0, term = 0;
    for (uint64_t id = 1; id <= N; id++) {
        uint8_t has = 0;
        uint64_t l = 0, t = 0;
        if (!nodes[id]) continue;
        CHECK_OK(consensio_raft_leader(nodes[id], &has, &l));
        CHECK_OK(consensio_raft_term(nodes[id], &t));
        if (!has || (leader != 0 && (l != leader || t != term))) return 0;
        leader = l;
        term = t;
    }
    return leader;
}

/* Node `id` reported exactly what node `ref` reported. */
static int same_applied(uint64_t id, uint64_t ref) {
    if (applied_count[id] != applied_count[ref]) return 0;
    for (int i = 0; i < applied_count[id]; i++) {
        const struct applied *a = &applied[id][i], *b = &applied[ref][i];
        if (a->index != b->index || a->term != b->term || a->len != b->len || memcmp(a->data, b->data, a->len) != 0)
            return 0;
    }
    return 1;
}

/* The non-empty payloads node `id` applied, joined with ',' into `buf`. */
static const char *payloads(uint64_t id, char *buf, size_t cap) {
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < applied_count[id]; i++) {
        const struct applied *a = &applied[id][i];
        if (a->len == 0 || at + a->len + 2 > cap) continue;
        if (at > 0) buf[at++] = ',';
        memcpy(buf + at, a->data, a->len);
        at += a->len;
        buf[at] = 0;
    }
    return buf;
}

static void propose(consensio_participant *leader, uint64_t now, const char *text, uint64_t expected_index) {
    uint64_t index = 0, term = 0, current = 0;
    CHECK_OK(consensio_raft_propose(leader, now, (const uint8_t *)text, strlen(text), &index, &term));
    CHECK_OK(consensio_raft_term(leader, &current));
    CHECK(index == expected_index && term == current);
}

static consensio_participant *restore(const struct consensio_raft_config *config, const uint64_t *voters, uint64_t id) {
    const uint8_t *recs[MAX_RECORDS];
    size_t lens[MAX_RECORDS];
    for (int i = 0; i < records[id]; i++) {
        recs[i] = disk[id][i];
        lens[i] = disk_len[id][i];
    }
    consensio_participant *r = NULL;
    CHECK_OK(consensio_raft_restore(config, voters, N, recs, lens, (size_t)records[id], &r));
    return r;
}

/* Nodes 1 to N with the default configuration, but for snapshots of at
 * most `max_snapshot_bytes` (0: the default). */
static void start(const uint64_t *voters, struct consensio_raft_config config[N + 1],
                  consensio_participant *nodes[N + 1], uint64_t max_snapshot_bytes) {
    for (uint64_t id = 1; id <= N; id++) {
        CHECK_OK(consensio_raft_default_config(id, &config[id]));
        if (max_snapshot_bytes) config[id].max_snapshot_bytes = max_snapshot_bytes;
        CHECK_OK(consensio_raft_new(&config[id], voters, N, &nodes[id]));
    }
}

static void cluster(void) {
    const uint64_t voters[N] = {1, 2, 3};
    struct consensio_raft_config config[N + 1];
    consensio_participant *nodes[N + 1] = {NULL};
    uint64_t now = 0;
    start(voters, config, nodes, 0);
    for (uint64_t id = 1; id <= N; id++) {
        CHECK(config[id].id == id && config[id].seed == id && config[id].pre_vote == 1 && config[id].check_quorum == 1);
        CHECK(config[id].election_timeout_min_ms == 150 && config[id].heartbeat_interval_ms == 50);
        CHECK(config[id].max_entries_per_message == 64 && config[id].max_bytes_per_message == 256 * 1024);
        CHECK(config[id].max_snapshot_bytes == 64 * 1024 * 1024);
        enum consensio_raft_node_role role = CONSENSIO_RAFT_LEADER;
        CHECK_OK(consensio_raft_role(nodes[id], &role));
        CHECK(role == CONSENSIO_RAFT_FOLLOWER);
    }

    /* An election. */
    run(nodes, &now, 2000);
    uint64_t leader = agreed_leader(nodes);
    CHECK(leader >= 1 && leader <= N);
    if (leader == 0) return;
    CHECK(elected_term[leader] >= 1);
    for (uint64_t id = 1; id <= N; id++) {
        enum consensio_raft_node_role role;
        CHECK_OK(consensio_raft_role(nodes[id], &role));
        CHECK(role == (id == leader ? CONSENSIO_RAFT_LEADER : CONSENSIO_RAFT_FOLLOWER));
        CHECK(records[id] > 0); /* at least the term and vote */
    }

    /* Proposals commit everywhere in one order (index 1 is the leader's
     * empty entry). */
    propose(nodes[leader], now, "x=1", 2);
    propose(nodes[leader], now, "y=2", 3);
    propose(nodes[leader], now, "x=3", 4);
    run(nodes, &now, now + 500);
    char buf[256];
    for (uint64_t id = 1; id <= N; id++) {
        uint64_t commit = 0, applied_index = 0, last = 0;
        CHECK_OK(consensio_raft_commit_index(nodes[id], &commit));
        CHECK_OK(consensio_raft_applied_index(nodes[id], &applied_index));
        CHECK_OK(consensio_raft_last_index(nodes[id], &last));
        CHECK(commit == 4 && applied_index == 4 && last == 4);
        CHECK(strcmp(payloads(id, buf, sizeof buf), "x=1,y=2,x=3") == 0);
        CHECK(same_applied(id, leader));
    }
    CHECK(applied[leader][0].index == 1 && applied[leader][0].len == 0);

    /* A follower cannot propose; its reads go by the leader's read index
     * (thesis 6.4.1), and the leader's own are answered too. */
    uint64_t follower = leader % N + 1, other = follower % N + 1;
    uint64_t index = 99, term = 99;
    CHECK_FAILS(consensio_raft_propose(nodes[follower], now, (const uint8_t *)"z", 1, &index, &term), CONSENSIO_REJECTED);
    CHECK(index == 99 && term == 99);
    CHECK_OK(consensio_raft_read(nodes[follower], now, 40));
    CHECK_OK(consensio_raft_read(nodes[leader], now, 41));
    run(nodes, &now, now + 100);
    CHECK(reads_ready[follower] == 40);
    CHECK(reads_ready[leader] == 41);
    CHECK_OK(consensio_raft_lease_read(nodes[leader], now, 42));
    drain(nodes[leader], leader);
    CHECK(reads_ready[leader] == 42); /* within the lease: at once */

    /* A duplicated frame changes nothing. */
    CHECK_OK(consensio_raft_propose(nodes[leader], now, (const uint8_t *)"dup", 3, &index, &term));
    drain(nodes[leader], leader);
    CHECK(queued > 0);
    if (queued > 0) {
        struct frame f = queue[0];
        run(nodes, &now, now + 100);
        CHECK_OK(consensio_participant_handle_message(nodes[f.to], now, f.from, f.bytes, f.len));
        run(nodes, &now, now + 100);
    }
    CHECK(same_applied(follower, leader) && same_applied(other, leader));

    /* A follower crashes; the others go on committing without it. */
    consensio_participant_free(nodes[follower]);
    nodes[follower] = NULL;
    uint64_t last = 0;
    CHECK_OK(consensio_raft_last_index(nodes[leader], &last));
    propose(nodes[leader], now, "while-down", last + 1);
    run(nodes, &now, now + 1000);
    CHECK(strcmp(payloads(other, buf, sizeof buf), "x=1,y=2,x=3,dup,while-down") == 0);

    /* It restarts from its records alone, reports its log again from index
     * 1, and catches up. */
    applied_count[follower] = 0;
    last_applied[follower] = state_len[follower] = 0;
    nodes[follower] = restore(&config[follower], voters, follower);
    CHECK(nodes[follower] != NULL);
    if (!nodes[follower]) return;
    uint64_t leader_term = 0, commit = 99;
    CHECK_OK(consensio_raft_term(nodes[follower], &term));
    CHECK_OK(consensio_raft_term(nodes[leader], &leader_term));
    CHECK_OK(consensio_raft_commit_index(nodes[follower], &commit));
    CHECK(term == leader_term && commit == 0);
    run(nodes, &now, now + 1000);
    /* The leader, heard by a quorum, holds its lease; a follower never. */
    uint8_t holds = 0;
    CHECK_OK(consensio_raft_lease_holds(nodes[leader], &holds));
    CHECK(holds == 1);
    CHECK_OK(consensio_raft_lease_holds(nodes[follower], &holds));
    CHECK(holds == 0);
    CHECK(consensio_raft_lease_holds(NULL, &holds) == CONSENSIO_NULL_POINTER);
    for (uint64_t id = 1; id <= N; id++) {
        CHECK(strcmp(payloads(id, buf, sizeof buf), "x=1,y=2,x=3,dup,while-down") == 0);
        CHECK(same_applied(id, leader));
    }

    /* The leader crashes; the other two elect a new one, which commits. */
    consensio_participant_free(nodes[leader]);
    nodes[leader] = NULL;
    run(nodes, &now, now + 3000);
    uint64_t second = agreed_leader(nodes);
    CHECK(second != 0 && second != leader);
    if (second != 0) {
        CHECK(elected_term[second] > leader_term);
        CHECK_OK(consensio_raft_last_index(nodes[second], &last));
        propose(nodes[second], now, "after", last + 1);
        run(nodes, &now, now + 500);
        CHECK(strcmp(payloads(follower, buf, sizeof buf), "x=1,y=2,x=3,dup,while-down,after") == 0);
        CHECK(same_applied(follower, other));

        /* The new leader hands leadership to the other live node; proposals
         * are refused until it has. */
        uint64_t target = second == follower ? other : follower;
        CHECK_FAILS(consensio_raft_transfer_leadership(nodes[second], now, 9), CONSENSIO_INVALID_ARGUMENT);
        CHECK_FAILS(consensio_raft_transfer_leadership(nodes[target], now, second), CONSENSIO_REJECTED);
        CHECK_OK(consensio_raft_transfer_leadership(nodes[second], now, target));
        uint8_t has = 0;
        uint64_t to = 0;
        CHECK_OK(consensio_raft_transferring_to(nodes[second], &has, &to));
        CHECK(has == 1 && to == target);
        CHECK_FAILS(consensio_raft_propose(nodes[second], now, (const uint8_t *)"no", 2, &index, &term), CONSENSIO_REJECTED);
        run(nodes, &now, now + 100);
        CHECK(agreed_leader(nodes) == target);
        CHECK_OK(consensio_raft_transferring_to(nodes[second], &has, &to));
        CHECK(has == 0);
    }
    for (uint64_t id = 1; id <= N; id++) consensio_participant_free(nodes[id]);
}

/* Frees the disks and forgets what every node did, for a new cluster. */
static void reset(void) {
    for (int id = 1; id <= N; id++) {
        for (int i = 0; i < records[id]; i++) free(disk[id][i]);
        records[id] = applied_count[id] = 0;
        state_len[id] = last_applied[id] = snapshots_loaded[id] = 0;
        reads_ready[id] = reads_failed[id] = elected_term[id] = 0;
        dropped_index[id] = dropped_term[id] = dropped_after[id] = 0;
        memset(members_committed[id], 0, sizeof members_committed[id]);
    }
    queued = 0;
    cut = 0;
}

/* A cluster of voters 1 and 2 takes node 3, made from the same voters
 * outside them, as a learner, then promotes it; bad changes are refused. */
static void membership(void) {
    reset();
    const uint64_t voters[2] = {1, 2};
    struct consensio_raft_config config[N + 1];
    consensio_participant *nodes[N + 1] = {NULL};
    uint64_t now = 0;
    for (uint64_t id = 1; id <= N; id++) {
        CHECK_OK(consensio_raft_default_config(id, &config[id]));
        CHECK_OK(consensio_raft_new(&config[id], voters, 2, &nodes[id]));
    }
    run(nodes, &now, 2000);
    uint64_t leader = 0;
    for (uint64_t id = 1; id <= 2; id++) {
        enum consensio_raft_node_role role;
        CHECK_OK(consensio_raft_role(nodes[id], &role));
        if (role == CONSENSIO_RAFT_LEADER) leader = id;
    }
    enum consensio_raft_node_role role;
    CHECK_OK(consensio_raft_role(nodes[3], &role));
    CHECK(leader != 0 && role == CONSENSIO_RAFT_FOLLOWER && elected_term[3] == 0);
    if (leader == 0) goto out;
    uint64_t ids[8], v = 9, o = 9, l = 9;

    /* Promoting a non-member, an unknown change, a follower: refused. */
    CHECK_FAILS(consensio_raft_change_membership(nodes[leader], now, CONSENSIO_RAFT_PROMOTE, 3),
                CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_raft_change_membership(nodes[leader], now, 77, 3), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_raft_change_membership(nodes[3 - leader], now, CONSENSIO_RAFT_ADD_LEARNER, 3),
                CONSENSIO_REJECTED);
    CHECK_FAILS(consensio_raft_change_membership(NULL, now, CONSENSIO_RAFT_ADD_LEARNER, 3), CONSENSIO_NULL_POINTER);

    CHECK_OK(consensio_raft_change_membership(nodes[leader], now, CONSENSIO_RAFT_ADD_LEARNER, 3));
    run(nodes, &now, now + 500);
    CHECK_OK(consensio_raft_membership(nodes[3], ids, 8, &v, &o, &l));
    CHECK(v == 2 && o == 0 && l == 1 && ids[0] == 1 && ids[1] == 2 && ids[2] == 3);
    CHECK(members_committed[3][1] == 2 && members_committed[3][3] == 1 && member_ids[3][2] == 3);
    CHECK_OK(consensio_raft_change_membership(nodes[leader], now, CONSENSIO_RAFT_PROMOTE, 3));
    run(nodes, &now, now + 500);
    CHECK_OK(consensio_raft_membership(nodes[3], ids, 8, &v, &o, &l));
    CHECK(v == 3 && o == 0 && l == 0 && ids[2] == 3);
    CHECK(members_committed[1][1] == 3 && members_committed[2][1] == 3 && members_committed[3][1] == 3);
    CHECK_FAILS(consensio_raft_membership(nodes[3], ids, 2, &v, &o, &l), CONSENSIO_BUFFER_TOO_SMALL);
    CHECK(v == 3);
    CHECK_FAILS(consensio_raft_membership(nodes[3], ids, 8, NULL, &o, &l), CONSENSIO_NULL_POINTER);

    /* A joint change back to voters 1 and 2, with 3 a learner. */
    const uint64_t back[2] = {1, 2}, learner[1] = {3};
    CHECK_OK(consensio_raft_change_membership_joint(nodes[leader], now, back, 2, learner, 1));
    CHECK_OK(consensio_raft_membership(nodes[leader], ids, 8, &v, &o, &l));
    CHECK(v == 2 && o == 3 && l == 1);
    run(nodes, &now, now + 500);
    CHECK_OK(consensio_raft_membership(nodes[3], ids, 8, &v, &o, &l));
    CHECK(v == 2 && o == 0 && l == 1 && ids[2] == 3);
    CHECK_FAILS(consensio_raft_change_membership_joint(nodes[leader], now, NULL, 1, NULL, 0), CONSENSIO_NULL_POINTER);
out:
    for (uint64_t id = 1; id <= N; id++) consensio_participant_free(nodes[id]);
}

/* A leader cut off from the others takes a proposal that never leaves it;
 * the others elect a new leader, whose entries take that index; once the
 * link is back, the old leader reports the proposal dropped. */
static void dropped_proposal(void) {
    reset();
    const uint64_t voters[N] = {1, 2, 3};
    struct consensio_raft_config config[N + 1];
    consensio_participant *nodes[N + 1] = {NULL};
    uint64_t now = 0;
    start(voters, config, nodes, 0);
    run(nodes, &now, 2000);
    uint64_t old = agreed_leader(nodes);
    CHECK(old != 0);
    if (old == 0) goto out;
    uint64_t index = 0, term = 0;
    CHECK_OK(consensio_raft_propose(nodes[old], now, (const uint8_t *)"lost", 4, &index, &term));
    cut = old;
    run(nodes, &now, now + 2000);
    uint64_t leader = 0;
    for (uint64_t id = 1; id <= N; id++) {
        enum consensio_raft_node_role role;
        CHECK_OK(consensio_raft_role(nodes[id], &role));
        if (id != old && role == CONSENSIO_RAFT_LEADER) leader = id;
    }
    CHECK(leader != 0);
    if (leader == 0) goto out;
    uint64_t i2 = 0, t2 = 0;
    CHECK_OK(consensio_raft_propose(nodes[leader], now, (const uint8_t *)"kept", 4, &i2, &t2));
    run(nodes, &now, now + 500);
    CHECK(dropped_index[old] == 0);
    cut = 0;
    run(nodes, &now, now + 1000);
    CHECK(dropped_index[old] == index && dropped_term[old] == term);
    CHECK(dropped_index[leader] == 0);
out:
    for (uint64_t id = 1; id <= N; id++) consensio_participant_free(nodes[id]);
}

/* Node `id`'s first record is a snapshot record. */
static int starts_with_snapshot(uint64_t id) {
    uint8_t snapshot = 0;
    if (records[id] == 0) return 0;
    CHECK_OK(consensio_raft_record_is_snapshot(disk[id][0], disk_len[id][0], &snapshot));
    return snapshot == 1;
}

static void snapshots(void) {
    reset();
    const uint64_t voters[N] = {1, 2, 3};
    struct consensio_raft_config config[N + 1];
    consensio_participant *nodes[N + 1] = {NULL};
    uint64_t now = 0;
    start(voters, config, nodes, MAX_STATE);
    run(nodes, &now, 2000);
    uint64_t leader = agreed_leader(nodes);
    CHECK(leader != 0);
    if (leader == 0) goto out;
    uint64_t follower = leader % N + 1, other = follower % N + 1;

    /* A follower goes down; the others commit without it (index 1 is the
     * leader's empty entry). */
    consensio_participant_free(nodes[follower]);
    nodes[follower] = NULL;
    propose(nodes[leader], now, "a", 2);
    propose(nodes[leader], now, "b", 3);
    propose(nodes[leader], now, "c", 4);
    run(nodes, &now, now + 500);
    CHECK(state_is(leader, "a,b,c") && last_applied[leader] == 4);

    /* Refused snapshots change nothing: beyond the applied index, over
     * max_snapshot_bytes, NULL data. */
    consensio_participant *l = nodes[leader];
    const uint8_t *image = (const uint8_t *)state[leader];
    static const uint8_t big[MAX_STATE + 1];
    int kept = records[leader];
    uint64_t last = 0, applied_index = 0, term = 0, at = 0, of = 0;
    size_t len = 99;
    uint8_t has = 9;
    CHECK_FAILS(consensio_raft_compact(l, 5, image, state_len[leader]), CONSENSIO_REJECTED);
    CHECK_FAILS(consensio_raft_compact(l, 4, big, sizeof big), CONSENSIO_LIMIT_EXCEEDED);
    CHECK_FAILS(consensio_raft_compact(l, 4, NULL, 3), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_raft_compact(NULL, 4, image, state_len[leader]), CONSENSIO_NULL_POINTER);
    struct consensio_output out;
    CHECK_OK(consensio_participant_poll(l, &out));
    CHECK(out.kind == CONSENSIO_OUTPUT_NONE && records[leader] == kept);
    CHECK_OK(consensio_raft_last_index(l, &last));
    CHECK(last == 4);
    CHECK_OK(consensio_raft_snapshot(l, NULL, 0, &len, &at, &of, &has));
    CHECK(has == 0 && len == 0);

    /* The leader snapshots its state at its applied index; the snapshot
     * record replaces every record on its disk. */
    CHECK_OK(consensio_raft_compact(l, 4, image, state_len[leader]));
    drain(l, leader);
    CHECK(records[leader] == 1 && starts_with_snapshot(leader));
    CHECK_OK(consensio_raft_last_index(l, &last));
    CHECK_OK(consensio_raft_applied_index(l, &applied_index));
    CHECK(last == 4 && applied_index == 4);
    CHECK_FAILS(consensio_raft_compact(l, 4, image, state_len[leader]), CONSENSIO_REJECTED); /* not past it */
    CHECK_FAILS(consensio_raft_compact(l, 3, image, state_len[leader]), CONSENSIO_REJECTED);

    /* Its bytes: a size query, a short buffer, then the copy. */
    char copy[8];
    len = 0;
    has = 9;
    CHECK_FAILS(consensio_raft_snapshot(l, NULL, 0, &len, &at, &of, &has), CONSENSIO_BUFFER_TOO_SMALL);
    CHECK(len == 5 && has == 9);
    CHECK_FAILS(consensio_raft_snapshot(l, (uint8_t *)copy, 4, &len, &at, &of, &has), CONSENSIO_BUFFER_TOO_SMALL);
    CHECK(len == 5 && has == 9);
    CHECK_OK(consensio_raft_snapshot(l, (uint8_t *)copy, sizeof copy, &len, &at, &of, &has));
    CHECK_OK(consensio_raft_term(l, &term));
    CHECK(has == 1 && len == 5 && memcmp(copy, "a,b,c", 5) == 0 && at == 4 && of == term);
    CHECK_FAILS(consensio_raft_snapshot(l, (uint8_t *)copy, sizeof copy, NULL, &at, &of, &has), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_raft_snapshot(l, (uint8_t *)copy, sizeof copy, &len, &at, &of, NULL), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_raft_snapshot(NULL, (uint8_t *)copy, sizeof copy, &len, &at, &of, &has),
                CONSENSIO_NULL_POINTER);

    /* An entry after the snapshot, recorded after the snapshot record. */
    propose(nodes[leader], now, "d", 5);
    run(nodes, &now, now + 200);
    CHECK(records[leader] >= 2 && starts_with_snapshot(leader));

    /* The follower comes back with its old log; the leader no longer holds
     * the entries it lacks and sends its snapshot, which it loads. */
    last_applied[follower] = state_len[follower] = 0;
    nodes[follower] = restore(&config[follower], voters, follower);
    if (!nodes[follower]) goto out;
    run(nodes, &now, now + 1000);
    CHECK(snapshots_loaded[follower] == 1 && state_is(follower, "a,b,c,d") && last_applied[follower] == 5);
    CHECK(starts_with_snapshot(follower));
    CHECK(snapshots_loaded[other] == 0 && state_is(other, "a,b,c,d"));

    /* The leader restarts from its snapshot record and the records after
     * it: it reports APPLY_SNAPSHOT first, then the entries after it. */
    consensio_participant_free(nodes[leader]);
    nodes[leader] = NULL;
    last_applied[leader] = state_len[leader] = 0;
    snapshots_loaded[leader] = 0;
    nodes[leader] = restore(&config[leader], voters, leader);
    if (!nodes[leader]) goto out;
    CHECK_OK(consensio_raft_applied_index(nodes[leader], &applied_index));
    CHECK(applied_index == 4);
    CHECK_OK(consensio_participant_poll(nodes[leader], &out));
    CHECK(out.kind == CONSENSIO_OUTPUT_EVENT && out.event == CONSENSIO_RAFT_APPLY_SNAPSHOT && out.values[0] == 4 &&
          out.values[1] == term);
    load_snapshot(nodes[leader], leader, out.values[0], out.values[1]);
    CHECK(state_is(leader, "a,b,c"));
    run(nodes, &now, now + 2000);
    for (uint64_t id = 1; id <= N; id++) CHECK(state_is(id, "a,b,c,d"));
out:
    for (uint64_t id = 1; id <= N; id++) consensio_participant_free(nodes[id]);
}

static void bad_input(void) {
    const uint64_t voters[N] = {1, 2, 3};
    struct consensio_raft_config config;
    CHECK_OK(consensio_raft_default_config(1, &config));
    consensio_participant *r = NULL;
    CHECK_OK(consensio_raft_new(&config, voters, N, &r));

    /* Bytes that are not a Raft message. */
    const uint8_t garbage[] = {0xde, 0xad, 0xbe, 0xef};
    CHECK_FAILS(consensio_participant_handle_message(r, 0, 2, garbage, sizeof garbage), CONSENSIO_MALFORMED);
    const uint8_t truncated[] = {1, 20, 5};
    CHECK_FAILS(consensio_participant_handle_message(r, 0, 2, truncated, sizeof truncated), CONSENSIO_MALFORMED);
    const uint8_t unknown_body[] = {1, 20, 1, 42};
    CHECK_FAILS(consensio_participant_handle_message(r, 0, 2, unknown_body, sizeof unknown_body), CONSENSIO_MALFORMED);
    const uint8_t wrong_kind[] = {1, 17, 0, 0};
    CHECK_FAILS(consensio_participant_handle_message(r, 0, 2, wrong_kind, sizeof wrong_kind), CONSENSIO_MALFORMED);
    CHECK_FAILS(consensio_participant_handle_message(r, 0, 2, garbage, 0), CONSENSIO_MALFORMED);
    CHECK_FAILS(consensio_participant_handle_message(r, 0, 2, NULL, 3), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_participant_handle_message(r, 0, 2, garbage, SIZE_MAX), CONSENSIO_BAD_LENGTH);
    CHECK_FAILS(consensio_participant_handle_message(NULL, 0, 2, garbage, sizeof garbage), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_participant_tick(NULL, 0), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_participant_poll(r, NULL), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_raft_term(r, NULL), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_raft_default_config(1, NULL), CONSENSIO_NULL_POINTER);
    uint64_t index = 0, term = 0;
    CHECK_FAILS(consensio_raft_propose(r, 0, NULL, 1, &index, &term), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_raft_propose(r, 0, garbage, 1, NULL, &term), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_raft_propose(r, 0, garbage, 1, &index, NULL), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_raft_propose(r, 0, garbage, 1, &index, &term), CONSENSIO_REJECTED);

    /* The largest frame a node sends follows the per-message bounds. */
    size_t frame = 0;
    CHECK_OK(consensio_raft_max_frame_len(r, &frame));
    CHECK(frame > 256 * 1024 && frame < 300 * 1024);
    CHECK_FAILS(consensio_raft_max_frame_len(r, NULL), CONSENSIO_NULL_POINTER);
    consensio_participant *small = NULL;
    struct consensio_raft_config s = config;
    s.max_entries_per_message = 4;
    s.max_bytes_per_message = 1000;
    s.max_entry_bytes = 1000;
    CHECK_OK(consensio_raft_new(&s, voters, N, &small));
    CHECK_OK(consensio_raft_max_frame_len(small, &frame));
    /* The entries' bytes, and a membership's (up to about 2 KB). */
    CHECK(frame >= 3000 && frame < 3200);
    consensio_participant_free(small);
    small = NULL;
    s.max_entry_bytes = 1001; /* a proposal must fit in one message */
    CHECK_FAILS(consensio_raft_new(&s, voters, N, &small), CONSENSIO_INVALID_ARGUMENT);
    s = config;
    s.max_entries_per_message = 0;
    CHECK_FAILS(consensio_raft_new(&s, voters, N, &small), CONSENSIO_INVALID_ARGUMENT);
    CHECK(small == NULL);

    /* A success clears the last error. */
    CHECK_FAILS(consensio_raft_term(r, NULL), CONSENSIO_NULL_POINTER);
    CHECK(consensio_last_error(NULL, 0) > 0);
    CHECK_OK(consensio_raft_term(r, &term));
    CHECK(consensio_last_error(NULL, 0) == 0);

    /* Time going backwards is refused with INVALID_ARGUMENT and changes
     * nothing: not the deadline, not the next tick's outcome. */
    uint8_t has = 0;
    uint64_t deadline = 0, again = 0;
    /* A HeartbeatResponse of term 0, round 0: [version, kind, term, body 8, round]. */
    const uint8_t first_frame[] = {1, 20, 0, 8, 0};
    CHECK_OK(consensio_participant_handle_message(r, 0, 2, first_frame, sizeof first_frame));
    CHECK_OK(consensio_participant_tick(r, 100));
    struct consensio_output drained;
    do CHECK_OK(consensio_participant_poll(r, &drained));
    while (drained.kind != CONSENSIO_OUTPUT_NONE);
    CHECK_OK(consensio_participant_next_deadline(r, &has, &deadline));
    CHECK_FAILS(consensio_participant_tick(r, 99), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_participant_handle_message(r, 50, 2, first_frame, sizeof first_frame),
                CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_raft_read(r, 0, 1), CONSENSIO_INVALID_ARGUMENT);
    CHECK_OK(consensio_participant_poll(r, &drained));
    CHECK(drained.kind == CONSENSIO_OUTPUT_NONE);
    CHECK_OK(consensio_participant_next_deadline(r, &has, &again));
    CHECK(again == deadline);
    CHECK_OK(consensio_participant_tick(r, 100)); /* the same time again is fine */
    do CHECK_OK(consensio_participant_poll(r, &drained));
    while (drained.kind != CONSENSIO_OUTPUT_NONE);

    /* Unusable configurations and voter lists. */
    consensio_participant *bad = NULL;
    /* A node outside the voters is one joining a running cluster: it
     * never campaigns until a membership change adds and promotes it. */
    const uint64_t without_self[2] = {2, 3};
    CHECK_OK(consensio_raft_new(&config, without_self, 2, &bad));
    CHECK_OK(consensio_participant_tick(bad, 0));
    CHECK_OK(consensio_participant_tick(bad, 100000));
    enum consensio_raft_node_role joined = CONSENSIO_RAFT_LEADER;
    CHECK_OK(consensio_raft_role(bad, &joined));
    CHECK(joined == CONSENSIO_RAFT_FOLLOWER);
    do CHECK_OK(consensio_participant_poll(bad, &drained));
    while (drained.kind != CONSENSIO_OUTPUT_NONE && drained.kind != CONSENSIO_OUTPUT_SEND);
    CHECK(drained.kind == CONSENSIO_OUTPUT_NONE);
    consensio_participant_free(bad);
    bad = NULL;
    CHECK_FAILS(consensio_raft_new(&config, voters, 0, &bad), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_raft_new(&config, voters, 100000, &bad), CONSENSIO_LIMIT_EXCEEDED);
    CHECK_FAILS(consensio_raft_new(&config, NULL, 3, &bad), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_raft_new(NULL, voters, N, &bad), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_raft_new(&config, voters, N, NULL), CONSENSIO_NULL_POINTER);
    struct consensio_raft_config c = config;
    c.heartbeat_interval_ms = c.election_timeout_min_ms;
    CHECK_FAILS(consensio_raft_new(&c, voters, N, &bad), CONSENSIO_INVALID_ARGUMENT);
    c = config;
    c.election_timeout_max_ms = c.election_timeout_min_ms;
    CHECK_FAILS(consensio_raft_new(&c, voters, N, &bad), CONSENSIO_INVALID_ARGUMENT);
    c = config;
    c.log_max_entries = 0;
    CHECK_FAILS(consensio_raft_new(&c, voters, N, &bad), CONSENSIO_INVALID_ARGUMENT);
    CHECK(bad == NULL);

    /* Records that are not records, or that leave a gap. */
    const uint8_t *recs[2] = {garbage, truncated};
    const size_t lens[2] = {sizeof garbage, sizeof truncated};
    CHECK_FAILS(consensio_raft_restore(&config, voters, N, recs, lens, 2, &bad), CONSENSIO_MALFORMED);
    CHECK_FAILS(consensio_raft_restore(&config, voters, N, NULL, lens, 2, &bad), CONSENSIO_NULL_POINTER);
    const uint8_t *null_rec[1] = {NULL};
    CHECK_FAILS(consensio_raft_restore(&config, voters, N, null_rec, lens, 1, &bad), CONSENSIO_NULL_POINTER);
    /* Entries from index 2 on, with nothing at index 1: [version, kind,
     * Entries, first_index 2, one entry of term 1, kind normal, with
     * payload "a"]. */
    const uint8_t gap[] = {1, 21, 1, 2, 1, 1, 0, 1, 'a'};
    const uint8_t *gap_rec[1] = {gap};
    const size_t gap_len[1] = {sizeof gap};
    CHECK_FAILS(consensio_raft_restore(&config, voters, N, gap_rec, gap_len, 1, &bad), CONSENSIO_INVALID_ARGUMENT);
    /* The same record from index 1 is fine after the term it was written
     * in ([version, kind, HardState, term 1, no vote]); without that term
     * no node could have written it. No record at all is fine too. */
    const uint8_t first[] = {1, 21, 1, 1, 1, 1, 0, 1, 'a'};
    const uint8_t term1[] = {1, 21, 0, 1, 0};
    const uint8_t *alone_rec[1] = {first};
    CHECK_FAILS(consensio_raft_restore(&config, voters, N, alone_rec, gap_len, 1, &bad), CONSENSIO_INVALID_ARGUMENT);
    /* A node's records begin with its identity ([version, kind, Identity,
     * cluster 0, node 1]); another node's or cluster's are refused. */
    const uint8_t me[] = {1, 21, 3, 0, 1};
    const uint8_t *first_rec[3] = {me, term1, first};
    const size_t first_len[3] = {sizeof me, sizeof term1, sizeof first};
    CHECK_FAILS(consensio_raft_restore(&config, voters, N, first_rec + 1, first_len + 1, 2, &bad), CONSENSIO_INVALID_ARGUMENT);
    struct consensio_raft_config other = config;
    other.cluster = 5;
    CHECK_FAILS(consensio_raft_restore(&other, voters, N, first_rec, first_len, 3, &bad), CONSENSIO_VERIFICATION_FAILED);
    other = config;
    other.id = 2;
    CHECK_FAILS(consensio_raft_restore(&other, voters, N, first_rec, first_len, 3, &bad), CONSENSIO_VERIFICATION_FAILED);
    CHECK(bad == NULL);
    CHECK_OK(consensio_raft_restore(&config, voters, N, first_rec, first_len, 3, &bad));
    uint64_t last = 0;
    CHECK_OK(consensio_raft_last_index(bad, &last));
    CHECK(last == 1);
    consensio_participant_free(bad);
    bad = NULL;
    CHECK_OK(consensio_raft_restore(&config, voters, N, NULL, NULL, 0, &bad));
    consensio_participant_free(bad);

    /* Whether a record is a snapshot record: records only. */
    uint8_t snapshot = 9;
    CHECK_OK(consensio_raft_record_is_snapshot(term1, sizeof term1, &snapshot));
    CHECK(snapshot == 0);
    CHECK_FAILS(consensio_raft_record_is_snapshot(garbage, sizeof garbage, &snapshot), CONSENSIO_MALFORMED);
    CHECK_FAILS(consensio_raft_record_is_snapshot(first_frame, sizeof first_frame, &snapshot), CONSENSIO_MALFORMED);
    CHECK_FAILS(consensio_raft_record_is_snapshot(NULL, 3, &snapshot), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_raft_record_is_snapshot(term1, sizeof term1, NULL), CONSENSIO_NULL_POINTER);
    CHECK(snapshot == 0);
    /* No snapshot on a new node, and none it could take yet. */
    size_t len = 0;
    uint64_t at = 0, of = 0;
    CHECK_OK(consensio_raft_snapshot(r, NULL, 0, &len, &at, &of, &has));
    CHECK(has == 0 && len == 0);
    CHECK_FAILS(consensio_raft_compact(r, 1, term1, sizeof term1), CONSENSIO_REJECTED);
    CHECK_FAILS(consensio_raft_compact(r, 0, term1, sizeof term1), CONSENSIO_REJECTED);
    consensio_participant_free(r);

    /* A lone voter leads by itself: commits at once, refuses oversized
     * proposals, and has no lease reads without check-quorum. */
    const uint64_t alone[1] = {1};
    c = config;
    c.check_quorum = 0;
    c.max_entry_bytes = 4;
    CHECK_OK(consensio_raft_new(&c, alone, 1, &r));
    uint64_t now = 0;
    enum consensio_raft_node_role role = CONSENSIO_RAFT_FOLLOWER;
    for (int i = 0; i < 10 && role != CONSENSIO_RAFT_LEADER; i++) {
        uint8_t has = 0;
        CHECK_OK(consensio_participant_next_deadline(r, &has, &now));
        CHECK(has == 1);
        CHECK_OK(consensio_participant_tick(r, now));
        struct consensio_output out;
        do CHECK_OK(consensio_participant_poll(r, &out));
        while (out.kind != CONSENSIO_OUTPUT_NONE);
        CHECK_OK(consensio_raft_role(r, &role));
    }
    CHECK(role == CONSENSIO_RAFT_LEADER);
    CHECK_FAILS(consensio_raft_propose(r, now, (const uint8_t *)"too big", 7, &index, &term),
                CONSENSIO_LIMIT_EXCEEDED);
    CHECK_OK(consensio_raft_propose(r, now, (const uint8_t *)"ok", 2, &index, &term));
    uint64_t commit = 0;
    CHECK_OK(consensio_raft_commit_index(r, &commit));
    CHECK(commit == index);
    CHECK_FAILS(consensio_raft_lease_read(r, now, 1), CONSENSIO_REJECTED);
    consensio_participant_free(r);
    consensio_participant_free(NULL);
}

int main(void) {
    cluster();
    snapshots();
    dropped_proposal();
    membership();
    bad_input();
    for (int id = 1; id <= N; id++)
        for (int i = 0; i < records[id]; i++) free(disk[id][i]);
    return report("test_raft");
}
