/*
 * The TLS session table built with no slots (STSM_TLS_SESSION_SLOTS 0, lm3s6965evb's
 * configuration): nothing is ever kept, every store is refused, and nothing
 * is written anywhere (the table has no bytes for a session).
 */
#include <string.h>

#include "stsm_check.h"
#include "stsm_tls_session.h"

_Static_assert(STSM_TLS_SESSION_SLOTS == 0, "built with no slots (tests/unit/CMakeLists.txt)");

static struct {
    struct stsm_tls_session_table table;
    unsigned char after[64];   /* what follows the table must stay untouched */
} mem;

int main(void)
{
    static const unsigned char blob[32] = { 1, 2, 3 };
    size_t cap = 99, len = 99;

    stsm_tls_session_init(&mem.table);
    memset(mem.after, 0x5A, sizeof mem.after);

    CHECK_CASE("reserve gives no slot");
    CHECK(stsm_tls_session_reserve(&mem.table, "mx.example.test", 25, &cap) == NULL);
    CHECK_INT(cap, 0);

    CHECK_CASE("put is refused");
    CHECK_INT(stsm_tls_session_put(&mem.table, "mx.example.test", 25, blob, sizeof blob), STSM_ERR_CAPACITY);
    CHECK_INT(stsm_tls_session_count(&mem.table), 0);

    CHECK_CASE("nothing is found, drop and forget do nothing");
    CHECK(stsm_tls_session_get(&mem.table, "mx.example.test", 25, &len) == NULL);
    stsm_tls_session_drop(&mem.table, "mx.example.test", 25);
    stsm_tls_session_forget_all(&mem.table);
    CHECK_INT(stsm_tls_session_count(&mem.table), 0);

    CHECK_CASE("no byte past the table was written");
    for (size_t i = 0; i < sizeof mem.after; i++) {
        CHECK(mem.after[i] == 0x5A);
    }
    return stsm_check_summary("test_tls_session_none");
}
