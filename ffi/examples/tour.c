/* A tour of libconsensio from C: vector clocks, a quorum's committed index,
 * a Merkle inclusion proof, and two anti-entropy replicas exchanging bytes
 * in one process until they know which key they differ on.
 *
 * Build (after `cargo build -p consensio-ffi`), from the repository root:
 *   gcc -std=c11 -Wall -Wextra -Iffi/include ffi/examples/tour.c \
 *       target/debug/libconsensio.a -lpthread -ldl -lm -o tour && ./tour
 */
#include "host.h"

static const char *ORDER[] = {"before", "after", "equal", "concurrent"};

int main(void) {
    printf("libconsensio %s\n\n== vector clocks ==\n", consensio_version());
    consensio_vclock *alice = NULL, *bob = NULL;
    uint64_t counter;
    TRY(consensio_vclock_new(&alice));
    TRY(consensio_vclock_increment(alice, 1, &counter));
    TRY(consensio_vclock_clone(alice, &bob));
    TRY(consensio_vclock_increment(bob, 2, &counter));
    TRY(consensio_vclock_increment(alice, 1, &counter));
    enum consensio_causal_ordering order;
    TRY(consensio_vclock_compare(alice, bob, &order));
    printf("alice vs bob: %s\n", ORDER[order]);
    TRY(consensio_vclock_merge(alice, bob));
    TRY(consensio_vclock_compare(bob, alice, &order));
    printf("after alice merges bob, bob is %s alice\n", ORDER[order]);
    consensio_vclock_free(alice);
    consensio_vclock_free(bob);

    printf("\n== quorum ==\n");
    const uint64_t voters[5] = {1, 2, 3, 4, 5}, acked[5] = {12, 9, 12, 4, 0};
    uint64_t committed;
    TRY(consensio_quorum_committed_index(voters, acked, 5, &committed));
    printf("acknowledged 12, 9, 12, 4, 0 -> committed index %llu\n", (unsigned long long)committed);

    printf("\n== merkle ==\n");
    const uint8_t *leaves[4] = {(const uint8_t *)"a", (const uint8_t *)"b", (const uint8_t *)"c",
                                (const uint8_t *)"d"};
    const size_t lens[4] = {1, 1, 1, 1};
    consensio_merkle_tree *tree = NULL;
    uint8_t root[32], leaf[32], proof[32 * 4];
    size_t proof_len;
    TRY(consensio_merkle_tree_new(leaves, lens, 4, &tree));
    TRY(consensio_merkle_tree_root_at(tree, 4, root));
    TRY(consensio_merkle_tree_inclusion_proof(tree, 2, 4, proof, 4, &proof_len));
    TRY(consensio_merkle_leaf_hash(leaves[2], 1, leaf));
    TRY(consensio_merkle_verify_inclusion(leaf, 2, 4, proof, proof_len, root));
    printf("leaf \"c\" is in the tree (proof of %zu hashes verified)\n", proof_len);
    consensio_merkle_tree_free(tree);

    printf("\n== anti-entropy ==\n");
    struct consensio_anti_entropy_config config;
    consensio_participant *node[2];
    TRY(consensio_anti_entropy_default_config(1, &config));
    TRY(consensio_anti_entropy_new(&config, &node[0]));
    config.id = 2;
    TRY(consensio_anti_entropy_new(&config, &node[1]));
    uint8_t v1[32] = {1}, v2[32] = {2};
    TRY(consensio_anti_entropy_update(node[0], 0, (const uint8_t *)"apple", 5, v1));
    TRY(consensio_anti_entropy_update(node[1], 0, (const uint8_t *)"apple", 5, v2));
    TRY(consensio_anti_entropy_start_sync(node[0], 0, 2));

    /* One frame in flight at a time is enough here: each query has one answer. */
    uint8_t frame[65536];
    size_t frame_len = 0;
    uint64_t frame_to = 0, frame_from = 0;
    int done = 0, messages = 0;
    while (!done) {
        for (int i = 0; i < 2; i++) {
            struct consensio_output out;
            for (;;) {
                TRY(consensio_participant_poll(node[i], &out));
                if (out.kind == CONSENSIO_OUTPUT_NONE) break;
                if (out.kind == CONSENSIO_OUTPUT_SEND) {
                    memcpy(frame, out.data, out.len);
                    frame_len = out.len;
                    frame_to = out.peer;
                    frame_from = (uint64_t)i + 1;
                } else if (out.kind == CONSENSIO_OUTPUT_EVENT && out.event == CONSENSIO_AE_DIFFERENCE) {
                    /* aux: our version hash, then theirs */
                    printf("differs: %.*s (ours %02x.., theirs %02x..)\n", (int)out.len, (const char *)out.data,
                           out.aux[0], out.aux[32]);
                } else if (out.kind == CONSENSIO_OUTPUT_EVENT && out.event == CONSENSIO_AE_SYNC_COMPLETE) {
                    printf("sync complete after %d messages: %llu key(s) differ\n", messages,
                           (unsigned long long)out.values[1]);
                    done = 1;
                }
            }
        }
        if (!done && frame_len > 0) {
            messages++;
            size_t len = frame_len;
            frame_len = 0;
            TRY(consensio_participant_handle_message(node[frame_to - 1], 0, frame_from, frame, len));
        }
    }
    consensio_participant_free(node[0]);
    consensio_participant_free(node[1]);
    return 0;
}
