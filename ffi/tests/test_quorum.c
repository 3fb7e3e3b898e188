/* consensio_quorum_*: committed indexes and votes, and bad input. */
#include <stdint.h>

#include "check.h"

int main(void) {
    const uint64_t voters[5] = {1, 2, 3, 4, 5};
    const uint64_t acked[5] = {12, 9, 12, 4, 0};
    uint64_t index = 0;
    CHECK_OK(consensio_quorum_committed_index(voters, acked, 5, &index));
    CHECK(index == 9);
    CHECK_OK(consensio_quorum_committed_index(NULL, NULL, 0, &index));
    CHECK(index == UINT64_MAX);

    /* Joint: n5-n7 lag at 2, so the incoming half holds commit back. */
    const uint64_t in_voters[5] = {3, 4, 5, 6, 7};
    const uint64_t in_acked[5] = {12, 4, 0, 2, 2};
    CHECK_OK(consensio_quorum_joint_committed_index(in_voters, in_acked, 5, voters, acked, 5, &index));
    CHECK(index == 2);

    const int8_t votes[5] = {1, 1, 0, -1, -1};
    enum consensio_vote_result result = CONSENSIO_VOTE_LOST;
    CHECK_OK(consensio_quorum_vote_result(voters, votes, 5, &result));
    CHECK(result == CONSENSIO_VOTE_PENDING);
    const int8_t won[5] = {1, 1, 1, 0, 0};
    CHECK_OK(consensio_quorum_vote_result(voters, won, 5, &result));
    CHECK(result == CONSENSIO_VOTE_WON);
    const int8_t in_votes[5] = {1, 0, 0, 0, -1};
    CHECK_OK(consensio_quorum_joint_vote_result(in_voters, in_votes, 5, voters, won, 5, &result));
    CHECK(result == CONSENSIO_VOTE_LOST);

    /* Bad input: each gets its status and a message, and the output stays. */
    index = 77;
    CHECK_FAILS(consensio_quorum_committed_index(NULL, acked, 5, &index), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_quorum_committed_index(voters, NULL, 5, &index), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_quorum_committed_index(voters, acked, 5, NULL), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_quorum_committed_index(voters, acked, SIZE_MAX, &index), CONSENSIO_LIMIT_EXCEEDED);
    uint64_t many[65];
    uint64_t zeros[65] = {0};
    for (int i = 0; i < 65; i++) many[i] = (uint64_t)i;
    CHECK_FAILS(consensio_quorum_committed_index(many, zeros, 65, &index), CONSENSIO_LIMIT_EXCEEDED);
    CHECK_OK(consensio_quorum_committed_index(many, zeros, 64, &index));
    const uint64_t twice[3] = {1, 2, 1};
    CHECK_FAILS(consensio_quorum_committed_index(twice, acked, 3, &index), CONSENSIO_INVALID_ARGUMENT);
    const int8_t bad_vote[5] = {1, 2, 0, 0, 0};
    result = CONSENSIO_VOTE_PENDING;
    CHECK_FAILS(consensio_quorum_vote_result(voters, bad_vote, 5, &result), CONSENSIO_INVALID_ARGUMENT);
    CHECK(result == CONSENSIO_VOTE_PENDING);
    /* A voter in both halves with different acknowledgements. */
    const uint64_t conflicting[5] = {1, 2, 3, 4, 99};
    CHECK_FAILS(consensio_quorum_joint_committed_index(voters, acked, 5, voters, conflicting, 5, &index),
                CONSENSIO_INVALID_ARGUMENT);
    return report("test_quorum");
}
