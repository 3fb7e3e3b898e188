/* consensio_rpc_*: a client calls a server through frames passed
 * in-process; a lost reply brings a retransmission that is answered from
 * the server's record, not executed again; a server restarted from its
 * byte records never executes a request it had started; a silent server
 * costs the call its deadline, and an open breaker rejects at once; bad
 * input is a status and changes nothing. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

enum { CLIENT = 1, SERVER = 2, MAX_FRAMES = 64, MAX_FRAME = 256, MAX_RECORDS = 64 };

struct frame {
    uint64_t from, to;
    size_t len;
    uint8_t bytes[MAX_FRAME];
};

static struct frame queue[MAX_FRAMES];
static int queued;
static uint8_t *disk[MAX_RECORDS];
static size_t disk_lens[MAX_RECORDS];
static size_t records;
static int checkpoints;

/* The latest EXECUTE and DONE seen. */
static int executions;
static uint64_t exec_client, exec_incarnation, exec_seq, exec_deadline;
static int done;
static uint64_t done_call, done_outcome, done_attempts;
static char done_reply[32];

static void drain(consensio_participant *p, uint64_t id) {
    struct consensio_output out;
    for (;;) {
        CHECK_OK(consensio_participant_poll(p, &out));
        switch (out.kind) {
            case CONSENSIO_OUTPUT_NONE:
                return;
            case CONSENSIO_OUTPUT_SEND:
                CHECK(out.len <= MAX_FRAME && queued < MAX_FRAMES);
                if (out.len <= MAX_FRAME && queued < MAX_FRAMES) {
                    queue[queued] = (struct frame){.from = id, .to = out.peer, .len = out.len};
                    memcpy(queue[queued].bytes, out.data, out.len);
                    queued++;
                }
                break;
            case CONSENSIO_OUTPUT_PERSIST:
                CHECK(out.len > 0);
                if (id == SERVER && records < MAX_RECORDS) {
                    uint8_t is_checkpoint = 2;
                    CHECK_OK(consensio_rpc_record_is_checkpoint(out.data, out.len, &is_checkpoint));
                    checkpoints += is_checkpoint;
                    disk[records] = malloc(out.len);
                    if (disk[records]) memcpy(disk[records], out.data, out.len);
                    disk_lens[records++] = out.len;
                }
                break;
            case CONSENSIO_OUTPUT_EVENT:
                if (out.event == CONSENSIO_RPC_EXECUTE) {
                    CHECK(id == SERVER);
                    executions++;
                    exec_client = out.peer;
                    exec_incarnation = out.values[0];
                    exec_seq = out.values[1];
                    exec_deadline = out.values[2];
                } else if (out.event == CONSENSIO_RPC_DONE) {
                    CHECK(id == CLIENT);
                    done++;
                    done_call = out.values[0];
                    done_outcome = out.values[1];
                    done_attempts = out.values[2];
                    memset(done_reply, 0, sizeof done_reply);
                    if (out.len > 0 && out.len < sizeof done_reply) memcpy(done_reply, out.data, out.len);
                }
                break;
        }
    }
}

/* Delivers every queued frame (dropping replies if asked), draining as it goes. */
static void deliver(consensio_participant *nodes[3], uint64_t now, int drop_replies_to_client) {
    for (int i = 0; i < queued; i++) {
        struct frame *f = &queue[i];
        if (drop_replies_to_client && f->to == CLIENT) continue;
        if (nodes[f->to]) {
            CHECK_OK(consensio_participant_handle_message(nodes[f->to], now, f->from, f->bytes, f->len));
            drain(nodes[f->to], f->to);
        }
    }
    queued = 0;
}

static void tick(consensio_participant *p, uint64_t id, uint64_t now) {
    CHECK_OK(consensio_participant_tick(p, now));
    drain(p, id);
}

static struct consensio_rpc_config config_of(uint64_t id) {
    struct consensio_rpc_config c;
    CHECK_OK(consensio_rpc_default_config(id, &c));
    c.retry.jitter = 0; /* no jitter: exact instants */
    c.retry.max_attempts = 3;
    c.retry.initial_ms = 100;
    c.retry.multiplier = 1.0;
    c.attempt_timeout_ms = 200;
    c.checkpoint_every = 2;
    return c;
}

static const uint64_t members[] = {CLIENT, SERVER};

static consensio_participant *restore_server(void) {
    struct consensio_rpc_config c = config_of(SERVER);
    consensio_participant *p = NULL;
    CHECK_OK(consensio_rpc_restore(&c, members, 2, (const uint8_t *const *)disk, disk_lens, records, &p));
    return p;
}

int main(void) {
    struct consensio_rpc_config cc = config_of(CLIENT), sc = config_of(SERVER);
    consensio_participant *nodes[3] = {NULL, NULL, NULL};
    CHECK_OK(consensio_rpc_new(&cc, members, 2, &nodes[CLIENT]));
    CHECK_OK(consensio_rpc_new(&sc, members, 2, &nodes[SERVER]));

    /* A call, executed once; the reply is lost; the retransmission at
     * 300 ms is answered from the record. */
    CHECK_OK(consensio_rpc_call(nodes[CLIENT], 0, 42, SERVER, (const uint8_t *)"pay", 3, 1000));
    drain(nodes[CLIENT], CLIENT);
    deliver(nodes, 1, 0);
    CHECK(executions == 1 && exec_client == CLIENT && exec_incarnation == 1 && exec_seq == 0);
    CHECK(exec_deadline == 1001); /* 1,000 ms left when it left at 0, arrived at 1 */
    CHECK_OK(consensio_rpc_reply(nodes[SERVER], 2, CLIENT, exec_incarnation, exec_seq, (const uint8_t *)"paid", 4));
    drain(nodes[SERVER], SERVER);
    deliver(nodes, 2, 1);
    CHECK(done == 0);
    uint8_t has = 0;
    uint64_t at = 0;
    CHECK_OK(consensio_participant_next_deadline(nodes[CLIENT], &has, &at));
    CHECK(has && at == 200);
    tick(nodes[CLIENT], CLIENT, 200); /* the attempt failed: back off 100 ms */
    tick(nodes[CLIENT], CLIENT, 300); /* the second attempt */
    deliver(nodes, 300, 0);
    CHECK(executions == 1);
    CHECK(done == 1 && done_call == 42 && done_outcome == CONSENSIO_RPC_REPLY && done_attempts == 2);
    CHECK(strcmp(done_reply, "paid") == 0);
    /* Answering twice is refused and changes nothing. */
    CHECK_FAILS(consensio_rpc_reply(nodes[SERVER], 301, CLIENT, exec_incarnation, exec_seq, (const uint8_t *)"x", 1),
                CONSENSIO_INVALID_ARGUMENT);

    /* A second call, started, then the server crashes: restored from its
     * byte records it never executes the request again, and the call ends
     * at its deadline. */
    CHECK_OK(consensio_rpc_call(nodes[CLIENT], 400, 43, SERVER, (const uint8_t *)"ship", 4, 700));
    drain(nodes[CLIENT], CLIENT);
    deliver(nodes, 401, 0);
    CHECK(executions == 2);
    CHECK(checkpoints >= 1); /* every second server record */
    consensio_participant_free(nodes[SERVER]);
    nodes[SERVER] = restore_server();
    CHECK(nodes[SERVER] != NULL);
    for (uint64_t now = 600; now <= 1100; now += 100) {
        tick(nodes[CLIENT], CLIENT, now);
        deliver(nodes, now, 0);
    }
    CHECK(executions == 2);
    CHECK(done == 2 && done_call == 43 && done_outcome == CONSENSIO_RPC_DEADLINE_EXCEEDED && done_attempts == 3);
    CHECK_FAILS(consensio_rpc_reply(nodes[SERVER], 1100, CLIENT, 1, 1, (const uint8_t *)"x", 1),
                CONSENSIO_INVALID_ARGUMENT); /* abandoned by the restart */
    uint64_t calls = 9, kept = 9;
    CHECK_OK(consensio_rpc_tables(nodes[CLIENT], &calls, &kept));
    CHECK(calls == 0);
    CHECK_OK(consensio_rpc_tables(nodes[SERVER], &calls, &kept));
    CHECK(kept == 1); /* call 42's record went with the watermark; 43's stays */

    /* A breaker per peer: two timeouts open it, and the next call is
     * rejected at once, with nothing sent. */
    struct consensio_rpc_config bc = config_of(CLIENT);
    bc.has_breaker = 1;
    bc.breaker.window_size = 2;
    bc.breaker.minimum_calls = 2;
    consensio_participant *b = NULL;
    CHECK_OK(consensio_rpc_new(&bc, members, 2, &b));
    for (uint64_t call = 1; call <= 2; call++) CHECK_OK(consensio_rpc_call(b, 0, call, SERVER, NULL, 0, 50));
    drain(b, CLIENT);
    tick(b, CLIENT, 50);
    uint32_t state = 9;
    CHECK_OK(consensio_rpc_breaker_state(b, SERVER, &state));
    CHECK(state == CONSENSIO_BREAKER_OPEN);
    queued = 0;
    CHECK_OK(consensio_rpc_call(b, 60, 3, SERVER, NULL, 0, 50));
    drain(b, CLIENT);
    CHECK(queued == 0 && done_call == 3 && done_outcome == CONSENSIO_RPC_REJECTED && done_attempts == 0);
    CHECK_FAILS(consensio_rpc_breaker_state(b, 9, &state), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_rpc_breaker_state(nodes[CLIENT], SERVER, &state), CONSENSIO_INVALID_ARGUMENT);
    consensio_participant_free(b);

    /* Bad input: a status, and nothing changes. */
    uint8_t big[5000] = {0};
    CHECK_FAILS(consensio_rpc_call(nodes[CLIENT], 2000, 1, 9, NULL, 0, 10), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_rpc_call(nodes[CLIENT], 2000, 1, SERVER, big, sizeof big, 10), CONSENSIO_LIMIT_EXCEEDED);
    CHECK_FAILS(consensio_rpc_call(nodes[CLIENT], 2000, 1, SERVER, NULL, 5, 10), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_rpc_call(NULL, 2000, 1, SERVER, NULL, 0, 10), CONSENSIO_NULL_POINTER);
    CHECK_OK(consensio_participant_poll(nodes[CLIENT], &(struct consensio_output){0}));
    CHECK_OK(consensio_rpc_tables(nodes[CLIENT], &calls, &kept));
    CHECK(calls == 0);
    const uint8_t garbage[] = {1, 29, 0xff, 0xff};
    CHECK_FAILS(consensio_participant_handle_message(nodes[SERVER], 2000, CLIENT, garbage, sizeof garbage),
                CONSENSIO_MALFORMED);
    CHECK_FAILS(consensio_participant_handle_message(nodes[SERVER], 2000, CLIENT, garbage, 1), CONSENSIO_MALFORMED);
    CHECK_FAILS(consensio_participant_handle_message(nodes[SERVER], 2000, 9, queue[0].bytes, 0), CONSENSIO_MALFORMED);
    uint8_t huge[70000] = {1, 29};
    CHECK_FAILS(consensio_participant_handle_message(nodes[SERVER], 2000, CLIENT, huge, sizeof huge),
                CONSENSIO_LIMIT_EXCEEDED);
    uint8_t is_checkpoint = 0;
    CHECK_FAILS(consensio_rpc_record_is_checkpoint(garbage, sizeof garbage, &is_checkpoint), CONSENSIO_MALFORMED);
    struct consensio_rpc_config bad = config_of(SERVER);
    bad.attempt_timeout_ms = 0;
    consensio_participant *p = NULL;
    CHECK_FAILS(consensio_rpc_new(&bad, members, 2, &p), CONSENSIO_INVALID_ARGUMENT);
    bad = config_of(SERVER);
    bad.budget_kind = 7;
    CHECK_FAILS(consensio_rpc_new(&bad, members, 2, &p), CONSENSIO_INVALID_ARGUMENT);
    CHECK(p == NULL);
    CHECK_FAILS(consensio_rpc_new(NULL, members, 2, &p), CONSENSIO_NULL_POINTER);
    /* Records no node writes: a reply to a request never started (disk[2]
     * is the server's first Finished, after its incarnation and Started),
     * or a record cut short. */
    uint8_t finished_is_checkpoint = 1;
    CHECK_OK(consensio_rpc_record_is_checkpoint(disk[2], disk_lens[2], &finished_is_checkpoint));
    CHECK(finished_is_checkpoint == 0);
    const uint8_t *orphan[1] = {disk[2]};
    size_t orphan_len[1] = {disk_lens[2]};
    CHECK_FAILS(consensio_rpc_restore(&sc, members, 2, orphan, orphan_len, 1, &p), CONSENSIO_MALFORMED);
    const uint8_t *cut[1] = {disk[1]};
    size_t cut_len[1] = {disk_lens[1] - 1};
    CHECK_FAILS(consensio_rpc_restore(&sc, members, 2, cut, cut_len, 1, &p), CONSENSIO_MALFORMED);
    CHECK(p == NULL);

    for (size_t i = 0; i < records; i++) free(disk[i]);
    consensio_participant_free(nodes[CLIENT]);
    consensio_participant_free(nodes[SERVER]);
    return report("test_rpc");
}
