/* Three Multi-Paxos nodes in one process: an in-memory network, a record
 * file per node (each record framed with its length and a CRC-32C, fsync'd
 * before anything after it is acted on), and a tiny key-value state machine
 * fed by the chosen values, in slot order. A leader is adopted and its
 * writes are chosen while a follower is down; the follower restarts from
 * its file and learns what it missed. Every node snapshots its state
 * machine every few slots, and a snapshot record replaces its whole file
 * (write a new file, fsync it, rename it over the old one, fsync the
 * directory). The leader crashes, another is adopted and goes on, and the
 * old one restarts from its snapshot record and the records after it. At
 * the end the three state machines are equal.
 *
 * Build (after `cargo build -p consensio-ffi`), from the repository root:
 *   gcc -std=c11 -Wall -Wextra -Iffi/include ffi/examples/paxos_cluster.c \
 *       target/debug/libconsensio.a -lpthread -ldl -lm -o paxos_cluster && ./paxos_cluster
 */
#include "host.h"

enum { N = 3, KEYS = 8, SNAPSHOT_EVERY = 6, MAX_RECORDS = 4096 };

struct frame {
    uint8_t *data;
    size_t len;
    uint64_t from, to;
};
static struct frame network[4096]; /* frames in flight, delivered in order */
static size_t in_flight;

/* The state machine, "k=v" writes; its bytes are its snapshot. */
struct machine {
    char keys[KEYS][16], values[KEYS][16];
};

struct node {
    uint64_t id;
    struct consensio_paxos_config config;
    consensio_participant *paxos; /* NULL while crashed */
    char path[96];                /* its record file */
    int fd;                       /* open for appending while it runs */
    struct machine sm;
    uint64_t applied, snapshot; /* last slot applied; last snapshot's slot */
};

static const uint64_t MEMBERS[N] = {1, 2, 3};
static struct node nodes[N];
static uint64_t now;
static char dir[64];

static void sync_dir(void) {
    int fd = open(dir, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) die(dir);
    close(fd);
}

/* Makes one record durable. A snapshot record replaces every record before
 * it, so it becomes the whole file, atomically. */
static void persist(struct node *n, const uint8_t *record, size_t len) {
    uint8_t snapshot = 0;
    TRY(consensio_paxos_record_is_snapshot(record, len, &snapshot));
    if (!snapshot) {
        write_frame(n->fd, record, len);
        if (fsync(n->fd) != 0) die("fsync");
        return;
    }
    char tmp[112];
    snprintf(tmp, sizeof tmp, "%s.tmp", n->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die(tmp);
    write_frame(fd, record, len);
    if (fsync(fd) != 0 || close(fd) != 0) die("fsync");
    if (rename(tmp, n->path) != 0) die("rename");
    sync_dir();
    close(n->fd);
    n->fd = open_log(n->path);
}

static void apply(struct node *n, uint64_t slot, const uint8_t *data, size_t len) {
    char entry[16];
    n->applied = slot;
    if (len == 0) return; /* a no-op: a gap a new leader filled */
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
    printf("  t=%5llu  n%llu applies slot %llu: %s=%s\n", (unsigned long long)now, (unsigned long long)n->id,
           (unsigned long long)slot, entry, eq + 1);
}

/* Every SNAPSHOT_EVERY applied slots, the state machine's bytes go to the
 * node, which writes them in a snapshot record. */
static void maybe_snapshot(struct node *n) {
    if (n->applied - n->snapshot < SNAPSHOT_EVERY) return;
    TRY(consensio_paxos_compact(n->paxos, now, n->applied, (const uint8_t *)&n->sm, sizeof n->sm));
    n->snapshot = n->applied;
    printf("  t=%5llu  n%llu snapshots its state through slot %llu\n", (unsigned long long)now,
           (unsigned long long)n->id, (unsigned long long)n->applied);
}

/* Acts on every output of a node, in order. */
static void drain(struct node *n) {
    struct consensio_output out;
    for (;;) {
        TRY(consensio_participant_poll(n->paxos, &out));
        if (out.kind == CONSENSIO_OUTPUT_NONE) break;
        if (out.kind == CONSENSIO_OUTPUT_PERSIST) persist(n, out.data, out.len);
        if (out.kind == CONSENSIO_OUTPUT_SEND) {
            if (in_flight == sizeof network / sizeof network[0]) die("network full");
            uint8_t *copy = malloc(out.len ? out.len : 1);
            if (!copy) die("malloc");
            memcpy(copy, out.data, out.len);
            network[in_flight++] = (struct frame){copy, out.len, n->id, out.peer};
        }
        if (out.kind != CONSENSIO_OUTPUT_EVENT) continue;
        if (out.event == CONSENSIO_PAXOS_CHOSEN) apply(n, out.values[0], out.data, out.len);
        if (out.event == CONSENSIO_PAXOS_ADOPTED)
            printf("  t=%5llu  n%llu leads (ballot %llu.%llu)\n", (unsigned long long)now, (unsigned long long)n->id,
                   (unsigned long long)out.values[0], (unsigned long long)out.peer);
        if (out.event == CONSENSIO_PAXOS_SNAPSHOT) {
            /* A restart from a snapshot record: the state machine is its bytes. */
            size_t len = 0;
            uint64_t upto = 0;
            uint8_t has = 0;
            TRY(consensio_paxos_snapshot(n->paxos, (uint8_t *)&n->sm, sizeof n->sm, &len, &upto, &has));
            if (!has || len != sizeof n->sm) die("snapshot");
            n->applied = n->snapshot = upto;
            printf("  t=%5llu  n%llu loads its snapshot through slot %llu\n", (unsigned long long)now,
                   (unsigned long long)n->id, (unsigned long long)upto);
        }
    }
    maybe_snapshot(n);
}

/* Delivers frames and ticks the live nodes until `until`. */
static void run(uint64_t until) {
    for (;;) {
        for (int busy = 1; busy;) {
            busy = 0;
            for (int i = 0; i < N; i++)
                if (nodes[i].paxos) drain(&nodes[i]);
            if (in_flight > 0) {
                struct frame f = network[0];
                memmove(network, network + 1, --in_flight * sizeof network[0]);
                struct node *to = &nodes[f.to - 1];
                if (to->paxos) TRY(consensio_participant_handle_message(to->paxos, now, f.from, f.data, f.len));
                free(f.data);
                busy = 1;
            }
        }
        uint64_t next = UINT64_MAX, at = 0;
        uint8_t has = 0;
        for (int i = 0; i < N; i++) {
            if (!nodes[i].paxos) continue;
            TRY(consensio_participant_next_deadline(nodes[i].paxos, &has, &at));
            if (has && at < next) next = at;
        }
        if (next > until) break;
        if (next > now) now = next;
        for (int i = 0; i < N; i++)
            if (nodes[i].paxos) TRY(consensio_participant_tick(nodes[i].paxos, now));
    }
    now = until > now ? until : now;
}

/* Starts node i from its record file (empty for a new node). */
static void start(int i) {
    struct node *n = &nodes[i];
    const uint8_t *starts[MAX_RECORDS];
    size_t lens[MAX_RECORDS], count = 0, torn = 0;
    uint8_t *bytes = load_records(n->path, starts, lens, MAX_RECORDS, &count, &torn);
    memset(&n->sm, 0, sizeof n->sm);
    n->applied = n->snapshot = 0;
    TRY(consensio_paxos_restore(&n->config, MEMBERS, N, starts, lens, count, &n->paxos));
    free(bytes);
    n->fd = open_log(n->path);
    printf("  t=%5llu  n%llu starts from %zu records\n", (unsigned long long)now, (unsigned long long)n->id, count);
}

static void crash(int i) {
    consensio_participant_free(nodes[i].paxos);
    nodes[i].paxos = NULL;
    close(nodes[i].fd);
    printf("  t=%5llu  n%llu crashes\n", (unsigned long long)now, (unsigned long long)nodes[i].id);
}

static int leader(void) {
    for (int i = 0; i < N; i++) {
        consensio_paxos_node_role role;
        if (nodes[i].paxos && consensio_paxos_role(nodes[i].paxos, &role) == CONSENSIO_OK &&
            role == CONSENSIO_PAXOS_LEADER)
            return i;
    }
    die("no leader");
    return -1;
}

static void write_key(const char *kv) {
    int l = leader();
    TRY(consensio_paxos_propose(nodes[l].paxos, now, (const uint8_t *)kv, strlen(kv)));
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/consensio-paxos-XXXXXX");
    if (!mkdtemp(dir)) die("mkdtemp");
    for (int i = 0; i < N; i++) {
        struct node *n = &nodes[i];
        n->id = MEMBERS[i];
        TRY(consensio_paxos_default_config(n->id, &n->config));
        snprintf(n->path, sizeof n->path, "%s/n%llu.log", dir, (unsigned long long)n->id);
        close(open_log(n->path));
        start(i);
    }
    run(1000);
    write_key("a=1");
    write_key("b=2");
    run(1200);

    printf("-- a follower goes down; the others go on\n");
    int down = (leader() + 1) % N;
    crash(down);
    for (int i = 0; i < 10; i++) {
        char kv[16];
        snprintf(kv, sizeof kv, "k%d=%d", i % 4, i);
        write_key(kv);
        run(now + 20);
    }
    run(now + 500);
    printf("-- it restarts from its file and learns what it missed\n");
    start(down);
    run(now + 1000);

    printf("-- the leader crashes; another is adopted\n");
    int old = leader();
    crash(old);
    run(now + 1000);
    write_key("c=3");
    run(now + 300);
    printf("-- the old leader restarts from its snapshot record and the records after it\n");
    start(old);
    run(now + 1000);

    int failed = 0;
    for (int i = 1; i < N; i++)
        if (memcmp(&nodes[i].sm, &nodes[0].sm, sizeof nodes[0].sm) != 0 || nodes[i].applied != nodes[0].applied)
            failed = 1;
    printf("%s: every node applied through slot %llu\n", failed ? "FAILED" : "ok",
           (unsigned long long)nodes[0].applied);
    for (int i = 0; i < N; i++) {
        consensio_participant_free(nodes[i].paxos);
        close(nodes[i].fd);
        unlink(nodes[i].path);
    }
    rmdir(dir);
    for (size_t i = 0; i < in_flight; i++) free(network[i].data);
    return failed;
}
