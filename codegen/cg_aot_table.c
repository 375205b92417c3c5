/*
 * cg_aot_table.c - the generated C of a standalone trainer (see cg_aot.h):
 * each step's rt_prog table with extern declarations of its kernels, the
 * recipe (its fields as the recipe schema lists them), the program hash
 * and a main() that calls rt_aot_main. Floats are written as hexadecimal
 * literals, so every value is exact.
 */
#include <math.h>
#include <string.h>

#include "cg_aot.h"
#include "llvm/cg_target.h"
#include "rt_aot.h"
#include "rt_recipe_schema.h"

static const char *const step_names[CG_AOT_NSTEPS] = {"sam", "base", "eval", "acc",
                                                      "sam_acc", "upd", "upd_sam"};

const char *cg_aot_step_name(int step)
{
	return step >= 0 && step < CG_AOT_NSTEPS ? step_names[step] : "?";
}

/* A C string literal (or NULL). */
static void str(FILE *f, const char *s)
{
	if (!s) {
		fputs("NULL", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\%03o", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void dbl(FILE *f, double v)
{
	if (isnan(v))
		fputs("NAN", f);
	else if (isinf(v))
		fputs(v < 0 ? "-INFINITY" : "INFINITY", f);
	else
		fprintf(f, "%a", v);
}

static const char *const role_names[] = {"RT_SLOT_PARAM", "RT_SLOT_STATE", "RT_SLOT_INPUT"};
static const char *const init_names[] = {"RT_INIT_ZEROS", "RT_INIT_ONES", "RT_INIT_UNIFORM",
                                         "RT_INIT_NORMAL", "RT_INIT_CONST"};

static const char *dtype_name(rt_dtype t)
{
	return t == RT_F32 ? "RT_F32" : t == RT_F64 ? "RT_F64" : "RT_I32";
}

static void write_slots(FILE *f, const char *s, const rt_prog *p)
{
	fprintf(f, "static const rt_slot %s_slots[] = {\n", s);
	for (int i = 0; i < p->nslots; i++) {
		const rt_slot *sl = &p->slots[i];
		fputs("\t{.name = ", f);
		str(f, sl->name);
		fprintf(f, ", .role = %s, .dtype = %s, .rank = %d, .dim = {", role_names[sl->role],
		        dtype_name(sl->dtype), sl->rank);
		for (int d = 0; d < sl->rank; d++)
			fprintf(f, "%s%lld", d ? ", " : "", (long long)sl->dim[d]);
		if (sl->rank == 0)
			fputs("0", f);
		fprintf(f, "},\n\t .init = %s, .init_a = ", init_names[sl->init]);
		dbl(f, sl->init_a);
		fputs(", .init_b = ", f);
		dbl(f, sl->init_b);
		fprintf(f, ", .nclasses = %d},\n", sl->nclasses);
	}
	fprintf(f, "\t{0}\n};\n");
}

/* A convolution kernel's descriptor and operation (rt_prog.h). */
static void write_conv(FILE *f, const rt_prog_kernel *k)
{
	const rt_conv_desc *d = &k->conv;
	fprintf(f, ",\n\t .conv = {%lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, "
	           "%lld, %lld, %lld, %lld, %lld},\n\t .conv_op = %d, .conv_bias = %d",
	        (long long)d->n, (long long)d->c, (long long)d->h, (long long)d->w, (long long)d->o,
	        (long long)d->kh, (long long)d->kw, (long long)d->oh, (long long)d->ow,
	        (long long)d->stride_h, (long long)d->stride_w, (long long)d->pad_h,
	        (long long)d->pad_w, (long long)d->dil_h, (long long)d->dil_w, (long long)d->groups,
	        k->conv_op, k->conv_bias);
}

static void write_kernels(FILE *f, int step, const char *s, const rt_prog *p, int cuda)
{
	char sym[128];
	for (int i = 0; i < p->nkernels && !cuda; i++)
		if (!rt_kkind_is_call(p->kernels[i].kind)) {
			cg_aot_symbol(sym, sizeof sym, step, p->kernels[i].name);
			fprintf(f, "extern void %s(void **, int64_t, int64_t, int32_t *);\n", sym);
		}
	fprintf(f, "static const int %s_args[] = {", s);
	for (int i = 0; i < p->nkernels; i++)
		for (int j = 0; j < p->kernels[i].nargs; j++)
			fprintf(f, "%d, ", p->kernels[i].args[j]);
	fprintf(f, "0};\n");
	fprintf(f, "static const rt_prog_kernel %s_kernels[] = {\n", s);
	for (int i = 0, a = 0; i < p->nkernels; i++) {
		const rt_prog_kernel *k = &p->kernels[i];
		fprintf(f, "\t{.kind = %s, .name = ", rt_kkind_enum_name(k->kind));
		str(f, k->name);
		if (!rt_kkind_is_call(k->kind) && !cuda) { /* CUDA: the module's, by name */
			cg_aot_symbol(sym, sizeof sym, step, k->name);
			fprintf(f, ", .fn = %s", sym);
		}
		if (k->kind == RT_K_CONV)
			write_conv(f, k);
		if (k->kind == RT_K_COMM)
			fprintf(f, ", .comm_n = %lld", (long long)k->comm_n);
		fprintf(f, ", .nargs = %d, .args = %s_args + %d,\n", k->nargs, s, a);
		fprintf(f, "\t .par_extent = %lld, .work = %lld, .ta = %d, .tb = %d, .f64 = %d, "
		           ".m = %lld, .n = %lld, .k = %lld, .batch = %lld, .bf16 = %d,\n\t .fail_where = ",
		        (long long)k->par_extent, (long long)k->work, k->ta, k->tb, k->f64,
		        (long long)k->m, (long long)k->n, (long long)k->k, (long long)k->batch, k->bf16);
		str(f, k->fail_where);
		fputs(", .fail_msg = ", f);
		str(f, k->fail_msg);
		fputs(", .fail_input = ", f);
		str(f, k->fail_input);
		fprintf(f, ",\n\t .cu_grid = %lld, .cu_block = %d},\n", (long long)k->cu_grid, k->cu_block);
		a += k->nargs;
	}
	fprintf(f, "\t{0}\n};\n");
}

static void write_prog(FILE *f, int step, const rt_prog *p, int cuda)
{
	char s[32];
	snprintf(s, sizeof s, "samc_%s", cg_aot_step_name(step));
	fprintf(f, "\n/* the %s step */\n", cg_aot_step_name(step));
	write_slots(f, s, p);
	fprintf(f, "static const rt_prog_output %s_outputs[] = {\n", s);
	for (int i = 0; i < p->noutputs; i++) {
		fputs("\t{", f);
		str(f, p->outputs[i].name);
		fprintf(f, ", %d, %s},\n", p->outputs[i].buf, dtype_name(p->outputs[i].dtype));
	}
	fprintf(f, "\t{0}\n};\nstatic const rt_prog_buf %s_bufs[] = {\n", s);
	for (int i = 0; i < p->nbufs; i++)
		fprintf(f, "\t{%d, %lld, %lld},\n", p->bufs[i].slot, (long long)p->bufs[i].offset,
		        (long long)p->bufs[i].bytes);
	fprintf(f, "\t{0}\n};\nstatic const rt_prog_commit %s_commits[] = {\n", s);
	for (int i = 0; i < p->ncommits; i++)
		fprintf(f, "\t{%d, %d, %d},\n", p->commits[i].src, p->commits[i].snapshot,
		        p->commits[i].target);
	fprintf(f, "\t{0}\n};\n");
	write_kernels(f, step, s, p, cuda);
	fprintf(f, "static const rt_prog %s_prog = {\n"
	           "\t%s_slots, %d, %s_outputs, %d, %s_bufs, %d,\n"
	           "\t%s_kernels, %d, %s_commits, %d, %lld\n};\n",
	        s, s, p->nslots, s, p->noutputs, s, p->nbufs, s, p->nkernels, s, p->ncommits,
	        (long long)p->arena_bytes);
}

static void write_files(FILE *f, const char *what, const data_file *d, int n)
{
	fprintf(f, "\t.data.%s = {", what);
	for (int i = 0; i < n; i++) {
		fputs("{", f);
		str(f, d[i].input);
		fputs(", ", f);
		str(f, d[i].path);
		fputs("}, ", f);
	}
	fprintf(f, "},\n");
}

/* One schema field as a designated initializer, ".opt.lr = 0x1.999999999999ap-4". */
static void write_field(FILE *f, const rt_recipe *r, const rt_key *k)
{
	const char *at = (const char *)r + k->offset;
	fprintf(f, "\t.%s = ", k->field);
	switch (k->kind) {
	case RT_KEY_NUMBER:
		dbl(f, *(const double *)at);
		break;
	case RT_KEY_CHANNELS: {
		const data_channels *d = (const data_channels *)at;
		fputs("{.n = ", f);
		fprintf(f, "%d, .v = {", d->n);
		for (int i = 0; i < d->n; i++) {
			dbl(f, d->v[i]);
			fputs(", ", f);
		}
		fputs("}}", f);
		break;
	}
	case RT_KEY_PAIR: /* the field and the double after it (beta1, beta2) */
		dbl(f, ((const double *)at)[0]);
		fputs(",\n\t.opt.beta2 = ", f);
		dbl(f, ((const double *)at)[1]);
		break;
	case RT_KEY_INT:
	case RT_KEY_BOOL:
		fprintf(f, "%d", *(const int *)at);
		break;
	case RT_KEY_ENUM: { /* the value, and its name in a comment */
		const char *c = k->choices;
		for (int i = 0; i < *(const int *)at && c && strchr(c, '|'); i++)
			c = strchr(c, '|') + 1;
		fprintf(f, "%d /* %.*s */", *(const int *)at, c ? (int)strcspn(c, "|") : 1, c ? c : "?");
		break;
	}
	case RT_KEY_U64:
		fprintf(f, "%lluull", (unsigned long long)*(const uint64_t *)at);
		break;
	case RT_KEY_STRING:
		str(f, *(const char *const *)at);
		break;
	default:
		break;
	}
	fputs(",\n", f);
}

/* The recipe: every field the schema names, then what it holds as lists
 * (SAM groups, data files). */
static void write_recipe(FILE *f, const rt_recipe *r)
{
	const opt_config *o = &r->opt;
	fprintf(f, "\n/* the recipe */\nstatic sam_group samc_groups[] = {\n");
	for (int i = 0; i < o->ngroups; i++) {
		fputs("\t{", f);
		str(f, o->groups[i].prefix);
		fputs(", ", f);
		dbl(f, o->groups[i].rho);
		fprintf(f, ", %d},\n", o->groups[i].rho_given);
	}
	fprintf(f, "\t{0}\n};\nstatic opt_group samc_opt_groups[] = {\n");
	for (int i = 0; i < o->nparam_groups; i++) {
		const opt_group *g = &o->param_groups[i];
		fputs("\t{", f);
		str(f, g->prefix);
		fputs(", ", f);
		dbl(f, g->lr_scale);
		fputs(", ", f);
		dbl(f, g->weight_decay);
		fprintf(f, ", %d},\n", g->wd_given);
	}
	/* optimizer.no_decay is compiled into the steps; the trainer needs none */
	fprintf(f, "\t{0}\n};\nstatic const rt_recipe samc_recipe = {\n");
	int n;
	const rt_key *keys = rt_recipe_keys(&n);
	for (int i = 0; i < n; i++)
		if (keys[i].offset >= 0)
			write_field(f, r, &keys[i]);
	fprintf(f, "\t.opt.sam = %d, .opt.groups = samc_groups, .opt.ngroups = %d,\n", o->sam,
	        o->ngroups);
	fprintf(f, "\t.opt.gsam = %d,\n", o->gsam);
	fprintf(f, "\t.opt.looksam = %d, .ema = %d,\n", o->looksam, r->ema);
	fprintf(f, "\t.opt.param_groups = samc_opt_groups, .opt.nparam_groups = %d,\n",
	        o->nparam_groups);
	const data_config *d = &r->data;
	write_files(f, "train", d->train, d->ntrain);
	write_files(f, "test", d->test, d->ntest);
	write_files(f, "val", d->val, d->nval);
	fputs("\t.data.base_dir = ", f); /* relative data paths: the model's directory */
	str(f, d->base_dir);
	fprintf(f, ",\n\t.data.ntrain = %d, .data.ntest = %d, .data.nval = %d\n};\n", d->ntrain,
	        d->ntest, d->nval);
}

/* A CUDA step's PTX, one string per architecture, a line of PTX a line
 * of C. */
static void write_ptx(FILE *f, int step, const cg_step *st)
{
	const char *sn = cg_aot_step_name(step);
	fprintf(f, "\n/* the %s step's PTX */\n", sn);
	for (int a = 0; a < st->nptx; a++) {
		fprintf(f, "static const char samc_%s_ptx_%d[] =\n", sn, a);
		const char *p = st->ptx[a].text, *end = p + st->ptx[a].len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
			char line[4096];
			if (n >= sizeof line)
				n = sizeof line - 1;
			memcpy(line, p, n);
			line[n] = 0;
			fputc('\t', f);
			str(f, line);
			fputc('\n', f);
			p += n;
		}
		fputs("\t\"\";\n", f);
	}
	fprintf(f, "static const rt_aot_ptx samc_%s_ptx[] = {\n", sn);
	for (int a = 0; a < st->nptx; a++)
		fprintf(f, "\t{\"%s\", samc_%s_ptx_%d},\n", st->ptx[a].arch, sn, a);
	fputs("};\n", f);
}

/* .cpu, .cpu_llvm, .cpu_features: what the trainer checks at start */
static int write_cpu(FILE *f, const cg_target *t, char *err, size_t errlen)
{
	cg_target host;
	if (!t) { /* compiled for the host, as the JIT */
		if (cg_target_init(&host, "native", err, errlen))
			return -1;
		t = &host;
	}
	fputs("\t.cpu = ", f);
	str(f, t->spec);
	fputs(", .cpu_llvm = ", f);
	str(f, t->cpu);
	fputs(",\n\t.cpu_features = ", f);
	str(f, t->need);
	fputs(",\n", f);
	if (t == &host)
		cg_target_free(&host);
	return 0;
}

int cg_aot_write_table(FILE *f, const cg_aot_unit *u, char *err, size_t errlen)
{
	if (u->recipe->data.ntrain > 4 || u->recipe->data.ntest > 4 || u->recipe->data.nval > 4 ||
	    u->recipe->opt.ngroups < 0 || u->recipe->opt.nparam_groups < 0) {
		snprintf(err, errlen, "samc build: malformed recipe (data files or SAM groups)");
		return -1;
	}
	fprintf(f, "/* Generated by samc build from ");
	for (const char *p = u->model; *p; p++) /* keep the comment closed */
		fputc(*p == '*' ? '_' : *p, f);
	fprintf(f, ": the compiled steps' tables, the\n * recipe and main(). The kernels are in the "
	           "object file built with it. */\n"
	           "#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n\n"
	           "#include \"rt_aot.h\"\n");
	for (int s = 0; s < CG_AOT_NSTEPS; s++)
		if (u->step[s])
			write_prog(f, s, &u->step[s]->desc, u->cuda);
	for (int s = 0; s < CG_AOT_NSTEPS && u->cuda; s++)
		if (u->step[s])
			write_ptx(f, s, u->step[s]);
	write_recipe(f, u->recipe);
	fprintf(f, "\nstatic const rt_aot_model samc_model = {\n\t.abi = %d, .model = ", RT_AOT_ABI);
	str(f, u->model);
	fputs(", .program_hash = ", f);
	str(f, u->program_hash);
	fprintf(f, ",\n\t.recipe = &samc_recipe, .nparams = %d, .ranks = %d,\n", u->nparams,
	        u->ranks > 1 ? u->ranks : 1);
	if (write_cpu(f, u->target, err, errlen))
		return -1;
	for (int s = 0; s < CG_AOT_NSTEPS; s++) {
		if (u->step[s])
			fprintf(f, "\t.%s = &samc_%s_prog,\n", cg_aot_step_name(s), cg_aot_step_name(s));
		if (u->step[s] && u->cuda)
			fprintf(f, "\t.%s_ptx = samc_%s_ptx,\n", cg_aot_step_name(s), cg_aot_step_name(s));
	}
	if (u->cuda)
		fprintf(f, "\t.nptx = %d,\n", u->step[CG_AOT_EVAL] ? u->step[CG_AOT_EVAL]->nptx : 0);
	fprintf(f, "};\n\nint main(int argc, char **argv)\n{\n"
	           "\treturn rt_aot_main(&samc_model, argc, argv);\n}\n");
	if (ferror(f)) {
		snprintf(err, errlen, "samc build: error writing the generated C file");
		return -1;
	}
	return 0;
}
