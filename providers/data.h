/* prov_data: the deterministic data of the three mock providers, and the
 * hash every "random" decision of the mock is drawn from.
 *
 * The data of a (provider, tax ID) pair depends only on FNV-1a 64 of
 * "provider\0taxID", so it is the same across jobs, restarts, machines and
 * builds.  Strings in the data are ASCII. */
#ifndef PROV_DATA_H
#define PROV_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"

enum prov_id { PROV_CREDIT, PROV_TAX, PROV_REGISTRY, PROV_N };

/* The provider named name[0..len) (lib/reportdef.h names), or -1. */
int prov_by_name(const char *name, size_t len);

/* The name of a provider ("credit-bureau", ...). */
const char *prov_name(enum prov_id p);

/* FNV-1a 64 of data, continuing from h (start with prov_hash_init()). */
uint64_t prov_hash(uint64_t h, const void *data, size_t n);
uint64_t prov_hash_init(void);

/* A well-mixed 64-bit value from x (splitmix64 finaliser). */
uint64_t prov_mix(uint64_t x);

/* A draw in [0,1) from seed and the numbers a and b. */
double prov_draw(uint64_t seed, uint64_t a, uint64_t b);

/* The seed of (provider, tax ID). */
uint64_t prov_seed(enum prov_id p, const char *taxid, size_t len);

/* Appends the provider's data object for the tax ID to sb as JSON. */
void prov_data_json(struct sbuf *sb, enum prov_id p, const char *taxid,
    size_t len);

#endif
