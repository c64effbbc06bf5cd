/* The host's MTA-STS cache file shared by runs that save at the same time ("Host cache
 * file"): no run loses another's policies, a refresh by another run is kept, and what a run
 * dropped itself does not come back. Each run is a forked process, as stsmail runs are. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stsm_app.h"
#include "stsm_check.h"

#define RUNS 6   /* concurrent savers; within STSM_STS_CACHE_ENTRIES, so nothing is evicted */

static char settings_path[64];
static struct stsm_settings settings;
static struct stsm_sts_cache cache;

static struct stsm_sts_policy policy(const char *mx)
{
    struct stsm_sts_policy p = { .mode = STSM_STS_MODE_ENFORCE, .max_age = 86400 };
    stsm_sts_policy_mx_add(&p, mx, strlen(mx));
    return p;
}

static void put(const char *domain, const char *id, int64_t now)
{
    struct stsm_sts_policy p = policy("*.example.test");
    stsm_sts_cache_put(&cache, domain, id, &p, now);
}

/* The file as a new run would load it. */
static void reload(void)
{
    stsm_app_load_sts_cache(settings_path, &settings, &cache);
}

static bool holds(const char *domain, const char *id)
{
    const struct stsm_sts_cache_entry *e = stsm_sts_cache_get(&cache, domain, 5000);
    return e != NULL && strcmp(e->id, id) == 0;
}

int main(void)
{
    char dir[] = "/tmp/stsm-cache-test-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(settings_path, sizeof settings_path, "%s/settings.json", dir);
    stsm_settings_clear(&settings);   /* the cache file, relative to the settings file: */
    CHECK_INT(stsm_settings_set_text(&settings, &settings.mta_sts.cache_file, "cache.bin"), STSM_OK);

    CHECK_CASE("runs saving at the same moment all keep their policies");
    int ready[2], go[2];
    if (pipe(ready) != 0 || pipe(go) != 0) {
        perror("pipe");
        return 1;
    }
    for (int i = 0; i < RUNS; i++) {
        if (fork() == 0) {
            /* Every run loads the (empty) file before any saves: the race at its widest. */
            char domain[32];
            snprintf(domain, sizeof domain, "run%d.test", i);
            reload();
            put(domain, "a", 1000 + i);
            char byte = 'r';
            if (write(ready[1], &byte, 1) != 1 || read(go[0], &byte, 1) != 1) {
                _exit(2);
            }
            stsm_app_save_sts_cache(settings_path, &settings, &cache);
            _exit(0);
        }
    }
    char bytes[RUNS];
    size_t got = 0;
    while (got < RUNS) {   /* every run has loaded */
        ssize_t n = read(ready[0], bytes + got, RUNS - got);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    CHECK_INT(got, RUNS);
    memset(bytes, 'g', sizeof bytes);
    CHECK_INT(write(go[1], bytes, RUNS), RUNS);     /* all at once */
    for (int i = 0; i < RUNS; i++) {
        int status = -1;
        wait(&status);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    reload();
    for (int i = 0; i < RUNS; i++) {
        char domain[32];
        snprintf(domain, sizeof domain, "run%d.test", i);
        CHECK(holds(domain, "a"));
    }

    CHECK_CASE("a policy another run refreshed is kept; one this run dropped stays dropped");
    reload();   /* this run: sees run0..run5 */
    pid_t other = fork();
    if (other == 0) {
        reload();
        put("run1.test", "b", 3000);   /* fetched later than what this run holds */
        put("new.test", "a", 3000);
        stsm_app_save_sts_cache(settings_path, &settings, &cache);
        _exit(0);
    }
    int status = -1;
    waitpid(other, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    struct stsm_sts_policy gone = { .mode = STSM_STS_MODE_ENFORCE, .max_age = 0 };
    stsm_sts_cache_put(&cache, "run2.test", "c", &gone, 2000);   /* max_age 0: drop it */
    put("mine.test", "a", 2000);
    stsm_app_save_sts_cache(settings_path, &settings, &cache);
    reload();
    CHECK(holds("run1.test", "b"));
    CHECK(holds("new.test", "a"));
    CHECK(holds("mine.test", "a"));
    CHECK(stsm_sts_cache_get(&cache, "run2.test", 5000) == NULL);
    CHECK(holds("run3.test", "a"));

    CHECK_CASE("no temporary file is left behind");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 2", dir);   /* cache.bin, cache.bin.lock */
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    return stsm_check_summary("test_app_cache");
}
