/*
 * rt_init.h - parameter initialisation from each slot's rule.
 *
 * Element i of parameter "name" draws from Philox block (seed,
 * rt_rng_stream_of(name), i): the values depend only on the seed, the name
 * and the index, never on the order in which slots are visited or on the
 * backend, so every backend and every exec sharing a parameter agree.
 */
#ifndef SAMC_RT_INIT_H
#define SAMC_RT_INIT_H

#include <stdint.h>

#include "rt_exec.h"

/* Fills one slot's buffer: PARAM by its rule (uniform in [a,b), normal with
 * mean a and std b, zeros, ones), STATE with zeros; INPUT is left as is.
 * Errors: a dtype other than f32/f64/i32, uniform with b < a, normal with a
 * negative std. */
int rt_init_slot(const rt_slot *s, void *data, uint64_t seed, rt_err *err);

/* rt_init_slot over every slot of an exec (slot_data[i] for slots[i]). */
int rt_init_exec(const rt_exec *x, void **slot_data, uint64_t seed, rt_err *err);

#endif
