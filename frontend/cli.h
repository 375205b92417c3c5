/*
 * cli.h - the samc command line. cli_main.c holds the table of commands
 * (name, one-line summary, usage); each command lives in its own
 * cli_<name>.c and is declared here. A command gets argv starting at its
 * own name and returns the process exit code:
 *   0 success, 1 model or data error (printed as "file:line: message"),
 *   2 usage error.
 */
#ifndef SAMC_CLI_H
#define SAMC_CLI_H

#include "fe_model.h"
#include "pass_pipeline.h"
#include "pass_table.h"

enum { CLI_OK = 0, CLI_ERR_MODEL = 1, CLI_ERR_USAGE = 2 };

typedef struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary; /* one line for `samc --help` */
	const char *usage;   /* full text for `samc <name> --help` */
} cli_command;

/* The options every command that reads a model shares. */
#define CLI_MAX_SETS 64
typedef struct {
	const char *model;              /* the model file path, as given */
	fe_options fe;                  /* fe.sets points at `sets` */
	const char *sets[CLI_MAX_SETS];
	const char *args[FE_MAX_ARGS];  /* --arg name=value; fe.args points here */
	int rank;                       /* a data-parallel run's rank (fe.ranks of them):
	                                   every rank reads the same file, rank 0 says
	                                   what is wrong with it */
} cli_model_args;

void cli_model_args_init(cli_model_args *a);

/* Tries to consume argv[*i] (and its value) as a shared option:
 *   --set key=value | --set=key=value, --arg name=value (model arguments),
 *   --dtype f32|f64 | --dtype=...,
 *   and the first argument not starting with '-' as the model path.
 * Returns 1 if consumed (*i advanced past it), 0 if not a shared option,
 * -1 after printing a usage error. */
int cli_take_model_arg(cli_model_args *a, int *i, int argc, char **argv, const char *cmd);

/* Value of "--name value" or "--name=value" at argv[*i]; NULL if argv[*i]
 * is not that option. Prints a usage error and sets *bad on a missing
 * value. */
const char *cli_option_value(const char *name, int *i, int argc, char **argv, int *bad);

/* Prints "samc <cmd>: <message>" and a pointer to --help; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* A usage error for an unknown option, with the closest known one:
 * `known` (NULL-terminated) and the options every model command shares,
 * and with_train the training options too. Returns 2. */
int cli_unknown_option(const char *cmd, const char *opt, const char *const *known,
                       int with_train);

/* Loads the model (fe_load_model) and prints the error on failure. */
int cli_load_model(const cli_model_args *a, ir_model **out);

/* Commands */
int cli_emit(int argc, char **argv);
int cli_steps(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_build(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_plot(int argc, char **argv);

/* FNV-1a over the printed programs (cli_train.c): checkpoints record it,
 * and a trainer from `samc build` carries the same. out: 16 hex digits. */
void cli_program_hash(const pass_programs *p, char out[17]);
/* The hash of the programs the model compiles to in one process (what a
 * checkpoint of a data-parallel run records, so that it resumes with any
 * number of ranks): 0, or -1 when they do not build (cli_train.c). */
int cli_one_process_hash(const cli_model_args *ma, const pass_options *po, char out[17]);

#endif
