/* Runs a model compiled with `whittle compile --name model` on one input stored as a
 * float32 .npy file, and prints the outputs and the index of the largest one.
 *
 *   whittle compile MODEL.onnx --name model -o gen
 *   cc -std=c99 -O2 -Igen Examples/host/main.c gen/model.c gen/model_weights.c -lm -o run_model
 *   ./run_model input.npy
 */
#include <stdio.h>
#include <string.h>
#include "model.h"

static float input[MODEL_INPUT_0_SIZE];
static float output[MODEL_OUTPUT_0_SIZE];

/* Reads a little-endian float32 .npy (version 1 or 2) with MODEL_INPUT_0_SIZE elements. */
static int read_npy(const char *path) {
    unsigned char head[12];
    size_t header_length, skip;
    char header[4096];
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); return 1; }
    if (fread(head, 1, 10, f) != 10 || memcmp(head, "\x93NUMPY", 6) != 0) { fprintf(stderr, "%s is not a .npy file\n", path); fclose(f); return 1; }
    if (head[6] == 1) {
        header_length = (size_t)head[8] | ((size_t)head[9] << 8);
    } else {
        if (fread(head + 10, 1, 2, f) != 2) { fclose(f); return 1; }
        header_length = (size_t)head[8] | ((size_t)head[9] << 8) | ((size_t)head[10] << 16) | ((size_t)head[11] << 24);
    }
    skip = header_length < sizeof header ? header_length : sizeof header - 1;
    if (fread(header, 1, skip, f) != skip) { fclose(f); return 1; }
    header[skip] = 0;
    if (!strstr(header, "'<f4'") || strstr(header, "'fortran_order': True")) {
        fprintf(stderr, "%s must hold float32 values in C order\n", path);
        fclose(f);
        return 1;
    }
    if (fread(input, sizeof(float), MODEL_INPUT_0_SIZE, f) != MODEL_INPUT_0_SIZE) {
        fprintf(stderr, "%s does not hold %d values\n", path, MODEL_INPUT_0_SIZE);
        fclose(f);
        return 1;
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    int i, best = 0;
    if (argc != 2) { fprintf(stderr, "usage: %s INPUT.npy\n", argv[0]); return 2; }
    if (read_npy(argv[1])) return 1;
    if (model_run(input, output) != 0) return 1;
    for (i = 0; i < MODEL_OUTPUT_0_SIZE; ++i) {
        printf("output[%d] = %.6f\n", i, (double)output[i]);
        if (output[i] > output[best]) best = i;
    }
    printf("top class: %d\n", best);
    return 0;
}
