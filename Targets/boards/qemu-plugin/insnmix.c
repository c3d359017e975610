/* insnmix: how often each instruction ran between the entries of two functions (start=ADDR,end=ADDR:
 * the benchmark markers around one inference), how often it ran straight after the instruction
 * before it in memory, and how often the next instruction executed was not the one after it in
 * memory. With the program's disassembly that is enough to price the run on a core's timing table:
 * the last count is how often a branch was taken, and a load follows a load or store as often as it
 * was reached in sequence after one.
 *
 * segments=FILE names address ranges, one "LOW HIGH" pair (hex, HIGH exclusive) per line: the
 * model's layer functions and its run function. Each instruction counts towards the segment whose
 * range most recently executed an instruction, so a library kernel counts towards the layer that
 * called it (segment -1: before any).
 *
 * Output through -d plugin, at exit: "mix: SEGMENT ADDRESS COUNT SEQUENTIAL LEFT" per executed
 * (segment, instruction) of the last region, then "mix-region: count=N last=L". Counting uses a callback per
 * instruction; single vCPU. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "qemu_plugin_api_v1.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

/* One instruction's counts while a segment was current. */
typedef struct tally {
    int segment;
    uint64_t count, sequential, left;
    struct tally *next;
} tally_t;

/* One instruction address: its size, the segment whose range holds it (or -1) and its tallies. */
typedef struct site {
    uint64_t pc;
    uint32_t size;
    int segment;
    tally_t *tallies, *last;
    struct site *next_in_bucket, *next_site;
} site_t;

#define BUCKETS 65536u
static site_t *buckets[BUCKETS], *all_sites;
static uint64_t start_pc = UINT64_MAX, end_pc = UINT64_MAX;
static uint64_t (*ranges)[2];
static size_t range_count;
static int in_region, current = -1;
static uint64_t expected_pc, region_last, regions, counted;
static tally_t *previous;

static void *allocate(size_t bytes) {
    void *p = calloc(1, bytes);
    if (!p) { fprintf(stderr, "insnmix: out of memory\n"); exit(1); }
    return p;
}

static site_t *site_for(uint64_t pc, uint32_t size) {
    const size_t h = (size_t)((pc >> 1) * 0x9E3779B97F4A7C15ull >> 48) % BUCKETS;
    site_t *s;
    for (s = buckets[h]; s; s = s->next_in_bucket) {
        if (s->pc == pc) return s;
    }
    s = allocate(sizeof *s);
    s->pc = pc;
    s->size = size;
    s->segment = -1;
    for (size_t r = 0; r < range_count; r++) {
        if (pc >= ranges[r][0] && pc < ranges[r][1]) { s->segment = (int)r; break; }
    }
    s->next_in_bucket = buckets[h];
    buckets[h] = s;
    s->next_site = all_sites;
    all_sites = s;
    return s;
}

static void on_start(unsigned int vcpu, void *data) {
    (void)vcpu; (void)data;
    /* Only the last region is reported: counts start again. */
    for (site_t *s = all_sites; s; s = s->next_site) {
        for (tally_t *t = s->tallies; t; t = t->next) { t->count = 0; t->sequential = 0; t->left = 0; }
    }
    previous = NULL;
    in_region = 1;
    current = -1;
    expected_pc = UINT64_MAX;
    counted = 0;
}

static void on_end(unsigned int vcpu, void *data) {
    (void)vcpu; (void)data;
    if (in_region) { region_last = counted; regions++; in_region = 0; }
}

static void on_exec(unsigned int vcpu, void *data) {
    site_t *s = data;
    tally_t *t;
    (void)vcpu;
    if (!in_region) return;
    if (s->segment >= 0) current = s->segment;
    t = s->last;
    if (!t || t->segment != current) {
        for (t = s->tallies; t && t->segment != current; t = t->next) {}
        if (!t) {
            t = allocate(sizeof *t);
            t->segment = current;
            t->next = s->tallies;
            s->tallies = t;
        }
        s->last = t;
    }
    t->count++;
    if (s->pc == expected_pc) t->sequential++;
    else if (previous) previous->left++;
    previous = t;
    expected_pc = s->pc + s->size;
    counted++;
}

static void translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    size_t n = qemu_plugin_tb_n_insns(tb), i;
    (void)id;
    for (i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(insn);
        /* The marker callbacks run before the instruction's own count, as in insncount. */
        if (pc == start_pc) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_start, QEMU_PLUGIN_CB_NO_REGS, NULL);
        if (pc == end_pc) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS, NULL);
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_exec, QEMU_PLUGIN_CB_NO_REGS,
                                               site_for(pc, (uint32_t)qemu_plugin_insn_size(insn)));
    }
}

static void finish(qemu_plugin_id_t id, void *data) {
    char line[160];
    (void)id; (void)data;
    for (site_t *s = all_sites; s; s = s->next_site) {
        for (tally_t *t = s->tallies; t; t = t->next) {
            if (!t->count) continue;
            snprintf(line, sizeof line, "mix: %d 0x%" PRIx64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", t->segment, s->pc, t->count,
                     t->sequential, t->left);
            qemu_plugin_outs(line);
        }
    }
    snprintf(line, sizeof line, "mix-region: count=%" PRIu64 " last=%" PRIu64 "\n", regions, region_last);
    qemu_plugin_outs(line);
}

static int read_segments(const char *path) {
    FILE *f = fopen(path, "r");
    unsigned long long low, high;
    size_t capacity = 0;
    if (!f) { fprintf(stderr, "insnmix: cannot open %s\n", path); return -1; }
    while (fscanf(f, "%llx %llx", &low, &high) == 2) {
        if (range_count == capacity) {
            capacity = capacity ? 2 * capacity : 64;
            ranges = realloc(ranges, capacity * sizeof *ranges);
            if (!ranges) { fclose(f); return -1; }
        }
        /* Thumb addresses have bit 0 set in symbol tables; instruction addresses do not. */
        ranges[range_count][0] = low & ~1ull;
        ranges[range_count][1] = high & ~1ull;
        range_count++;
    }
    fclose(f);
    return 0;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    int i;
    (void)info;
    for (i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "start=", 6)) start_pc = strtoull(argv[i] + 6, NULL, 0) & ~1ull;
        else if (!strncmp(argv[i], "end=", 4)) end_pc = strtoull(argv[i] + 4, NULL, 0) & ~1ull;
        else if (!strncmp(argv[i], "segments=", 9)) { if (read_segments(argv[i] + 9) != 0) return -1; }
        else { fprintf(stderr, "insnmix: unknown argument %s\n", argv[i]); return -1; }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, translate);
    qemu_plugin_register_atexit_cb(id, finish, NULL);
    return 0;
}
