/* Three Raft nodes in one process: an in-memory network, a record file per
 * node (each record framed with its length and a CRC-32C, fsync'd before
 * anything after it is acted on), and a tiny key-value state machine fed by
 * committed entries. A leader is elected and commits writes while a
 * follower is down; every node snapshots its state machine every few
 * entries, and a snapshot record replaces its whole file (write a new file,
 * fsync it, rename it over the old one, fsync the directory). The follower
 * comes back and catches up by the leader's snapshot; the leader crashes in
 * the middle of a write, the other two go on, and it restarts from its
 * snapshot record and the records after it, dropping the torn tail.
 * Then a fourth node, made outside the voters, joins as a learner, is
 * promoted once it has caught up, and the first leader is removed.
 *
 * Build (after `cargo build -p consensio-ffi`), from the repository root:
 *   gcc -std=c11 -Wall -Wextra -Iffi/include ffi/examples/raft_cluster.c \
 *       target/debug/libconsensio.a -lpthread -ldl -lm -o raft_cluster && ./raft_cluster
 */
#include "host.h"

/* N voters at first, and one spare that joins later. */
enum { N = 3, NODES = 4, KEYS = 8, SNAPSHOT_EVERY = 4 };

/* The network: a growable array of frames. */
struct frame {
    uint8_t *data;
    size_t len;
    uint64_t from, to;
};
struct network {
    struct frame *items;
    size_t count, cap;
};

static void push(struct network *l, const uint8_t *data, size_t len, uint64_t from, uint64_t to) {
    if (l->count == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->items = realloc(l->items, l->cap * sizeof *l->items);
        if (!l->items) exit(1);
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) exit(1);
    if (len) memcpy(copy, data, len);
    l->items[l->count++] = (struct frame){copy, len, from, to};
}

static void clear(struct network *l) {
    for (size_t i = 0; i < l->count; i++) free(l->items[i].data);
    free(l->items);
    *l = (struct network){0};
}

/* The state machine, "k=v" writes; its bytes are its snapshot. */
struct machine {
    char keys[KEYS][16], values[KEYS][16];
};

struct node {
    uint64_t id;
    struct consensio_raft_config config;
    consensio_participant *raft; /* NULL while crashed */
    char path[96];               /* its record file */
    int fd;                      /* open for appending while it runs */
    size_t records;              /* records in the file */
    struct machine sm;
    uint64_t applied, snapshot; /* last index applied; last snapshot's index */
};

static const uint64_t VOTERS[N] = {1, 2, 3};
static struct node nodes[NODES];
static struct network network; /* frames in flight, delivered in order */
static uint64_t now;
static char dir[64];

/* ---- the record file (host.h frames it) -------------------------------- */

static void sync_dir(void) {
    int fd = open(dir, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) die(dir);
    close(fd);
}

/* Makes one record durable. A snapshot record replaces every record
 * before it, so it becomes the whole file, atomically: a crash leaves
 * either the old file or the new one. */
static void persist(struct node *n, const uint8_t *record, size_t len) {
    uint8_t snapshot = 0;
    TRY(consensio_raft_record_is_snapshot(record, len, &snapshot));
    if (!snapshot) {
        write_frame(n->fd, record, len);
        if (fsync(n->fd) != 0) die("fsync");
        n->records++;
        return;
    }
    char tmp[112];
    snprintf(tmp, sizeof tmp, "%s.tmp", n->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die(tmp);
    write_frame(fd, record, len);
    if (fsync(fd) != 0 || close(fd) != 0) die("fsync");
    if (rename(tmp, n->path) != 0) die("rename");
    sync_dir(); /* the rename itself is durable */
    close(n->fd);
    n->fd = open_log(n->path);
    n->records = 1;
}

/* Reads a node's record file back, dropping a torn tail. */
static uint8_t *load(struct node *n, const uint8_t **starts, size_t *lens, size_t max, size_t *count) {
    size_t torn = 0;
    uint8_t *bytes = load_records(n->path, starts, lens, max, count, &torn);
    if (torn > 0)
        printf("  t=%5llu  n%llu drops a torn record of %zu bytes at the end of its file\n",
               (unsigned long long)now, (unsigned long long)n->id, torn);
    return bytes;
}

/* ---- the state machine -------------------------------------------------- */

static void apply(struct node *n, uint64_t index, const uint8_t *data, size_t len) {
    char entry[16];
    n->applied = index;
    if (len == 0) return; /* the empty entry a new leader appends */
    if (len >= sizeof entry) len = sizeof entry - 1;
    memcpy(entry, data, len);
    entry[len] = 0;
    char *eq = strchr(entry, '=');
    if (!eq) return;
    *eq = 0;
    for (int k = 0; k < KEYS; k++) {
        if (n->sm.keys[k][0] == 0 || strcmp(n->sm.keys[k], entry) == 0) {
            snprintf(n->sm.keys[k], sizeof n->sm.keys[k], "%s", entry);
            snprintf(n->sm.values[k], sizeof n->sm.values[k], "%s", eq + 1);
            break;
        }
    }
    printf("  t=%5llu  n%llu applies #%llu: %s=%s\n", (unsigned long long)now, (unsigned long long)n->id,
           (unsigned long long)index, entry, eq + 1);
}

/* Every SNAPSHOT_EVERY applied entries: the state machine's bytes become
 * the snapshot at the applied index, and the log before it goes. REJECTED
 * means the node already holds a later snapshot (a leader's, installed by
 * an input whose APPLY_SNAPSHOT is still to be polled): nothing to do. */
static void maybe_snapshot(struct node *n) {
    if (n->applied - n->snapshot < SNAPSHOT_EVERY) return;
    enum consensio_status s = consensio_raft_compact(n->raft, n->applied, (const uint8_t *)&n->sm, sizeof n->sm);
    if (s == CONSENSIO_REJECTED) return;
    TRY(s);
    n->snapshot = n->applied;
    printf("  t=%5llu  n%llu snapshots its state at #%llu\n", (unsigned long long)now, (unsigned long long)n->id,
           (unsigned long long)n->applied);
}

/* APPLY_SNAPSHOT: the state machine becomes the node's snapshot. */
static void load_snapshot(struct node *n, uint64_t index) {
    size_t len = 0;
    uint64_t at = 0, term = 0;
    uint8_t has = 0;
    TRY(consensio_raft_snapshot(n->raft, (uint8_t *)&n->sm, sizeof n->sm, &len, &at, &term, &has));
    if (!has || at != index || len != sizeof n->sm) exit(1);
    n->applied = n->snapshot = index;
    printf("  t=%5llu  n%llu loads the snapshot at #%llu\n", (unsigned long long)now, (unsigned long long)n->id,
           (unsigned long long)index);
}

/* Drains a node's outputs in order: persist (durable before what follows),
 * send, apply, report. */
static void drain(struct node *n) {
    struct consensio_output out;
    for (;;) {
        TRY(consensio_participant_poll(n->raft, &out));
        switch (out.kind) {
            case CONSENSIO_OUTPUT_NONE:
                return;
            case CONSENSIO_OUTPUT_SEND:
                push(&network, out.data, out.len, n->id, out.peer);
                break;
            case CONSENSIO_OUTPUT_PERSIST:
                persist(n, out.data, out.len);
                break;
            case CONSENSIO_OUTPUT_EVENT:
                if (out.event == CONSENSIO_RAFT_COMMITTED) { /* values: index, term */
                    apply(n, out.values[0], out.data, out.len);
                    maybe_snapshot(n);
                } else if (out.event == CONSENSIO_RAFT_APPLY_SNAPSHOT) { /* values: index, term */
                    load_snapshot(n, out.values[0]);
                } else if (out.event == CONSENSIO_RAFT_MEMBERSHIP_COMMITTED && n->id == NODES) {
                    /* values: index, voters, outgoing, learners; data: their ids */
                    printf("  t=%5llu  n%llu: membership at #%llu committed: %llu voter%s, %llu learner%s\n",
                           (unsigned long long)now, (unsigned long long)n->id, (unsigned long long)out.values[0],
                           (unsigned long long)out.values[1], out.values[1] == 1 ? "" : "s",
                           (unsigned long long)out.values[3], out.values[3] == 1 ? "" : "s");
                } else if (out.event == CONSENSIO_RAFT_BECAME_LEADER) { /* values: term */
                    printf("  t=%5llu  n%llu is the leader of term %llu\n", (unsigned long long)now,
                           (unsigned long long)n->id, (unsigned long long)out.values[0]);
                }
                break;
            default:
                break;
        }
    }
}

static struct node *node(uint64_t id) { return id >= 1 && id <= NODES ? &nodes[id - 1] : NULL; }

/* Runs the cluster for `ms` milliseconds: deliver every frame in flight
 * (to a crashed node it is lost), then move time to the earliest deadline
 * and tick the nodes that are due. */
static void run_for(uint64_t ms) {
    uint64_t until = now + ms;
    for (;;) {
        for (int i = 0; i < NODES; i++)
            if (nodes[i].raft) drain(&nodes[i]);
        if (network.count > 0) {
            struct network in_flight = network;
            network = (struct network){0};
            for (size_t i = 0; i < in_flight.count; i++) {
                struct frame *f = &in_flight.items[i];
                struct node *to = node(f->to);
                if (to && to->raft) TRY(consensio_participant_handle_message(to->raft, now, f->from, f->data, f->len));
            }
            clear(&in_flight);
            continue;
        }
        uint64_t next = UINT64_MAX;
        for (int i = 0; i < NODES; i++) {
            uint8_t has = 0;
            uint64_t at = 0;
            if (!nodes[i].raft) continue;
            TRY(consensio_participant_next_deadline(nodes[i].raft, &has, &at));
            if (has && at < next) next = at;
        }
        if (next > until) {
            now = until;
            return;
        }
        if (next > now) now = next;
        for (int i = 0; i < NODES; i++) {
            uint8_t has = 0;
            uint64_t at = 0;
            if (!nodes[i].raft) continue;
            TRY(consensio_participant_next_deadline(nodes[i].raft, &has, &at));
            if (has && at <= now) TRY(consensio_participant_tick(nodes[i].raft, now));
        }
    }
}

static struct node *leader(void) {
    for (int i = 0; i < NODES; i++) {
        enum consensio_raft_node_role role;
        if (!nodes[i].raft) continue;
        TRY(consensio_raft_role(nodes[i].raft, &role));
        if (role == CONSENSIO_RAFT_LEADER) return &nodes[i];
    }
    return NULL;
}

static void propose(struct node *n, const char *write) {
    uint64_t index, term;
    TRY(consensio_raft_propose(n->raft, now, (const uint8_t *)write, strlen(write), &index, &term));
    printf("  t=%5llu  n%llu proposes %s as #%llu of term %llu\n", (unsigned long long)now,
           (unsigned long long)n->id, write, (unsigned long long)index, (unsigned long long)term);
}

/* The process dies; its memory is lost, its file survives. With `torn`, it
 * dies in the middle of appending a record: half a frame is on disk. */
static void crash(struct node *n, int torn) {
    printf("  t=%5llu  n%llu crashes%s (its file survives: %zu record%s)\n", (unsigned long long)now,
           (unsigned long long)n->id, torn ? " in the middle of a write" : "", n->records, n->records == 1 ? "" : "s");
    if (torn) {
        const uint8_t half[6] = {100, 0, 0, 0, 0xab, 0xcd}; /* a 100-byte record's header, cut short */
        write_all(n->fd, half, sizeof half);
    }
    consensio_participant_free(n->raft);
    n->raft = NULL;
    close(n->fd);
    memset(&n->sm, 0, sizeof n->sm);
    n->applied = n->snapshot = 0;
}

/* The process starts again from its file alone. */
static void restart(struct node *n) {
    enum { MAX_RECORDS = 4096 };
    static const uint8_t *records[MAX_RECORDS];
    static size_t lens[MAX_RECORDS];
    size_t count = 0;
    uint8_t *bytes = load(n, records, lens, MAX_RECORDS, &count);
    uint8_t snapshot = 0;
    if (count > 0) TRY(consensio_raft_record_is_snapshot(records[0], lens[0], &snapshot));
    TRY(consensio_raft_restore(&n->config, VOTERS, N, records, lens, count, &n->raft));
    free(bytes);
    n->fd = open_log(n->path);
    n->records = count;
    printf("  t=%5llu  n%llu restarts from %zu record%s%s\n", (unsigned long long)now, (unsigned long long)n->id,
           count, count == 1 ? "" : "s", snapshot ? ", the first a snapshot" : "");
}

static void show(void) {
    for (int i = 0; i < NODES; i++) {
        uint64_t commit = 0;
        printf("  n%llu:", (unsigned long long)nodes[i].id);
        if (!nodes[i].raft) {
            printf(" (down)\n");
            continue;
        }
        TRY(consensio_raft_commit_index(nodes[i].raft, &commit));
        for (int k = 0; k < KEYS && nodes[i].sm.keys[k][0]; k++)
            printf(" %s=%s", nodes[i].sm.keys[k], nodes[i].sm.values[k]);
        printf("   (commit index %llu, %zu record%s in its file)\n", (unsigned long long)commit, nodes[i].records,
               nodes[i].records == 1 ? "" : "s");
    }
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/raft_cluster.XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (!mkdtemp(dir)) die("mkdtemp");
    printf("libconsensio %s: a three-node Raft cluster, records in %s\n\n== election ==\n", consensio_version(), dir);
    for (int i = 0; i < NODES; i++) {
        struct node *n = &nodes[i];
        n->id = (uint64_t)i + 1; /* n1 to n3 vote; n4 is made outside them */
        snprintf(n->path, sizeof n->path, "%s/n%llu.log", dir, (unsigned long long)n->id);
        n->fd = open_log(n->path);
        TRY(consensio_raft_default_config(n->id, &n->config));
        TRY(consensio_raft_new(&n->config, VOTERS, N, &n->raft));
    }
    run_for(1000);
    struct node *first = leader();
    if (!first) return 1;
    struct node *follower = &nodes[first == &nodes[0] ? 1 : 0];

    printf("\n== writes while a follower is down; every node snapshots every %d entries ==\n", SNAPSHOT_EVERY);
    crash(follower, 0);
    propose(first, "x=1");
    propose(first, "y=2");
    propose(first, "z=3");
    run_for(200);
    show();

    printf("\n== the follower comes back; the leader has compacted what it lacks ==\n");
    restart(follower);
    run_for(500);
    propose(first, "w=4");
    run_for(200);
    show();

    printf("\n== the leader crashes while writing ==\n");
    crash(first, 1);
    run_for(1500);
    struct node *second = leader();
    if (!second || second == first) return 1;
    propose(second, "x=5");
    run_for(200);
    show();

    printf("\n== it comes back: its snapshot, then the records after it ==\n");
    restart(first);
    run_for(500);
    show();

    printf("\n== n4 joins: added as a learner, promoted once it has caught up; n%llu is removed ==\n",
           (unsigned long long)first->id);
    struct node *spare = &nodes[NODES - 1];
    struct node *at = leader();
    if (!at) return 1;
    TRY(consensio_raft_change_membership(at->raft, now, CONSENSIO_RAFT_ADD_LEARNER, spare->id));
    run_for(300);
    /* Promotion waits until the learner holds every committed entry. */
    while (consensio_raft_change_membership(at->raft, now, CONSENSIO_RAFT_PROMOTE, spare->id) == CONSENSIO_REJECTED)
        run_for(50);
    run_for(300);
    at = leader();
    if (!at) return 1;
    TRY(consensio_raft_change_membership(at->raft, now, CONSENSIO_RAFT_REMOVE, first->id));
    run_for(1000);
    at = leader();
    if (!at) return 1;
    propose(at, "y=6");
    run_for(300);
    uint64_t ids[8], voters = 0, outgoing = 0, learners = 0;
    TRY(consensio_raft_membership(spare->raft, ids, 8, &voters, &outgoing, &learners));
    printf("  the voters now:");
    for (uint64_t k = 0; k < voters; k++) printf(" n%llu", (unsigned long long)ids[k]);
    printf("\n");
    show();

    /* The members' state machines agree; the removed node stopped where
     * its removal committed. */
    int agree = voters == N;
    for (uint64_t k = 1; k < voters && k < 8; k++) {
        struct node *a = node(ids[0]), *b = node(ids[k]);
        agree &= a && b && memcmp(&a->sm, &b->sm, sizeof a->sm) == 0;
    }
    for (uint64_t k = 0; k < voters && k < 8; k++) agree &= ids[k] != first->id;
    printf("\nthe members' state machines agree: %s\n", agree ? "yes" : "NO");

    for (int i = 0; i < NODES; i++) {
        consensio_participant_free(nodes[i].raft);
        close(nodes[i].fd);
        unlink(nodes[i].path);
    }
    rmdir(dir);
    clear(&network);
    return agree ? 0 : 1;
}
