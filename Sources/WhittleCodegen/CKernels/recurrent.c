/* recurrent.c: RNN, LSTM and GRU layers (float), following the equations of the ONNX specification. */
#include <math.h>
#include <stddef.h>
#include "whittle_kernels.h"

/* Activation function `kind` of whittle_rnn (numbered as in whittle_kernels.h) applied to v. */
static float whittle_rnn_activation(int kind, float alpha, float beta, float v) {
    switch (kind) {
    case 0: /* Sigmoid */ return 1.0f / (1.0f + expf(-v));
    case 1: /* Tanh */ return tanhf(v);
    case 2: /* Relu */ return v < 0.0f ? 0.0f : v;
    case 3: /* Affine */ return alpha * v + beta;
    case 4: /* LeakyRelu */ return v < 0.0f ? alpha * v : v;
    case 5: /* ThresholdedRelu */ return v > alpha ? v : 0.0f;
    case 6: /* ScaledTanh */ return alpha * tanhf(beta * v);
    case 7: /* HardSigmoid */ {
        float h = alpha * v + beta;
        return h < 0.0f ? 0.0f : (h > 1.0f ? 1.0f : h);
    }
    case 8: /* Elu */ return v < 0.0f ? alpha * (expf(v) - 1.0f) : v;
    case 9: /* Softsign */ return v / (1.0f + fabsf(v));
    default: return logf(1.0f + expf(v)); /* 10: Softplus */
    }
}

/* A gate's input clipped to [-clip, clip] (clip 0: unchanged). */
static float whittle_rnn_clip(float clip, float v) {
    if (clip <= 0.0f) { return v; }
    return v < -clip ? -clip : (v > clip ? clip : v);
}

WHITTLE_KERNEL void whittle_recurrent_f32(const whittle_rnn *g, const float *x, const float *w, const float *r, const float *b,
                                          const int32_t *lengths, const float *h0, const float *c0, const float *p,
                                          float *y, float *yh, float *yc, float *scratch) {
    const int hidden = g->hidden, gates = g->gates, inputs = g->input, batch = g->batch, steps = g->steps;
    const int directions = g->directions, lstm = (int)(gates == 4), rnn = (int)(gates == 1), rows = gates * hidden;
    const int per = lstm != 0 ? (int)3 : (rnn != 0 ? (int)1 : (int)2);
    float *state = scratch, *cell = state + hidden, *wx = cell + hidden, *rh = wx + rows, *tmp = rh + rows;
    int d, n, s, i, j, k;
    if (y != NULL) {
        for (i = 0; i < steps * directions * batch * hidden; ++i) { y[i] = 0.0f; }
    }
    for (d = 0; d < directions; ++d) {
        const int reverse = (int)(g->reverse != 0 || d == 1);
        const int fa = d * per, ga = rnn != 0 ? fa : fa + 1, ha = lstm != 0 ? fa + 2 : ga;
        const float *wd = w + d * rows * inputs, *rd = r + d * rows * hidden;
        const float *bd = b ? b + d * 2 * rows : NULL, *pd = p ? p + d * 3 * hidden : NULL;
        for (n = 0; n < batch; ++n) {
            /* The states of (direction d, batch entry n) in either layout. */
            const int at = g->layout == 0 ? (d * batch + n) * hidden : (n * directions + d) * hidden;
            int length = lengths ? (int)lengths[n] : steps;
            if (length > steps) { length = steps; }
            if (length < 0) { length = 0; }
            for (j = 0; j < hidden; ++j) {
                state[j] = h0 ? h0[at + j] : 0.0f;
                cell[j] = c0 ? c0[at + j] : 0.0f;
            }
            for (s = 0; s < length; ++s) {
                const int t = reverse ? length - 1 - s : s;
                const float *xt = x + (g->layout == 0 ? (t * batch + n) * inputs : (n * steps + t) * inputs);
                /* W x + Wb and R h + Rb, kept apart for the GRU's reset gate. */
                for (i = 0; i < rows; ++i) {
                    const float *wi = wd + i * inputs, *ri = rd + i * hidden;
                    float a = bd ? bd[i] : 0.0f, c = bd ? bd[rows + i] : 0.0f;
                    for (k = 0; k < inputs; ++k) { a += wi[k] * xt[k]; }
                    for (k = 0; k < hidden; ++k) { c += ri[k] * state[k]; }
                    wx[i] = a;
                    rh[i] = c;
                }
                if (rnn != 0) {
                    for (j = 0; j < hidden; ++j) {
                        state[j] = whittle_rnn_activation(g->activation[fa], g->alpha[fa], g->beta[fa], whittle_rnn_clip(g->clip, wx[j] + rh[j]));
                    }
                } else if (lstm != 0) {
                    /* Every product of the old state is done, so the states update in place. */
                    for (j = 0; j < hidden; ++j) {
                        const float gi = whittle_rnn_activation(g->activation[fa], g->alpha[fa], g->beta[fa],
                                                                whittle_rnn_clip(g->clip, wx[j] + rh[j] + (pd ? pd[j] * cell[j] : 0.0f)));
                        float gf = whittle_rnn_activation(g->activation[fa], g->alpha[fa], g->beta[fa],
                                                          whittle_rnn_clip(g->clip, wx[2 * hidden + j] + rh[2 * hidden + j] +
                                                                                        (pd ? pd[2 * hidden + j] * cell[j] : 0.0f)));
                        const float gc = whittle_rnn_activation(g->activation[ga], g->alpha[ga], g->beta[ga],
                                                                whittle_rnn_clip(g->clip, wx[3 * hidden + j] + rh[3 * hidden + j]));
                        float go;
                        if (g->input_forget != 0) { gf = 1.0f - gi; }
                        cell[j] = gf * cell[j] + gi * gc;
                        go = whittle_rnn_activation(g->activation[fa], g->alpha[fa], g->beta[fa],
                                                    whittle_rnn_clip(g->clip, wx[hidden + j] + rh[hidden + j] +
                                                                                  (pd ? pd[hidden + j] * cell[j] : 0.0f)));
                        state[j] = go * whittle_rnn_activation(g->activation[ha], g->alpha[ha], g->beta[ha], cell[j]);
                    }
                } else {
                    /* z goes to wx[0..hidden), r to tmp; the new state to rh[0..hidden), free by then. */
                    for (j = 0; j < hidden; ++j) {
                        wx[j] = whittle_rnn_activation(g->activation[fa], g->alpha[fa], g->beta[fa],
                                                       whittle_rnn_clip(g->clip, wx[j] + rh[j]));
                        tmp[j] = whittle_rnn_activation(g->activation[fa], g->alpha[fa], g->beta[fa],
                                                        whittle_rnn_clip(g->clip, wx[hidden + j] + rh[hidden + j]));
                    }
                    for (j = 0; j < hidden; ++j) {
                        float a;
                        if (g->linear_before_reset != 0) {
                            a = wx[2 * hidden + j] + tmp[j] * rh[2 * hidden + j];
                        } else {
                            const float *ri = rd + (2 * hidden + j) * hidden;
                            float c = bd ? bd[rows + 2 * hidden + j] : 0.0f;
                            for (k = 0; k < hidden; ++k) { c += ri[k] * (tmp[k] * state[k]); }
                            a = wx[2 * hidden + j] + c;
                        }
                        a = whittle_rnn_activation(g->activation[ga], g->alpha[ga], g->beta[ga], whittle_rnn_clip(g->clip, a));
                        rh[j] = (1.0f - wx[j]) * a + wx[j] * state[j];
                    }
                    for (j = 0; j < hidden; ++j) { state[j] = rh[j]; }
                }
                if (y != NULL) {
                    float *yt = y + (g->layout == 0 ? ((t * directions + d) * batch + n) * hidden : ((n * steps + t) * directions + d) * hidden);
                    for (j = 0; j < hidden; ++j) { yt[j] = state[j]; }
                }
            }
            for (j = 0; j < hidden; ++j) {
                if (yh != NULL) { yh[at + j] = state[j]; }
                if (yc != NULL) { yc[at + j] = cell[j]; }
            }
        }
    }
}
