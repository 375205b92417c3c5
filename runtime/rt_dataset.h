/*
 * rt_dataset.h - a split of a data set (train or test) in memory, shaped for
 * one compiled step: loading and checking against the exec's input slots,
 * normalisation, seeded shuffling and batching into slot buffers.
 *
 * Binding files to inputs (rt_recipe.h data_config): each data_file names a
 * DSL input and a path. The data inputs of an exec are its INPUT slots
 * except those the runtime fills itself ("opt.*", "eval.*").
 *  - idx: the file's tensor, first dimension = examples.
 *  - safetensors: the tensor named like the input, or the file's only one.
 *  - csv: the column named like the input if the header has one (labels,
 *    scalar targets); otherwise every column not claimed by name by another
 *    input bound to the same file (the features).
 *  - cifar10, cifar100: a comma-separated list of binary CIFAR files read in
 *    order as one split; the input declared with classes receives the
 *    labels (CIFAR-100: the fine ones), any other the images [N,3,32,32].
 *  - npy: the file's array, whose dimensions after the first must be the
 *    input's exactly.
 * A file's per-example element count must equal the slot's (its shape
 * without the batch dimension): IDX [60000,28,28] feeds a [B,784] slot.
 * Float inputs are normalised as (x * scale - mean) / std (scale 0 and
 * std 0 mean "unset", i.e. 1); label inputs (nclasses > 0) are checked to
 * lie in [0, nclasses).
 */
#ifndef SAMC_RT_DATASET_H
#define SAMC_RT_DATASET_H

#include <stdint.h>

#include "rt_exec.h"
#include "rt_pool.h"
#include "rt_recipe.h"

typedef struct {
	char *input;     /* slot name */
	char *path;      /* file it came from (messages) */
	rt_dtype dtype;  /* the slot's dtype: what a batch receives */
	int64_t row;     /* elements per example */
	/* Without lut: n * row elements of dtype, normalised, ready to copy.
	 * With lut (byte sources such as IDX): n * row raw bytes, and lut holds
	 * the 256 values of dtype they stand for, normalised. A batch then
	 * pulls a quarter of the bytes from memory, and its values are those
	 * of the converted copy bit for bit. */
	void *data;
	void *lut;
	/* An image input [B,C,H,W] of floats (not labels): its C, H, W, which
	 * augmentation needs; 0 for any other. zero[c] is the normalised value
	 * of a raw 0 in channel c, the value of a crop's padding pixels. With a
	 * per-channel data.mean or data.std, plane = H*W and lut holds 256
	 * values per channel (channel c's at lut + 256c); else plane = 0 and
	 * zero[0], the single lut, serve every channel. */
	int64_t chan, height, width;
	int64_t plane;
	double zero[RT_DATA_MAX_CHANNELS];
} rt_dataset_col;

typedef struct {
	rt_dataset_col *col;
	int ncol;
	int64_t n;       /* examples (after limit_train / limit_test) */
} rt_dataset;

/* 1 if the runtime fills this slot from a data file. */
int rt_dataset_is_data_input(const rt_slot *s);

/* The splits a recipe's data names files for. */
enum { RT_SPLIT_TRAIN = 0, RT_SPLIT_TEST = 1, RT_SPLIT_VAL = 2 };

/* Loads the RT_SPLIT_* split `which` of `dc` for exec x. Relative paths
 * are taken under data_dir when it is not NULL. On error nothing is left
 * allocated. */
int rt_dataset_load(rt_dataset *ds, const data_config *dc, int which, const char *data_dir,
                    const rt_exec *x, rt_err *err);
void rt_dataset_free(rt_dataset *ds);

/*
 * data.val_split (rt_dataset_val.c): the validation rows held out of the
 * training split, a pure function of (n, fraction, seed):
 *   nval = the nearest integer to fraction * n (halves round up), which
 *   must be at least 1 and leave a training row;
 *   a Fisher-Yates permutation of [0, n), drawn exactly as an epoch's
 *   shuffle (rt_dataset_order) but from Philox stream
 *   rt_dataset_val_stream() of the run's seed; its first nval entries,
 *   sorted, are the validation rows.
 * rt_dataset_val_rows writes those nval row indices (ascending) to rows
 * (n entries of room) and returns nval, or -1 when fraction * n holds no
 * row or leaves no training row.
 * rt_dataset_hold_out moves them out of ds (the training split, after
 * data.limit_train) into val; both keep the file order of their rows. The
 * epochs then shuffle and train on the remaining rows only.
 */
uint64_t rt_dataset_val_stream(void);
int64_t rt_dataset_val_rows(int64_t n, double fraction, uint64_t seed, int64_t *rows);
int rt_dataset_hold_out(rt_dataset *ds, double fraction, uint64_t seed, rt_dataset *val,
                        rt_err *err);

/* The example order of an epoch: a Fisher-Yates permutation of [0, n)
 * driven by Philox stream (rt_dataset_shuffle_stream(epoch)); the same seed
 * and epoch give the same order, which makes resume exact. */
uint64_t rt_dataset_shuffle_stream(int64_t epoch);
void rt_dataset_order(int64_t n, uint64_t seed, int64_t epoch, int64_t *order);

/* Batches per pass: drop_last drops the short tail, else it is padded. */
int64_t rt_dataset_nbatches(int64_t n, int64_t batch, int drop_last);

/* How rows past the end of the split are filled. */
typedef enum {
	RT_PAD_WRAP,  /* training: repeat examples from the start of the order */
	RT_PAD_ZERO   /* evaluation: zeros, masked out */
} rt_pad_mode;

/*
 * Copies examples order[first .. first+batch) into dst[c] (one buffer per
 * column, batch * col[c].row elements). Rows beyond n are padded per `pad`.
 * If mask is not NULL it receives 1 for real rows and 0 for padding, in
 * mask_dtype (RT_F32 or RT_F64). Returns the number of real rows. With a
 * pool (may be NULL) the rows are split over its threads: shuffled rows
 * wait on memory, and each thread keeps its own misses in flight.
 */
int64_t rt_dataset_fill(const rt_dataset *ds, const int64_t *order, int64_t first,
                        int64_t batch, rt_pad_mode pad, void *const *dst, void *mask,
                        rt_dtype mask_dtype, rt_pool *pool);

/*
 * Augmentation of the image columns of a training batch, as torchvision's
 * CIFAR recipe: RandomCrop(size, padding) on the raw pixels (padding pixels
 * are raw 0, i.e. `zero` after normalisation), then RandomHorizontalFlip
 * (p = 0.5), then Cutout (DeVries & Taylor 2017: a square of side `cutout`
 * centred uniformly in the image, clipped at its edges, set to 0 after
 * normalisation). Every channel of an example shares its draws.
 *
 * The draws of example e in epoch `epoch` are the Philox blocks
 * (seed, rt_dataset_augment_stream(epoch), 2e) and (.., 2e + 1): a pure
 * function of (seed, epoch, example), so batches are the same whatever the
 * thread count, and a resumed run draws what the uninterrupted one did.
 */
typedef struct {
	const data_augment *cfg;
	uint64_t seed;
	int64_t epoch;
} rt_augment;

uint64_t rt_dataset_augment_stream(int64_t epoch);
/* 1 if cfg asks for any augmentation. */
int rt_augment_on(const data_augment *cfg);
/* Checks cfg against the split's columns: one image column at least, and
 * a crop size equal to each one's H and W. */
int rt_dataset_augment_check(const rt_dataset *ds, const data_augment *cfg, rt_err *err);
/* The offsets of example e's crop in its padded image, in [0, 2 * padding]
 * (top, left), whether it is flipped, and its cutout centre (cy, cx). */
void rt_augment_draw(const rt_augment *a, int64_t e, int64_t h, int64_t w, int64_t *top,
                     int64_t *left, int *flip, int64_t *cy, int64_t *cx);
/* Example e of col, augmented, into d (col->row elements of col->dtype). */
void rt_augment_row(const rt_augment *a, const rt_dataset_col *col, int64_t e, void *d);

/* rt_dataset_fill with aug (NULL: none) applied to every image column. */
int64_t rt_dataset_fill_aug(const rt_dataset *ds, const int64_t *order, int64_t first,
                            int64_t batch, rt_pad_mode pad, void *const *dst, void *mask,
                            rt_dtype mask_dtype, rt_pool *pool, const rt_augment *aug);

#endif
