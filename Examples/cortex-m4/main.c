/* Keyword spotting on a Cortex-M4F: runs the compiled model on one test vector and
 * prints the class probabilities and the top class through semihosting. */
#include "input.h"
#include "model.h"
#include "semihost.h"

static float probabilities[MODEL_OUTPUT_0_SIZE];

int main(void) {
    int i, best = 0;
    if (model_run(kws_input, probabilities) != 0) return 1;
    for (i = 0; i < MODEL_OUTPUT_0_SIZE; ++i) {
        sh_puts("class ");
        sh_put_int(i);
        sh_puts(": ");
        sh_put_float(probabilities[i]);
        sh_puts("\n");
        if (probabilities[i] > probabilities[best]) best = i;
    }
    sh_puts("top class: ");
    sh_put_int(best);
    sh_puts("\n");
    return 0;
}
