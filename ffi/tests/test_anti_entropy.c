/* consensio_anti_entropy_*: two replicas in one process find the keys they
 * differ on; garbage bytes, NULLs and bad commands are rejected. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

enum { MAX_FRAMES = 64, MAX_FRAME = 8192 };

struct frame {
    uint64_t from, to;
    size_t len;
    uint8_t bytes[MAX_FRAME];
};

static struct frame network[MAX_FRAMES];
static int queued;
static int differences, completes, failures;

static void drain(consensio_participant *node, uint64_t id) {
    struct consensio_output out;
    for (;;) {
        CHECK_OK(consensio_participant_poll(node, &out));
        if (out.kind == CONSENSIO_OUTPUT_NONE) return;
        switch (out.kind) {
            case CONSENSIO_OUTPUT_SEND:
                CHECK(queued < MAX_FRAMES && out.len <= MAX_FRAME && out.data != NULL);
                network[queued].from = id;
                network[queued].to = out.peer;
                network[queued].len = out.len;
                memcpy(network[queued].bytes, out.data, out.len);
                queued++;
                break;
            case CONSENSIO_OUTPUT_EVENT:
                switch (out.event) {
                    case CONSENSIO_AE_DIFFERENCE:
                        differences++;
                        /* Keys "k0".."k9" are shared; "only-b" exists on b alone. */
                        CHECK(out.len == 6 && memcmp(out.data, "only-b", 6) == 0);
                        CHECK(out.values[0] == 0 && out.values[1] == 1);
                        CHECK(out.aux_len == 64 && out.aux[0] == 0 && out.aux[32] == 0xbb);
                        break;
                    case CONSENSIO_AE_SYNC_COMPLETE:
                        completes++;
                        CHECK(out.values[1] == 1 && out.values[0] == 1);
                        break;
                    case CONSENSIO_AE_SYNC_FAILED:
                        failures++;
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

int main(void) {
    struct consensio_anti_entropy_config config;
    consensio_participant *a = NULL, *b = NULL;
    CHECK_OK(consensio_anti_entropy_default_config(1, &config));
    config.depth = 6;
    CHECK_OK(consensio_anti_entropy_new(&config, &a));
    config.id = 2;
    CHECK_OK(consensio_anti_entropy_new(&config, &b));

    uint8_t version[32];
    memset(version, 0xaa, sizeof version);
    char key[3] = {'k', '0', 0};
    for (int i = 0; i < 10; i++) {
        key[1] = (char)('0' + i);
        CHECK_OK(consensio_anti_entropy_update(a, 0, (const uint8_t *)key, 2, version));
        CHECK_OK(consensio_anti_entropy_update(b, 0, (const uint8_t *)key, 2, version));
    }
    uint8_t root_a[32], root_b[32];
    CHECK_OK(consensio_anti_entropy_root(a, root_a));
    CHECK_OK(consensio_anti_entropy_root(b, root_b));
    CHECK(memcmp(root_a, root_b, 32) == 0);
    memset(version, 0xbb, sizeof version);
    CHECK_OK(consensio_anti_entropy_update(b, 0, (const uint8_t *)"only-b", 6, version));

    CHECK_OK(consensio_anti_entropy_start_sync(a, 10, 2));
    uint8_t has = 0;
    uint64_t deadline = 0;
    CHECK_OK(consensio_participant_next_deadline(a, &has, &deadline));
    CHECK(has == 1 && deadline == 210);
    CHECK_FAILS(consensio_anti_entropy_start_sync(a, 10, 2), CONSENSIO_REJECTED);
    CHECK_FAILS(consensio_anti_entropy_start_sync(a, 10, 1), CONSENSIO_INVALID_ARGUMENT);

    drain(a, 1);
    drain(b, 2);
    for (int steps = 0; queued > 0 && steps < 1000; steps++) {
        struct frame f = network[0];
        memmove(network, network + 1, (size_t)(queued - 1) * sizeof network[0]);
        queued--;
        consensio_participant *target = f.to == 1 ? a : b;
        CHECK_OK(consensio_participant_handle_message(target, 20, f.from, f.bytes, f.len));
        /* Every frame delivered twice: duplicates must be harmless. */
        CHECK_OK(consensio_participant_handle_message(target, 20, f.from, f.bytes, f.len));
        drain(a, 1);
        drain(b, 2);
    }
    CHECK(differences == 1 && completes == 1 && failures == 0);
    CHECK_OK(consensio_participant_next_deadline(a, &has, &deadline));
    CHECK(has == 0);

    /* Bad input: garbage and truncated frames, NULLs, long keys, bad config. */
    const uint8_t garbage[] = {0xde, 0xad, 0xbe, 0xef, 0x00};
    CHECK_FAILS(consensio_participant_handle_message(a, 30, 2, garbage, sizeof garbage), CONSENSIO_MALFORMED);
    const uint8_t truncated[] = {1, 16, 0, 1, 1};
    CHECK_FAILS(consensio_participant_handle_message(a, 30, 2, truncated, sizeof truncated), CONSENSIO_MALFORMED);
    CHECK_FAILS(consensio_participant_handle_message(a, 30, 2, NULL, 4), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_participant_handle_message(NULL, 30, 2, garbage, 4), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_participant_handle_message(a, 30, 2, garbage, SIZE_MAX), CONSENSIO_BAD_LENGTH);
    static uint8_t long_key[2048];
    /* A key over max_key_len exceeds a configured bound: the same kind of
     * failure (core's ErrorKind::LimitExceeded) on every surface. */
    CHECK_FAILS(consensio_anti_entropy_update(a, 30, long_key, sizeof long_key, version), CONSENSIO_LIMIT_EXCEEDED);
    CHECK_FAILS(consensio_anti_entropy_update(a, 30, long_key, 4, NULL), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_participant_poll(a, NULL), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_participant_tick(NULL, 1), CONSENSIO_NULL_POINTER);
    config.depth = 40;
    consensio_participant *bad = NULL;
    CHECK_FAILS(consensio_anti_entropy_new(&config, &bad), CONSENSIO_INVALID_ARGUMENT);
    CHECK(bad == NULL);
    CHECK_FAILS(consensio_anti_entropy_new(NULL, &bad), CONSENSIO_NULL_POINTER);

    consensio_participant_free(a);
    consensio_participant_free(b);
    consensio_participant_free(NULL);
    return report("test_anti_entropy");
}
