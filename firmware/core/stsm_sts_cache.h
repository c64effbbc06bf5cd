/*
 * MTA-STS policy cache (RFC 8461 sections 3.3 and 5.1): a fixed number of policies keyed
 * by domain, least-recently-used eviction, and the rules that keep a policy in force when
 * DNS or HTTPS fail. An entry holds a policy, or only the back-off of a failed fetch (a
 * failure marker); a marker never evicts a policy. The table logic is pure: the caller
 * passes the time (seconds on a clock that only moves forward). The table persists as one
 * blob (stsm_sts_cache_save()/load(): the host's cache file) or, on a device, as one piece
 * per entry in a flash store (stsm_sts_cache_flash_load()/sync()), so that no copy of the
 * whole table is ever serialised in RAM and a change rewrites only its entry's piece.
 */
#ifndef STSM_STS_CACHE_H
#define STSM_STS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_mta_sts.h"
#include "stsm_status.h"
#include "stsm_store.h"

/** After a failed fetch for a domain and id, no new attempt within this time. */
#define STSM_STS_FETCH_BACKOFF_S 300u

/** A cached policy is fetched again after about a day (RFC 8461 section 10.2 advises
 *  refreshing well before max_age), spread over a further STSM_STS_REFRESH_SPREAD_S by
 *  domain so that refreshes do not all fall due at once. A failed refresh keeps it. */
#define STSM_STS_REFRESH_S 86400u
#define STSM_STS_REFRESH_SPREAD_S 7200u

struct stsm_sts_cache_entry {
    bool used;
    char domain[STSM_HOSTNAME_MAX + 1];
    char id[STSM_STS_ID_MAX + 1];          /**< TXT id the policy was fetched under */
    int64_t fetched_at;                    /**< when the policy was fetched */
    int64_t last_used;                     /**< for LRU eviction */
    struct stsm_sts_policy policy;
    char failed_id[STSM_STS_ID_MAX + 1];   /**< id of the last failed fetch ("" none) */
    int64_t failed_at;
};

struct stsm_sts_cache {
    struct stsm_sts_cache_entry entries[STSM_STS_CACHE_ENTRIES];
};

void stsm_sts_cache_init(struct stsm_sts_cache *cache);

/** The policy of `domain` still in force at `now` (fetched_at + max_age > now), or NULL.
 *  Marks it used. */
const struct stsm_sts_cache_entry *stsm_sts_cache_get(struct stsm_sts_cache *cache, const char *domain,
                                                      int64_t now);

/**
 * Stores a freshly fetched policy. `max_age: 0` means apply now, keep nothing: any cached
 * policy of the domain is dropped. Mode `none` replaces a cached policy at once. A full
 * table evicts the least recently used failure marker, or when there is none the least
 * recently used policy. A domain or id longer than its field is not stored (never cut).
 */
void stsm_sts_cache_put(struct stsm_sts_cache *cache, const char *domain, const char *id,
                        const struct stsm_sts_policy *policy, int64_t now);

/** True when the cached entry is due for its refresh at `now`. */
bool stsm_sts_cache_refresh_due(const struct stsm_sts_cache_entry *entry, int64_t now);

/**
 * A fetch for `domain` under `id` failed at `now` (starts the back-off). A domain without
 * an entry gets a failure marker in a free slot or in place of the least recently used
 * marker; when every slot holds a policy the failure is not recorded (no back-off), so
 * failing fetches can never push a cached policy out.
 */
void stsm_sts_cache_fetch_failed(struct stsm_sts_cache *cache, const char *domain, const char *id,
                                 int64_t now);

/** False within STSM_STS_FETCH_BACKOFF_S of a failed fetch for the same domain and id. */
bool stsm_sts_cache_may_fetch(const struct stsm_sts_cache *cache, const char *domain, const char *id,
                              int64_t now);

/** What discovery should do next (RFC 8461 sections 3.3 and 5.1). */
enum stsm_sts_step {
    STSM_STS_USE_CACHED,   /**< a cached policy applies: same id, or the record is gone/failing */
    STSM_STS_FETCH,        /**< fetch the policy (new id, or nothing cached) */
    STSM_STS_NO_POLICY,    /**< nothing applies */
};

/**
 * Decides after the TXT lookup: `txt_ok` with the record's `id`, or no usable record
 * (none, invalid, or DNS failing). A valid cached policy with the same id is used without
 * fetching, unless it is due for its daily refresh; a new id is fetched unless a fetch for
 * it failed within the back-off, in which case the cached policy (if any) stays in force.
 * `*cached` is the policy in force, if any.
 */
enum stsm_sts_step stsm_sts_cache_decide(struct stsm_sts_cache *cache, const char *domain, bool txt_ok,
                                         const char *id, int64_t now,
                                         const struct stsm_sts_cache_entry **cached);

/**
 * Serialises the table (versioned, with a checksum) into `out`; returns the length, or 0
 * when `cap` is too small or an entry holds something load() would refuse (a string
 * without its NUL or too long for its field, an invalid `mx` pattern, more than
 * STSM_STS_MAX_MX patterns or a pool whose `mx_len` does not hold exactly `mx_count` of
 * them, an unknown mode): nothing is ever cut to fit. load() refuses an entry whose
 * patterns do not fit the pool (STSM_STS_MX_TEXT_MAX). Whatever load()
 * accepts, save() stores. stsm_sts_cache_load() refuses anything damaged, and a blob of
 * an older format version, (STSM_ERR_CORRUPT) and then leaves the cache empty.
 */
size_t stsm_sts_cache_save(const struct stsm_sts_cache *cache, uint8_t *out, size_t cap);
stsm_status_t stsm_sts_cache_load(struct stsm_sts_cache *cache, const uint8_t *data, size_t len);

/**
 * A checksum of what is worth storing: the policies and fetch state, not the LRU stamps
 * that change on every use. Flash-backed devices rewrite the cache only when it changes.
 */
uint32_t stsm_sts_cache_digest(const struct stsm_sts_cache *cache);

/** Bytes one entry may take in a blob: domain, id and failed id (each a length byte and
 *  its text), three times, mode, max_age, the mx count, mx_dropped, and the patterns (a
 *  length byte and the text each: as many bytes as they take in the policy's pool). */
#define STSM_STS_CACHE_MX_BLOB_MAX                                                         \
    (STSM_STS_MX_TEXT_MAX < STSM_STS_MAX_MX * (1 + STSM_HOSTNAME_MAX)                     \
         ? STSM_STS_MX_TEXT_MAX                                                            \
         : STSM_STS_MAX_MX * (1 + STSM_HOSTNAME_MAX))
#define STSM_STS_CACHE_ENTRY_BLOB_MAX                                                      \
    ((1 + STSM_HOSTNAME_MAX) + 2 * (1 + STSM_STS_ID_MAX) + 3 * 8 + 1 + 4 + 1 + 4 +        \
     STSM_STS_CACHE_MX_BLOB_MAX)

/** Bytes stsm_sts_cache_save() may need: magic, count, the entries, CRC-32. */
#define STSM_STS_CACHE_BLOB_MAX (8 + 4 + STSM_STS_CACHE_ENTRIES * STSM_STS_CACHE_ENTRY_BLOB_MAX + 4)

/* ---- one entry a piece, in a flash store ------------------------------------------- */

/**
 * A piece is one entry in the blob format: the blob of a table that holds only that entry
 * (magic, count 1, the entry, CRC-32), so it is checked whole on its own and the one
 * decoder serves both. stsm_sts_cache_piece_save() returns its length, or 0 for an unused
 * entry, a `cap` too small, or an entry save() would refuse. stsm_sts_cache_piece_load()
 * accepts exactly one entry (STSM_ERR_CORRUPT otherwise, `*e` then unused).
 */
size_t stsm_sts_cache_piece_save(const struct stsm_sts_cache_entry *e, uint8_t *out, size_t cap);
stsm_status_t stsm_sts_cache_piece_load(struct stsm_sts_cache_entry *e, const uint8_t *data, size_t len);

/** stsm_sts_cache_digest() of one entry: its piece as stored, without the LRU stamp. */
uint32_t stsm_sts_cache_piece_digest(const struct stsm_sts_cache_entry *e);

/** Bytes a piece may need. */
#define STSM_STS_CACHE_PIECE_MAX (8 + 4 + STSM_STS_CACHE_ENTRY_BLOB_MAX + 4)

/** Store key of the piece of table slot `slot`: the slot index under the type byte 'P',
 *  apart from the outbox's record types (small numbers in the same byte). */
#define STSM_STS_CACHE_KEY_TYPE 0x50000000u
#define STSM_STS_CACHE_KEY(slot) (STSM_STS_CACHE_KEY_TYPE | (uint32_t)(slot))

/** What a flash store holds of a table: for each slot, whether a piece is stored and the
 *  piece digest of what it holds. Fields private. */
struct stsm_sts_cache_flash {
    struct stsm_store *store;
    uint32_t digest[STSM_STS_CACHE_ENTRIES];
    bool held[STSM_STS_CACHE_ENTRIES];
};

/**
 * Loads the table from the pieces in `store` (mounted by the caller, who keeps it for the
 * later syncs), each into its slot. A piece that does not decode leaves its slot empty:
 * that policy is fetched again, no other is touched. Of two pieces of the same domain (a
 * power cut between the syncs of two slots), the later fetched is kept and the other's
 * slot left empty. Pieces of slots this build does not have are deleted. `*dropped` (may
 * be NULL) counts the pieces left out. Returns the number of entries loaded.
 */
size_t stsm_sts_cache_flash_load(struct stsm_sts_cache *cache, struct stsm_sts_cache_flash *flash,
                                 struct stsm_store *store, size_t *dropped);

/**
 * Brings the store in line with the table: writes the piece of each slot whose policy or
 * fetch state changed since the load or the last sync (a mere use, which moves only the
 * LRU stamp, writes nothing) and deletes the piece of each slot emptied. Each piece is its
 * own store record, written from the entry as it is serialised (stsm_store_put_pieces: no
 * piece-sized buffer; a few hundred bytes of stack), so a power cut at any point leaves
 * the old or the new piece of the slot being written and the other slots as they were.
 * Returns STSM_OK, or the first failure: the store's, or STSM_ERR_CAPACITY for an entry
 * that cannot be stored (longer than the store's records), whose old piece is then
 * deleted. A slot not written keeps its old piece and is tried again at the next sync.
 * `*written` (may be NULL) counts the pieces written or deleted.
 */
stsm_status_t stsm_sts_cache_flash_sync(const struct stsm_sts_cache *cache, struct stsm_sts_cache_flash *flash,
                                        size_t *written);

#endif /* STSM_STS_CACHE_H */
