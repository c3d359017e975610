/* insncount: counts the guest instructions executed between the entries of two
 * functions (start=ADDR,end=ADDR: the benchmark markers around one inference).
 * Counting is per instruction, inline; single vCPU. Do not combine with -icount.
 * Output, through -d plugin: "insns: TOTAL" and "region: count=N last=L sum=S". */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "qemu_plugin_api_v1.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

static uint64_t total, mark, region_sum, region_last, regions;
static uint64_t start_pc = UINT64_MAX, end_pc = UINT64_MAX;
static int open_region;

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
    }
}

static void finish(qemu_plugin_id_t id, void *data) {
    char line[256];
    (void)id; (void)data;
    snprintf(line, sizeof line, "insns: %" PRIu64 "\n", total);
    qemu_plugin_outs(line);
    snprintf(line, sizeof line, "region: count=%" PRIu64 " last=%" PRIu64 " sum=%" PRIu64 "\n", regions, region_last, region_sum);
    qemu_plugin_outs(line);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    int i;
    (void)info;
    for (i = 0; i < argc; i++) {
        /* Thumb addresses have bit 0 set in symbol tables; instruction addresses do not. */
        if (!strncmp(argv[i], "start=", 6)) start_pc = strtoull(argv[i] + 6, NULL, 0) & ~1ull;
        else if (!strncmp(argv[i], "end=", 4)) end_pc = strtoull(argv[i] + 4, NULL, 0) & ~1ull;
        else { fprintf(stderr, "insncount: unknown argument %s\n", argv[i]); return -1; }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, translate);
    qemu_plugin_register_atexit_cb(id, finish, NULL);
    return 0;
}
