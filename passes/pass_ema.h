/*
 * pass_ema.h - an exponential moving average of the weights, updated
 * after every optimizer step: for each param p the state "ema.<p>",
 *   ema <- ema + w (p' - ema)
 * where p' is the value the step assigns to p and w the step input
 * RT_SCALAR_EMA_WEIGHT: 1 on the run's first step (the state starts at
 * zeros, so the EMA becomes an exact copy of p', as
 * torch.optim.swa_utils.AveragedModel's first update_parameters copies the
 * parameters), then 1 - decay (get_ema_multi_avg_fn's lerp). The model's
 * own state (BatchNorm's running statistics) is not averaged: evaluation
 * reads it as the model has it, as AveragedModel's default
 * use_buffers=False keeps the buffers in sync with the model.
 */
#ifndef SAMC_PASS_EMA_H
#define SAMC_PASS_EMA_H

#include "ir_model.h"

/* The prefix of the EMA's state: "ema.<param>". */
#define PASS_EMA_PREFIX RT_EMA_PREFIX

/* Appends the EMA's assigns to a training program whose optimizer update
 * (pass_optim_lower) is already in g. 0 or -1 (g->err). */
int pass_ema(ir_graph *g, ir_node *const *params, int n);

#endif
