/*
 * Runs a libFuzzer harness over corpus files without libFuzzer, so the committed corpus
 * replays as an ordinary test (with any compiler, under the sanitizers of the build).
 * Usage: replay FILE-OR-DIR...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned replayed;

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    /* A copy of exactly the input's size, so reads past the end are caught by ASan. */
    uint8_t *copy = malloc(n ? n : 1);
    if (copy == NULL) {
        return 1;
    }
    memcpy(copy, buf, n);
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
    replayed++;
    return 0;
}

int main(int argc, char **argv)
{
    int failures = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            failures += replay_file(argv[i]);
            continue;
        }
        DIR *dir = opendir(argv[i]);
        for (struct dirent *e = dir ? readdir(dir) : NULL; e != NULL; e = readdir(dir)) {
            if (e->d_name[0] == '.') {
                continue;
            }
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            failures += replay_file(path);
        }
        if (dir) {
            closedir(dir);
        }
    }
    printf("replayed %u inputs\n", replayed);
    return failures == 0 && replayed > 0 ? 0 : 1;
}
