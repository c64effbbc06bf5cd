/* stsm_host_net_watch_file(): `stsmail run` waits in stsm_host_net_wait() and must wake as
 * soon as another process (stsmail enqueue) has written the store file, not at the end of
 * its wait; a change to another file in the same folder must not end the wait. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stsm_check.h"
#include "stsm_host_net.h"

static char dir[64], store[96], other[96], fresh[96];

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void write_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    if (fd >= 0) {
        (void)!write(fd, "x", 1);
        close(fd);
    }
}

/* A child process that, after `delay_ms`, writes and closes `path` (or, with `rename_from`,
 * renames that file to `path`), then exits. */
static pid_t writer(const char *path, const char *rename_from, int delay_ms)
{
    pid_t pid = fork();
    if (pid == 0) {
        usleep((useconds_t)delay_ms * 1000);
        if (rename_from != NULL) {
            (void)!rename(rename_from, path);
        } else {
            write_file(path);
        }
        _exit(0);
    }
    return pid;
}

/* How long stsm_host_net_wait(max_ms) took while `pid` did its work. */
static long timed_wait(pid_t pid, uint32_t max_ms)
{
    long t0 = now_ms();
    stsm_host_net_wait(max_ms);
    long spent = now_ms() - t0;
    waitpid(pid, NULL, 0);
    return spent;
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/stsm-watch.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(store, sizeof store, "%s/outbox.bin", dir);
    snprintf(other, sizeof other, "%s/other.bin", dir);
    snprintf(fresh, sizeof fresh, "%s/outbox.bin.new", dir);
    write_file(store);

    CHECK_CASE("without a watch the wait runs its full time");
    CHECK(timed_wait(writer(store, NULL, 50), 400) >= 380);

    CHECK_CASE("a watch on a file in a missing folder is refused");
    CHECK(!stsm_host_net_watch_file("/nonexistent-stsm-dir/outbox.bin"));

    CHECK_CASE("another process writing the store file ends the wait at once");
    CHECK(stsm_host_net_watch_file(store));
    long spent = timed_wait(writer(store, NULL, 100), 5000);
    CHECK(spent >= 90 && spent < 1500);

    CHECK_CASE("another file of the folder does not end the wait");
    CHECK(timed_wait(writer(other, NULL, 50), 500) >= 480);

    CHECK_CASE("a new file put under the name ends the wait");
    write_file(fresh);
    spent = timed_wait(writer(store, fresh, 100), 5000);
    CHECK(spent >= 90 && spent < 1500);

    CHECK_CASE("down drops the watch");
    stsm_host_net_down();
    CHECK(timed_wait(writer(store, NULL, 50), 400) >= 380);

    unlink(store);
    unlink(other);
    rmdir(dir);
    return stsm_check_summary("test_host_watch");
}
