/*
 * ir_slot.h - a graph leaf as a runtime slot: the one mapping from PARAM,
 * STATE and INPUT nodes to rt_slot that every backend's exec uses, so their
 * slots agree by construction.
 */
#ifndef SAMC_IR_SLOT_H
#define SAMC_IR_SLOT_H

#include "ir.h"
#include "rt_exec.h"

rt_dtype ir_slot_dtype(ir_dtype t);

/* Fills sl from leaf n (name, role, dtype, shape, init rule, classes).
 * sl->name points into the graph's arena. */
void ir_slot_from_leaf(rt_slot *sl, const ir_node *n);

#endif
