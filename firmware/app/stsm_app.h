/* Helpers shared by the commands of the host simulation binary. */
#ifndef STSM_APP_H
#define STSM_APP_H

#include <stddef.h>
#include <stdint.h>

#include "lwip/ip4_addr.h"
#include "stsm_host_net.h"
#include "stsm_settings.h"
#include "stsm_sts_cache.h"
#include "stsm_status.h"
#include "stsm_tls.h"

/* Exit statuses follow sysexits.h so scripts can tell bad usage from a network outage. */
enum {
    EXIT_USAGE = 64,
    EXIT_DATAERR = 65,
    EXIT_NOINPUT = 66,
    EXIT_NOHOST = 68,
    EXIT_UNAVAILABLE = 69,
    EXIT_OSERR = 71,
    EXIT_TEMPFAIL = 75,
    EXIT_PROTOCOL = 76,
    EXIT_CONFIG = 78,
};

/** The exit status for a final status. */
int stsm_app_exit_status(stsm_status_t status);

/** The netmask of a prefix length (1..32). */
ip4_addr_t stsm_app_netmask(uint8_t prefix_len);

/** Brings lwIP up on the TAP interface and reports the address on stderr. Returns 0, or
 *  an exit status after printing why. */
int stsm_app_net_up(const struct stsm_host_net_config *config, uint32_t timeout_ms);

/** Lets the last segments (QUIT, FIN, RST) leave, then detaches from the interface. */
void stsm_app_net_down(void);

/**
 * Reads a whole file into `buf`. Returns STSM_ERR_IO (file missing or unreadable) or
 * STSM_ERR_CAPACITY (larger than `cap`) with a sentence in `why`.
 */
stsm_status_t stsm_app_read_file(const char *path, void *buf, size_t cap, size_t *len, char *why,
                                 size_t why_len);

/** A path from the settings (`path`) as the process can open it: a relative one is
 *  relative to the settings file's folder. */
void stsm_app_settings_relative(const char *settings_path, const char *path, char *out, size_t cap);

/**
 * Reads a message body of at most `max` bytes from the file `path`, "-" for standard
 * input, or, with `path` NULL, writes "(no text)". `buf` holds `max` + 1 bytes (one more
 * is read, to tell a body that is too long). Returns 0, or an exit status after printing
 * why.
 */
int stsm_app_read_body(const char *path, char *buf, size_t max, size_t *len);

/**
 * Reads and validates the settings file; also requires /network/interface. Returns 0, or
 * EXIT_CONFIG after printing "FILE: /json/path: what was wrong".
 */
int stsm_app_load_settings(const char *path, struct stsm_settings *settings);

/**
 * Loads the trust store the settings name (a relative path is relative to the settings
 * file) and sets up TLS with it. Returns 0, or EXIT_CONFIG after printing why.
 */
int stsm_app_load_tls(const char *settings_path, const struct stsm_settings *settings,
                      struct stsm_tls *tls);

/** stsm_app_net_up() with the network the settings describe. */
int stsm_app_net_up_settings(const struct stsm_settings_network *net, uint32_t timeout_ms);

/**
 * Loads the MTA-STS cache from /mta_sts/cache_file (relative to the settings file), if
 * set. A missing file is an empty cache; a damaged one is reported and replaced by an
 * empty cache (the policies are fetched again). Returns true when a file is configured.
 */
bool stsm_app_load_sts_cache(const char *settings_path, const struct stsm_settings *settings,
                             struct stsm_sts_cache *cache);

/**
 * Saves the cache where stsm_app_load_sts_cache() read it, atomically: a new file with a
 * unique name in the same folder is written and synced, then renamed over the old one, so
 * a power cut leaves either the old or the new cache, never a torn one. Runs sharing the
 * file take turns under an advisory lock (flock on FILE.lock, which stays): each re-reads
 * the file and keeps what other runs stored since its own load (a later policy, a later
 * failed fetch), so concurrent runs never lose each other's policies. Call it after
 * stsm_app_load_sts_cache() in the same process.
 */
void stsm_app_save_sts_cache(const char *settings_path, const struct stsm_settings *settings,
                             const struct stsm_sts_cache *cache);

#endif /* STSM_APP_H */
