/*
 * cli_main.c - samc's entry point: the command table, --help, dispatch,
 * and the option parsing shared by every command that reads a model.
 * Adding a command: write cli_<name>.c, declare it in cli.h, add a row to
 * `commands` below.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rt_args.h"
#include "rt_recipe_schema.h"

static const cli_command commands[] = {
	{"train", cli_train, "compile model.lua and train it on its recipe (also: samc model.lua)",
	 "usage: samc model.lua [options]      (or: samc train model.lua [options])\n"
	 "\n"
	 "Compiles the model and trains it as its recipe says, evaluating on the test\n"
	 "set after every epoch and printing progress and test accuracy. With\n"
	 "--metrics DIR/FILE it draws the curves after every epoch as DIR/curves.png and\n"
	 "DIR/curves.svg (samc plot draws any metrics file).\n"
	 "  --backend NAME        cpu (LLVM-compiled, the default) or interp (the reference\n"
	 "                        interpreter); --device is a synonym. cuda trains on an\n"
	 "                        NVIDIA GPU (PTX cached in $SAMC_CACHE_DIR, else\n"
	 "                        ~/.cache/samc), or says why it cannot (no driver, no\n"
	 "                        GPU, an old driver)\n"
	 "  --arg NAME=VALUE      a model argument, read by arg() in the model file (every\n"
	 "                        command that reads a model takes it)\n"
	 RT_ARGS_TRAIN_HELP},
	{"build", cli_build, "compile model.lua into a standalone trainer executable",
	 "usage: samc build model.lua -o TRAINER [--set key=value ...] [--arg name=value ...]\n"
	 "                  [--dtype f32|f64] [--cpu CPU] [--device cpu|cuda] [--cuda-arch LIST]\n"
	 "                  [--ranks N] [--cc CC] [--keep] [--verbose] [--quiet]\n"
	 "\n"
	 "Compiles the model's steps for a CPU (--cpu) into an object file and links it\n"
	 "with the samc runtime into TRAINER, which needs neither LLVM nor Lua to run.\n"
	 "Built with --cpu native it gives the same numbers as the JIT (`samc model.lua\n"
	 "--backend cpu`) bit for bit; the default runs on other machines too, and its\n"
	 "reductions may round differently where the vector width differs. Its\n"
	 "checkpoints and the JIT's are interchangeable. The recipe (data paths\n"
	 "included) is built in;\n"
	 "./TRAINER --help lists its options (--epochs, --resume, --data, --threads,\n"
	 "--seed, --metrics, --checkpoint-dir, --stop-after, --log-every, --quiet).\n"
	 "  -o, --output FILE  the trainer to write\n"
	 "  --cpu CPU          the CPU the kernels are compiled for: generic (default:\n"
	 "                     x86-64-v3 on x86-64, AVX2 and FMA), native (this machine's,\n"
	 "                     as the JIT), x86-64, x86-64-v2, x86-64-v3, x86-64-v4\n"
	 "                     (AVX-512), or a CPU name (znver3, skylake-avx512, ...: its\n"
	 "                     level's instructions, tuned for it). A trainer started on a\n"
	 "                     CPU without those features exits 1 naming them\n"
	 "  --device cuda      a CUDA trainer: the steps' PTX instead of an object file; it\n"
	 "                     needs only the NVIDIA driver, cuBLAS and (for\n"
	 "                     convolutions) cuDNN to run\n"
	 "  --cuda-arch LIST   its architectures (default compute_80,compute_90)\n"
	 "  --ranks N          a data-parallel trainer for `mpirun -np N` (README): its\n"
	 "                     steps are compiled for N ranks; it refuses another count\n"
	 "  --cc CC            C compiler that links it (default: $CC, else cc on PATH)\n"
	 "  --keep             keep FILE.samc.o (kernels) and FILE.samc.c (tables, main)\n"
	 "  --verbose          print the compiler's command line\n"
	 "  --quiet            no summary line (it gives the build time)\n"
	 "Environment: SAMC_RUNTIME_DIR, a directory with libsamcrt.a and the runtime\n"
	 "headers (there or in its include/), replaces the runtime of samc's own build.\n"
	 "SAMC_CPU_MASK=avx512f,... makes a trainer treat those features as missing\n"
	 "(to test its CPU check on a CPU that has them).\n"},
	{"export", cli_export, "write a checkpoint's weights for PyTorch (load_state_dict)",
	 "usage: samc export CKPT -o WEIGHTS [--quiet]\n"
	 "\n"
	 "Reads a checkpoint (last.safetensors, epoch-N.safetensors), verifies it and\n"
	 "writes its parameters and buffers (BatchNorm's running statistics and\n"
	 "num_batches_tracked, as int64) to WEIGHTS in safetensors under their PyTorch\n"
	 "state_dict names: torch.nn's twin of the model takes them with\n"
	 "load_state_dict(strict=True). Optimizer state and the run's metadata are left\n"
	 "out; the file's metadata is {\"format\": \"pt\"}.\n"
	 "  -o, --output FILE  the weights to write (atomically)\n"
	 "  --quiet            no summary line\n"},
	{"predict", cli_predict, "run the eval program on a data file: logits and predicted classes",
	 "usage: samc predict model.lua --weights W -o OUT [--data [INPUT=]FILE ...]\n"
	 "                    [--data-format FORMAT] [--backend NAME] [--quiet]\n"
	 "\n"
	 "Runs the model's eval program, the one training evaluates with (batch_norm\n"
	 "on its running statistics), with the weights W of a samc checkpoint or a\n"
	 "`samc export` file, on every example of the data, and writes the logits the\n"
	 "loss's cross_entropy reads, [N, classes], and the predicted classes, [N] int64\n"
	 "(the first maximum of each row).\n"
	 "  --weights W        the weights; a tensor of the model missing or of another\n"
	 "                     shape is an error\n"
	 "  --data FILE        a file for every data input (csv, safetensors, npy), or\n"
	 "  --data INPUT=FILE  one input's file (repeat: --data x=IMG --data y=LBL);\n"
	 "                     labels are read too, as the eval program reads them.\n"
	 "                     Default: the recipe's test split\n"
	 "  --data-format F    the files' format (default: the recipe's data.format)\n"
	 "  -o, --output OUT   OUT.npy writes OUT-logits.npy and OUT-classes.npy; any\n"
	 "                     other name one safetensors file (\"logits\", \"classes\")\n"
	 "  --backend NAME     cpu (the default) or interp\n"
	 "  --quiet            no summary lines\n"},
	{"plot", cli_plot, "draw the training curves of metrics files (PNG or SVG)",
	 "usage: samc plot METRICS.jsonl [MORE.jsonl ...] -o OUT.png|OUT.svg [--quiet]\n"
	 "\n"
	 "Draws the curves of the metrics files that training writes (--metrics FILE):\n"
	 "the loss and each metric per epoch (train, val and test), and the lr per\n"
	 "step, as small multiples with axes, tick labels and a legend. Several files\n"
	 "overlay, one colour per run, named by file name. The format comes from OUT's\n"
	 "extension. A run still in progress draws (its unfinished last line is left\n"
	 "out); a malformed line is an error naming the file and the line.\n"
	 "  -o, --output OUT   the picture to write (.png or .svg)\n"
	 "  --quiet            no summary line\n"},
	{"emit", cli_emit, "print an intermediate stage of the compilation",
	 "usage: samc emit --stage=STAGE [--set key=value ...] [--dtype f32|f64] model.lua\n"
	 "\n"
	 "Compiles model.lua up to STAGE and prints it on stdout.\n"
	 "Run `samc emit --stage=list` for the stages of this build.\n"},
	{"check", cli_check, "check the model's gradients against finite differences (f64)",
	 "usage: samc check model.lua [--samples N] [--tolerance T] [--set key=value ...]\n"
	 "\n"
	 "Builds the model in f64, gives params and inputs seeded random values, and\n"
	 "compares the gradient of the loss for every parameter (N sampled coordinates\n"
	 "each, default 16) with central finite differences through the reference\n"
	 "interpreter. Exits 1 when a relative error exceeds T (default 1e-6).\n"
	 "A coordinate whose window of +-1e-6 crosses a kink (relu at 0, ...) is skipped\n"
	 "and counted: there the one-sided differences disagree and the gradient is one\n"
	 "of them.\n"},
	{"steps", cli_steps, "run K training steps from given weights and batches (for checking)",
	 "usage: samc steps model.lua --init INIT.safetensors --batches BATCHES.safetensors\n"
	 "                  --steps K --out OUT.safetensors [--dtype f32|f64] [--backend NAME]\n"
	 "                  [--eval] [--set key=value ...]\n"
	 "\n"
	 "Runs K steps of the model's training recipe (optimizer, SAM, schedule) and\n"
	 "writes the result, so samc can be compared with any other framework.\n"
	 "  INIT     every parameter by its DSL name, PyTorch layout (fc1.weight [out,in])\n"
	 "  BATCHES  \"<input>.<k>\" for k = 0..K-1 (labels as I32 or I64)\n"
	 "  OUT      the parameters after K steps, optimizer state as\n"
	 "           \"opt.<param>.<buffer>\" (momentum_buffer, exp_avg, exp_avg_sq),\n"
	 "           the model's state (batch_norm's running statistics) by name,\n"
	 "           and \"loss\" [K]: the loss each step reported (SAM: the first pass's)\n"
	 "--eval: then also the eval program on batch 0 as \"eval.<output>\" (means).\n"
	 "The learning rate of step t follows the recipe's schedule over a run of K steps.\n"
	 "--backend: cpu (LLVM-compiled, the default), interp (the reference interpreter)\n"
	 "or cuda (--device is the same option).\n"
	 "Under mpirun -np N each rank takes its share of every batch in BATCHES (the\n"
	 "global batch), and of --eval's, and rank 0 writes OUT (README: several\n"
	 "processes and machines; on GPUs docs/mpi.md).\n"},
};
#define NCOMMANDS ((int)(sizeof commands / sizeof commands[0]))

static const char *const shared_options =
	"Options of every command that reads a model:\n"
	"  --set key=value   override a recipe value before validation, e.g.\n"
	"                    --set epochs=3 --set optimizer.lr=0.1 --set optimizer.sam.rho=0.1\n"
	"                    --set batch_size=64 --set optimizer.betas=0.9,0.99\n"
	"                    --set optimizer.sam.groups[1].rho=0.2 (values: numbers,\n"
	"                    true/false, strings; keys: docs/dsl.md)\n"
	"  --dtype f32|f64   float type of the program (default f32)\n";

static void cli_print_help(FILE *f)
{
	fprintf(f, "usage: samc <command> [options] model.lua\n\n"
	           "samc compiles a Lua model file (model + training recipe, see docs/dsl.md)\n"
	           "into a training program with Sharpness-Aware Minimization.\n\n"
	           "Commands:\n");
	for (int i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n%s\n"
	           "`samc <command> --help` describes a command; `samc --version` prints the version.\n"
	           "Exit status: 0 success, 1 error in the model or its data, 2 usage error.\n",
	        shared_options);
}

/* Prints a command's full help if its arguments ask for it; returns 1 then. */
static int cli_help_requested(const cli_command *c, int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(c->usage, stdout);
			fputs("\n", stdout);
			fputs(shared_options, stdout);
			return 1;
		}
	return 0;
}

static const cli_command *cli_find(const char *name)
{
	for (int i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "samc%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see samc %s%s--help)\n", cmd ? cmd : "", cmd ? " " : "");
	return CLI_ERR_USAGE;
}

void cli_model_args_init(cli_model_args *a)
{
	memset(a, 0, sizeof *a);
	fe_options_init(&a->fe);
	a->fe.sets = a->sets;
	a->fe.args = a->args;
}

const char *cli_option_value(const char *name, int *i, int argc, char **argv, int *bad)
{
	return rt_args_value(name, i, argc, argv, bad);
}

int cli_take_model_arg(cli_model_args *a, int *i, int argc, char **argv, const char *cmd)
{
	int bad = 0;
	const char *v;
	if ((v = cli_option_value("--set", i, argc, argv, &bad))) {
		if (!strchr(v, '=') || v[0] == '=')
			return cli_usage_error(cmd, "--set %s: expected key=value", v), -1;
		if (a->fe.nsets == CLI_MAX_SETS)
			return cli_usage_error(cmd, "too many --set options (at most %d)", CLI_MAX_SETS), -1;
		a->sets[a->fe.nsets++] = v;
		return 1;
	}
	if (bad)
		return cli_usage_error(cmd, "--set needs a value: --set key=value"), -1;
	if ((v = cli_option_value("--arg", i, argc, argv, &bad))) {
		if (!strchr(v, '=') || v[0] == '=')
			return cli_usage_error(cmd, "--arg %s: expected name=value", v), -1;
		if (a->fe.nargs == FE_MAX_ARGS)
			return cli_usage_error(cmd, "too many --arg options (at most %d)", FE_MAX_ARGS), -1;
		a->args[a->fe.nargs++] = v;
		return 1;
	}
	if (bad)
		return cli_usage_error(cmd, "--arg needs a value: --arg name=value"), -1;
	if ((v = cli_option_value("--dtype", i, argc, argv, &bad))) {
		if (strcmp(v, "f32") == 0)
			a->fe.fdtype = IR_F32;
		else if (strcmp(v, "f64") == 0)
			a->fe.fdtype = IR_F64;
		else
			return cli_usage_error(cmd, "--dtype must be f32 or f64, got '%s'", v), -1;
		return 1;
	}
	if (bad)
		return cli_usage_error(cmd, "--dtype needs a value: f32 or f64"), -1;
	if (argv[*i][0] == '\0') /* samc train "" : an unset shell variable */
		return cli_usage_error(cmd, "the model file name is empty"), -1;
	if (argv[*i][0] != '-' || strcmp(argv[*i], "-") == 0) {
		if (a->model)
			return cli_usage_error(cmd, "one model file only (got '%s' and '%s')",
			                       a->model, argv[*i]), -1;
		a->model = argv[(*i)++];
		return 1;
	}
	return 0;
}

int cli_unknown_option(const char *cmd, const char *opt, const char *const *known,
                       int with_train)
{
	const char *shared[] = {"--set", "--arg", "--dtype", "--help", NULL};
	const char *all[64];
	int n = 0;
	for (int i = 0; shared[i]; i++)
		all[n++] = shared[i];
	for (int i = 0; known && known[i] && n < 63; i++)
		all[n++] = known[i];
	all[n] = NULL;
	char msg[512];
	rt_args_unknown(opt, all, with_train, msg, sizeof msg);
	return cli_usage_error(cmd, "%s", msg);
}

int cli_load_model(const cli_model_args *a, ir_model **out)
{
	char err[2048];
	if (fe_load_model(a->model, &a->fe, out, err, sizeof err)) {
		if (a->rank == 0)
			fprintf(stderr, "%s\n", err);
		return CLI_ERR_MODEL;
	}
	return CLI_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cli_print_help(stderr);
		return CLI_ERR_USAGE;
	}
	const char *first = argv[1];
	if (!strcmp(first, "--version") || !strcmp(first, "-V")) {
		printf("samc %s (LLVM %s)\n", SAMC_VERSION, SAMC_LLVM_VERSION);
		return CLI_OK;
	}
	if (!strcmp(first, "--help") || !strcmp(first, "-h") || !strcmp(first, "help")) {
		if (argc > 2 && cli_find(argv[2]))
			fputs(cli_find(argv[2])->usage, stdout);
		else
			cli_print_help(stdout);
		return CLI_OK;
	}
	const cli_command *c = cli_find(first);
	if (c) {
		if (cli_help_requested(c, argc - 2, argv + 2))
			return CLI_OK;
		return c->run(argc - 1, argv + 1);
	}
	/* `samc model.lua ...` trains: the "train" command, where this build has
	 * one; it gets the whole argv (argv[0] stands where a command name would) */
	size_t n = strlen(first);
	if (n > 4 && strcmp(first + n - 4, ".lua") == 0) {
		c = cli_find("train");
		if (c && cli_help_requested(c, argc - 2, argv + 2))
			return CLI_OK;
		if (c)
			return c->run(argc, argv);
		return cli_usage_error(NULL, "this build cannot train yet; "
		                       "try `samc emit --stage=ir %s`", first);
	}
	const char *hint = NULL;
	size_t best = 3; /* at most two edits away */
	for (int i = 0; i < NCOMMANDS; i++) {
		size_t d = rt_edit_distance(first, commands[i].name);
		if (d < best && d < strlen(commands[i].name)) {
			best = d;
			hint = commands[i].name;
		}
	}
	if (hint)
		return cli_usage_error(NULL, "unknown command '%s' (did you mean '%s'?)", first, hint);
	if (first[0] == '-') {
		char msg[512];
		rt_args_unknown(first, (const char *const[]){"--help", "--version", NULL}, 0, msg,
		                sizeof msg);
		return cli_usage_error(NULL, "%s", msg);
	}
	return cli_usage_error(NULL, "unknown command '%s'", first);
}
