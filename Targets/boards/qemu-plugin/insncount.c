/* insncount: counts the guest instructions executed between the entries of two
 * functions (start=ADDR,end=ADDR: the benchmark markers around one inference).
 * Counting is per instruction, inline; single vCPU. Do not combine with -icount.
 * Output, through -d plugin: "insns: TOTAL" and "region: count=N last=L sum=S"; with profile=1
 * also "pc: ADDR COUNT" for every instruction address executed (a whole-run histogram that
 * symbols turn into instructions per function). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "qemu_plugin_api_v1.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

static uint64_t total, mark, region_sum, region_last, regions;
static uint64_t start_pc = UINT64_MAX, end_pc = UINT64_MAX;
static int open_region, profile;

/* Per-address counters for profile=1: an open-addressing table, grown by doubling. A counter's
 * address is handed to QEMU, so slots live in fixed blocks that never move. */
typedef struct { uint64_t pc, count; } slot_t;
static slot_t **blocks;
static size_t block_count, used;
static uint64_t *keys; /* pc + 1 per table entry, 0 when empty */
static slot_t **entries;
static size_t capacity;

static slot_t *new_slot(uint64_t pc) {
    const size_t per_block = 4096;
    if (used % per_block == 0) {
        blocks = realloc(blocks, (block_count + 1) * sizeof *blocks);
        blocks[block_count++] = calloc(per_block, sizeof(slot_t));
    }
    slot_t *s = &blocks[used / per_block][used % per_block];
    used++;
    s->pc = pc;
    return s;
}

static slot_t *lookup(uint64_t pc) {
    size_t i;
    if (2 * (used + 1) > capacity) {
        size_t old = capacity, j;
        uint64_t *old_keys = keys;
        slot_t **old_entries = entries;
        capacity = capacity ? 2 * capacity : 8192;
        keys = calloc(capacity, sizeof *keys);
        entries = calloc(capacity, sizeof *entries);
        for (j = 0; j < old; j++) {
            if (!old_keys[j]) continue;
            for (i = (size_t)(old_keys[j] * 0x9E3779B97F4A7C15ull) & (capacity - 1); keys[i]; i = (i + 1) & (capacity - 1)) {}
            keys[i] = old_keys[j];
            entries[i] = old_entries[j];
        }
        free(old_keys);
        free(old_entries);
    }
    for (i = (size_t)((pc + 1) * 0x9E3779B97F4A7C15ull) & (capacity - 1); keys[i]; i = (i + 1) & (capacity - 1)) {
        if (keys[i] == pc + 1) return entries[i];
    }
    keys[i] = pc + 1;
    entries[i] = new_slot(pc);
    return entries[i];
}

static void on_start(unsigned int vcpu, void *data) { (void)vcpu; (void)data; mark = total; open_region = 1; }

static void on_end(unsigned int vcpu, void *data) {
    (void)vcpu; (void)data;
    if (open_region) { region_last = total - mark; region_sum += region_last; regions++; open_region = 0; }
}

static void translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    size_t n = qemu_plugin_tb_n_insns(tb), i;
    (void)id;
    for (i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(insn);
        /* The marker callbacks run before the instruction's own count is added. */
        if (pc == start_pc) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_start, QEMU_PLUGIN_CB_NO_REGS, NULL);
        if (pc == end_pc) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS, NULL);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &total, 1);
        if (profile) qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &lookup(pc)->count, 1);
    }
}

static void finish(qemu_plugin_id_t id, void *data) {
    char line[256];
    (void)id; (void)data;
    snprintf(line, sizeof line, "insns: %" PRIu64 "\n", total);
    qemu_plugin_outs(line);
    snprintf(line, sizeof line, "region: count=%" PRIu64 " last=%" PRIu64 " sum=%" PRIu64 "\n", regions, region_last, region_sum);
    qemu_plugin_outs(line);
    for (size_t b = 0; b < used; b++) {
        const slot_t *s = &blocks[b / 4096][b % 4096];
        if (!s->count) continue;
        snprintf(line, sizeof line, "pc: 0x%" PRIx64 " %" PRIu64 "\n", s->pc, s->count);
        qemu_plugin_outs(line);
    }
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    int i;
    (void)info;
    for (i = 0; i < argc; i++) {
        /* Thumb addresses have bit 0 set in symbol tables; instruction addresses do not. */
        if (!strncmp(argv[i], "start=", 6)) start_pc = strtoull(argv[i] + 6, NULL, 0) & ~1ull;
        else if (!strncmp(argv[i], "end=", 4)) end_pc = strtoull(argv[i] + 4, NULL, 0) & ~1ull;
        else if (!strcmp(argv[i], "profile=1")) profile = 1;
        else { fprintf(stderr, "insncount: unknown argument %s\n", argv[i]); return -1; }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, translate);
    qemu_plugin_register_atexit_cb(id, finish, NULL);
    return 0;
}
