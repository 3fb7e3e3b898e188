/* Three Raft nodes in one process: an in-memory network, a "disk" per node
 * (an array of persisted records), and a tiny key-value state machine fed by
 * committed entries. A leader is elected, commits writes, crashes; the other
 * two elect a new leader and go on; the old leader restarts from its disk
 * alone and catches up.
 *
 * Build (after `cargo build -p consensio-ffi`), from the repository root:
 *   gcc -std=c11 -Wall -Wextra -Iffi/include ffi/examples/raft_cluster.c \
 *       target/debug/libconsensio.a -lpthread -ldl -lm -o raft_cluster && ./raft_cluster
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensio.h"

#define TRY(call)                                                          \
    do {                                                                   \
        enum consensio_status s_ = (call);                                 \
        if (s_ != CONSENSIO_OK) {                                          \
            char why_[256];                                                \
            consensio_last_error(why_, sizeof why_);                       \
            fprintf(stderr, "%s failed (%d): %s\n", #call, (int)s_, why_); \
            exit(1);                                                       \
        }                                                                  \
    } while (0)

enum { N = 3, KEYS = 8 };

/* A growable array of byte strings: the network's frames, a node's disk. */
struct bytes {
    uint8_t *data;
    size_t len;
    uint64_t from, to; /* frames only */
};
struct list {
    struct bytes *items;
    size_t count, cap;
};

static void push(struct list *l, const uint8_t *data, size_t len, uint64_t from, uint64_t to) {
    if (l->count == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->items = realloc(l->items, l->cap * sizeof *l->items);
        if (!l->items) exit(1);
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) exit(1);
    if (len) memcpy(copy, data, len);
    l->items[l->count++] = (struct bytes){copy, len, from, to};
}

static void clear(struct list *l) {
    for (size_t i = 0; i < l->count; i++) free(l->items[i].data);
    free(l->items);
    *l = (struct list){0};
}

struct node {
    uint64_t id;
    struct consensio_raft_config config;
    consensio_participant *raft; /* NULL while crashed */
    struct list disk;     /* every record it asked to persist, in order */
    char keys[KEYS][16], values[KEYS][16]; /* the state machine: "k=v" writes */
};

static const uint64_t VOTERS[N] = {1, 2, 3};
static struct node nodes[N];
static struct list network; /* frames in flight, delivered in order */
static uint64_t now;

static void apply(struct node *n, uint64_t index, const uint8_t *data, size_t len) {
    char entry[16];
    if (len == 0) return; /* the empty entry a new leader appends */
    if (len >= sizeof entry) len = sizeof entry - 1;
    memcpy(entry, data, len);
    entry[len] = 0;
    char *eq = strchr(entry, '=');
    if (!eq) return;
    *eq = 0;
    for (int k = 0; k < KEYS; k++) {
        if (n->keys[k][0] == 0 || strcmp(n->keys[k], entry) == 0) {
            snprintf(n->keys[k], sizeof n->keys[k], "%s", entry);
            snprintf(n->values[k], sizeof n->values[k], "%s", eq + 1);
            break;
        }
    }
    printf("  t=%5llu  n%llu applies #%llu: %s=%s\n", (unsigned long long)now, (unsigned long long)n->id,
           (unsigned long long)index, entry, eq + 1);
}

/* Drains a node's outputs: persist first (here: append to its disk array),
 * then send, apply and report, in the order they come. */
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
                push(&n->disk, out.data, out.len, 0, 0); /* a real node would fsync here */
                break;
            case CONSENSIO_OUTPUT_EVENT:
                if (out.event == CONSENSIO_RAFT_COMMITTED) /* values: index, term */
                    apply(n, out.values[0], out.data, out.len);
                else if (out.event == CONSENSIO_RAFT_BECAME_LEADER) /* values: term */
                    printf("  t=%5llu  n%llu is the leader of term %llu\n", (unsigned long long)now,
                           (unsigned long long)n->id, (unsigned long long)out.values[0]);
                break;
            default:
                break;
        }
    }
}

static struct node *node(uint64_t id) { return id >= 1 && id <= N ? &nodes[id - 1] : NULL; }

/* Runs the cluster for `ms` milliseconds: deliver every frame in flight
 * (to a crashed node it is lost), then move time to the earliest deadline
 * and tick the nodes that are due. */
static void run_for(uint64_t ms) {
    uint64_t until = now + ms;
    for (;;) {
        for (int i = 0; i < N; i++)
            if (nodes[i].raft) drain(&nodes[i]);
        if (network.count > 0) {
            struct list in_flight = network;
            network = (struct list){0};
            for (size_t i = 0; i < in_flight.count; i++) {
                struct bytes *f = &in_flight.items[i];
                struct node *to = node(f->to);
                if (to && to->raft) TRY(consensio_participant_handle_message(to->raft, now, f->from, f->data, f->len));
            }
            clear(&in_flight);
            continue;
        }
        uint64_t next = UINT64_MAX;
        for (int i = 0; i < N; i++) {
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
        for (int i = 0; i < N; i++) {
            uint8_t has = 0;
            uint64_t at = 0;
            if (!nodes[i].raft) continue;
            TRY(consensio_participant_next_deadline(nodes[i].raft, &has, &at));
            if (has && at <= now) TRY(consensio_participant_tick(nodes[i].raft, now));
        }
    }
}

static struct node *leader(void) {
    for (int i = 0; i < N; i++) {
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

static void crash(struct node *n) {
    printf("  t=%5llu  n%llu crashes (its disk survives: %zu records)\n", (unsigned long long)now,
           (unsigned long long)n->id, n->disk.count);
    consensio_participant_free(n->raft);
    n->raft = NULL;
    memset(n->keys, 0, sizeof n->keys); /* memory is lost */
    memset(n->values, 0, sizeof n->values);
}

static void restart(struct node *n) {
    const uint8_t **records = malloc((n->disk.count + 1) * sizeof *records);
    size_t *lens = malloc((n->disk.count + 1) * sizeof *lens);
    if (!records || !lens) exit(1);
    for (size_t i = 0; i < n->disk.count; i++) {
        records[i] = n->disk.items[i].data;
        lens[i] = n->disk.items[i].len;
    }
    TRY(consensio_raft_restore(&n->config, VOTERS, N, records, lens, n->disk.count, &n->raft));
    free(records);
    free(lens);
    uint64_t term;
    TRY(consensio_raft_term(n->raft, &term));
    printf("  t=%5llu  n%llu restarts from %zu records (term %llu) and replays the log\n",
           (unsigned long long)now, (unsigned long long)n->id, n->disk.count, (unsigned long long)term);
}

static void show(void) {
    for (int i = 0; i < N; i++) {
        uint64_t commit = 0;
        printf("  n%llu:", (unsigned long long)nodes[i].id);
        if (!nodes[i].raft) {
            printf(" (down)\n");
            continue;
        }
        TRY(consensio_raft_commit_index(nodes[i].raft, &commit));
        for (int k = 0; k < KEYS && nodes[i].keys[k][0]; k++) printf(" %s=%s", nodes[i].keys[k], nodes[i].values[k]);
        printf("   (commit index %llu)\n", (unsigned long long)commit);
    }
}

int main(void) {
    printf("libconsensio %s: a three-node Raft cluster\n\n== election ==\n", consensio_version());
    for (int i = 0; i < N; i++) {
        nodes[i].id = VOTERS[i];
        TRY(consensio_raft_default_config(nodes[i].id, &nodes[i].config));
        TRY(consensio_raft_new(&nodes[i].config, VOTERS, N, &nodes[i].raft));
    }
    run_for(1000);
    struct node *first = leader();
    if (!first) return 1;

    printf("\n== writes ==\n");
    propose(first, "x=1");
    propose(first, "y=2");
    run_for(200);
    show();

    printf("\n== the leader crashes ==\n");
    crash(first);
    run_for(1500);
    struct node *second = leader();
    if (!second || second == first) return 1;
    propose(second, "x=3");
    run_for(200);
    show();

    printf("\n== it comes back ==\n");
    restart(first);
    run_for(500);
    show();

    int agree = 1;
    for (int i = 1; i < N; i++)
        agree &= memcmp(nodes[i].keys, nodes[0].keys, sizeof nodes[0].keys) == 0 &&
                 memcmp(nodes[i].values, nodes[0].values, sizeof nodes[0].values) == 0;
    printf("\nall three state machines agree: %s\n", agree ? "yes" : "NO");

    for (int i = 0; i < N; i++) {
        consensio_participant_free(nodes[i].raft);
        clear(&nodes[i].disk);
    }
    clear(&network);
    return agree ? 0 : 1;
}
