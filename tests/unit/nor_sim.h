/*
 * A simulated NOR flash for tests and fuzz harnesses: a `struct stsm_flash_area` over a
 * RAM buffer the caller owns.
 *
 * Semantics: erase sets whole pages to 0xFF; programming only clears bits. Programming a
 * byte that needs a bit set (0 -> 1), or a byte already programmed since its page's last
 * erase, is refused (the call returns false and changes nothing) and counted: some parts
 * with ECC forbid the second program, so tests assert both counters stay 0. A byte that
 * reads 0xFF counts as erased (programming 1s changes nothing a device can see).
 *
 * Power cuts: nor_sim_cut_after(sim, k, mode, seed) lets k more device operations (erase
 * or program calls) complete; the next one is left partly done as `mode` says and
 * returns false, and from then on every operation fails until nor_sim_power_on() (the
 * test then "reboots": mounts again). Partial results are drawn from `seed`, so a test
 * can sweep several.
 */
#ifndef NOR_SIM_H
#define NOR_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_flash_record.h"

#define NOR_SIM_SIZE_MAX (256u * 1024u)   /**< largest area a simulator models */
#define NOR_SIM_PAGES_MAX 256u            /**< most pages it counts */

/** How the operation hit by a power cut is left. */
enum nor_cut_mode {
    NOR_CUT_NOTHING,      /**< nothing of it was done */
    NOR_CUT_PREFIX,       /**< program: a prefix of its bytes; erase: the page's first part */
    NOR_CUT_SUFFIX,       /**< program: its last bytes; erase: the page's last part (the
                               start, with any header, keeps its old bytes) */
    NOR_CUT_SCATTER,      /**< program: every byte with some of its bits cleared; erase:
                               a random mix of old and 0xFF bytes */
    NOR_CUT_DONE,         /**< all of it was done, but the call returns false */
    NOR_CUT_MODES
};

struct nor_sim {
    struct stsm_flash_area area;      /**< give &sim->area to the code under test */
    uint8_t *mem;
    long budget;                      /**< operations before the cut; < 0: none planned */
    bool off;                         /**< power is cut: everything fails */
    enum nor_cut_mode mode;
    uint32_t rng;
    unsigned long ops;                /**< erase and program calls since init */
    unsigned long erases[NOR_SIM_PAGES_MAX];   /**< per page, since init */
    unsigned long programs[NOR_SIM_PAGES_MAX]; /**< per page (the call's first byte) */
    unsigned long double_programs;    /**< refused: byte programmed twice without erase */
    unsigned long bit_sets;           /**< refused: would need a 0 -> 1 transition */
    uint8_t programmed[NOR_SIM_SIZE_MAX / 8]; /**< one bit per byte, cleared by erase */
};

/**
 * Sets up `sim` over `mem` (`size` bytes, a whole number of `page_size` pages, at most
 * NOR_SIM_SIZE_MAX and NOR_SIM_PAGES_MAX pages), all erased (0xFF), counters zero, power
 * on. `mem` must outlive the simulator. Returns false for a geometry it cannot model.
 */
bool nor_sim_init(struct nor_sim *sim, uint8_t *mem, size_t size, size_t page_size);

/**
 * Loads an image as found at boot (`len` bytes, the rest erased): bytes that are not 0xFF
 * count as programmed. Counters are kept.
 */
void nor_sim_load(struct nor_sim *sim, const uint8_t *image, size_t len);

/** Plans a power cut: `k` more operations succeed, the next is left as `mode` says. */
void nor_sim_cut_after(struct nor_sim *sim, unsigned long k, enum nor_cut_mode mode, uint32_t seed);

/** Power back on: operations work again and no cut is planned. */
void nor_sim_power_on(struct nor_sim *sim);

/** Erases of the most and the least erased page. */
void nor_sim_erase_spread(const struct nor_sim *sim, unsigned long *max, unsigned long *min);

/** Name of a cut mode, for messages. */
const char *nor_cut_mode_name(enum nor_cut_mode mode);

#endif /* NOR_SIM_H */
