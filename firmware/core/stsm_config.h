/*
 * Fixed capacities of stsmail. Every limit lives here with its default; a product may
 * override any of them by defining it before this header is included (e.g. with -D).
 */
#ifndef STSM_CONFIG_H
#define STSM_CONFIG_H

/** Longest line, without CRLF, accepted from a server in a connectivity probe. RFC 5321
 *  section 4.5.3.1.5 caps reply lines at 512 octets including CRLF. */
#ifndef STSM_PROBE_LINE_MAX
#define STSM_PROBE_LINE_MAX 510
#endif

/** Longest DNS host name in text form (RFC 1035: 255 octets on the wire). */
#ifndef STSM_HOSTNAME_MAX
#define STSM_HOSTNAME_MAX 253
#endif

#endif /* STSM_CONFIG_H */
