/* A delay line for the speed bench: holds every packet that iptables hands to NFQUEUE
 * queue N for D milliseconds, then accepts it, in the order it came. The kernel here has
 * no sch_netem; this stands in for `netem delay`. Used on the ingress of each end of the
 * bench's veth pair (tests/bench/benchnet.py), never on egress: a packet held on egress
 * stays charged to its socket and TCP small queues stall the rest of the burst.
 *
 * Usage: delay_line QUEUE_NUM DELAY_MS
 * Prints "delay_line: ready" on stdout once bound to the queue; runs until SIGTERM/SIGINT,
 * then accepts what it still holds and exits 0.
 * Build: cc -O2 -o delay_line delay_line.c -lnetfilter_queue
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_NO_ENOBUFS
#define NETLINK_NO_ENOBUFS 5
#endif

/* Enough for 50 ms at far more than the bench ever sends; the kernel queue gets the same
 * bound, so a full FIFO here cannot happen without the kernel dropping first. */
#define FIFO_LEN 8192u

struct held {
    uint32_t id;
    int64_t due_ns;
};

static struct held fifo[FIFO_LEN];
static unsigned fifo_head, fifo_count;
static int64_t delay_ns;
static unsigned long long n_passed, n_overflow;
static volatile sig_atomic_t stop;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data)
{
    (void)msg;
    (void)data;
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    if (ph == NULL)
        return 0;
    uint32_t id = ntohl(ph->packet_id);
    if (fifo_count == FIFO_LEN) {
        /* Never expected (the kernel queue is as long); pass it now rather than lose it. */
        n_overflow++;
        nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
        return 0;
    }
    fifo[(fifo_head + fifo_count) % FIFO_LEN] = (struct held){id, now_ns() + delay_ns};
    fifo_count++;
    return 0;
}

/* Accepts every held packet due by `now` (all of them when `all`); returns the ms until
 * the next one is due, or -1 when none is held. */
static int release(struct nfq_q_handle *qh, int all)
{
    int64_t now = now_ns();
    while (fifo_count > 0) {
        struct held *h = &fifo[fifo_head];
        if (!all && h->due_ns > now) {
            int64_t wait_ms = (h->due_ns - now + 999999) / 1000000;
            return (int)wait_ms;
        }
        nfq_set_verdict(qh, h->id, NF_ACCEPT, 0, NULL);
        n_passed++;
        fifo_head = (fifo_head + 1) % FIFO_LEN;
        fifo_count--;
    }
    return -1;
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: delay_line QUEUE_NUM DELAY_MS\n");
        return 64;
    }
    char *end;
    long qnum = strtol(argv[1], &end, 10);
    if (*end || qnum < 0 || qnum > 65535) {
        fprintf(stderr, "delay_line: bad queue number %s\n", argv[1]);
        return 64;
    }
    long ms = strtol(argv[2], &end, 10);
    if (*end || ms < 0 || ms > 10000) {
        fprintf(stderr, "delay_line: bad delay %s (0..10000 ms)\n", argv[2]);
        return 64;
    }
    delay_ns = (int64_t)ms * 1000000;

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct nfq_handle *h = nfq_open();
    if (h == NULL) {
        perror("delay_line: nfq_open");
        return 1;
    }
    struct nfq_q_handle *qh = nfq_create_queue(h, (uint16_t)qnum, on_packet, NULL);
    if (qh == NULL) {
        perror("delay_line: nfq_create_queue");
        nfq_close(h);
        return 1;
    }
    /* The verdict needs only the packet id: no payload is copied to user space. */
    if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0 || nfq_set_queue_maxlen(qh, FIFO_LEN) < 0) {
        perror("delay_line: queue settings");
        nfq_destroy_queue(qh);
        nfq_close(h);
        return 1;
    }
    int fd = nfq_fd(h);
    int one = 1, rcvbuf = 4 << 20;
    /* A burst must not cost a lost netlink message (the kernel would drop those packets). */
    setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);

    printf("delay_line: ready (queue %ld, %ld ms)\n", qnum, ms);
    fflush(stdout);

    static char buf[65536] __attribute__((aligned));
    while (!stop) {
        int timeout = release(qh, 0);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = poll(&pfd, 1, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("delay_line: poll");
            break;
        }
        if (n == 0)
            continue;
        /* Drain what is ready without blocking, so each packet's timestamp is its arrival. */
        for (;;) {
            ssize_t len = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (len < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ENOBUFS)
                    perror("delay_line: recv");
                break;
            }
            nfq_handle_packet(h, buf, (int)len);
        }
    }
    release(qh, 1);
    fprintf(stderr, "delay_line: queue %ld: %llu packets passed, %llu over the FIFO\n", qnum, n_passed,
            n_overflow);
    nfq_destroy_queue(qh);
    nfq_close(h);
    return 0;
}
