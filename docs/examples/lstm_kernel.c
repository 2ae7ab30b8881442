/*
 * lstm_kernel.c: a float32 LSTM forward pass in C99, with PyTorch's weight layout.
 *
 * Weights, as torch.nn.LSTM packs them for one layer (row-major, gate blocks i, f, g, o):
 *   w_ih (4n x m), w_hh (4n x n), b_ih (4n), b_hh (4n)
 * For each step t and batch row b, with z = w_ih x_t + b_ih + w_hh h_(t-1) + b_hh:
 *   i = sigmoid(z_i), f = sigmoid(z_f), g = tanh(z_g), o = sigmoid(z_o)
 *   c_t = f * c_(t-1) + i * g,  h_t = o * tanh(c_t)
 *
 * The program reads raw little-endian float32 files from the current folder:
 *   weights.bin (w_ih, w_hh, b_ih, b_hh one after the other), x.bin (T x B x m,
 *   time-major), h0.bin and c0.bin (B x n)
 * and writes y.bin (T x B x n, every h_t), h_T.bin and c_T.bin (B x n).
 *
 *   cc -O2 -std=c99 -o lstm_kernel lstm_kernel.c -lm
 *   ./lstm_kernel T B m n
 *
 * Each of these compile-time switches plants a realistic mistake, for the tutorial in
 * docs/validation.md to find:
 *   -DBUG_GATE_ORDER     the gate blocks are read as i, g, f, o
 *   -DBUG_TRANSPOSED_U   each gate's recurrent matrix is read transposed
 *   -DBUG_FORGET_BIAS    a forget bias of 1 is added inside sigmoid(f), as Keras'
 *                        unit_forget_bias and TF1's forget_bias do (PyTorch does not)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Where each gate's block starts in the packed arrays, in units of n rows. */
#ifdef BUG_GATE_ORDER
enum { GATE_I = 0, GATE_G = 1, GATE_F = 2, GATE_O = 3 };
#else
enum { GATE_I = 0, GATE_F = 1, GATE_G = 2, GATE_O = 3 };
#endif

#ifdef BUG_FORGET_BIAS
#define FORGET_BIAS 1.0f
#else
#define FORGET_BIAS 0.0f
#endif

static float sigmoid(float z) { return 1.0f / (1.0f + expf(-z)); }

/* Element (r, j) of gate k's recurrent matrix U_k (n x n) in w_hh. */
static float recurrent(const float *w_hh, int n, int k, int r, int j)
{
#ifdef BUG_TRANSPOSED_U
    return w_hh[(k * n + j) * n + r];
#else
    return w_hh[(k * n + r) * n + j];
#endif
}

/*
 * One layer over T steps. h and c hold h0 and c0 (B x n) on entry and h_T and c_T on
 * return; y receives every h_t (T x B x n); z is scratch space for 4n floats.
 */
void lstm_forward(int T, int B, int m, int n, const float *w_ih, const float *w_hh,
                  const float *b_ih, const float *b_hh, const float *x, float *h, float *c,
                  float *y, float *z)
{
    for (int t = 0; t < T; t++) {
        for (int b = 0; b < B; b++) {
            const float *x_t = x + ((size_t)t * B + b) * m;
            float *h_b = h + (size_t)b * n, *c_b = c + (size_t)b * n;
            for (int r = 0; r < 4 * n; r++) { /* every gate's pre-activation */
                int k = r / n, row = r % n;
                float sum = b_ih[r] + b_hh[r];
                for (int j = 0; j < m; j++)
                    sum += w_ih[(size_t)r * m + j] * x_t[j];
                for (int j = 0; j < n; j++)
                    sum += recurrent(w_hh, n, k, row, j) * h_b[j];
                z[r] = sum;
            }
            for (int r = 0; r < n; r++) { /* the gates, then c_t and h_t */
                float i = sigmoid(z[GATE_I * n + r]);
                float f = sigmoid(z[GATE_F * n + r] + FORGET_BIAS);
                float g = tanhf(z[GATE_G * n + r]);
                float o = sigmoid(z[GATE_O * n + r]);
                c_b[r] = f * c_b[r] + i * g;
                h_b[r] = o * tanhf(c_b[r]);
            }
            for (int r = 0; r < n; r++)
                y[((size_t)t * B + b) * n + r] = h_b[r];
        }
    }
}

/* Raw float32 files; this program assumes a little-endian machine (x86, ARM). */
static float *read_floats(const char *path, size_t count)
{
    float *data = malloc(count * sizeof *data);
    FILE *file = fopen(path, "rb");
    if (!data || !file || fread(data, sizeof *data, count, file) != count || fgetc(file) != EOF) {
        fprintf(stderr, "lstm_kernel: cannot read %zu floats from %s\n", count, path);
        exit(2);
    }
    fclose(file);
    return data;
}

static void write_floats(const char *path, const float *data, size_t count)
{
    FILE *file = fopen(path, "wb");
    if (!file || fwrite(data, sizeof *data, count, file) != count || fclose(file) != 0) {
        fprintf(stderr, "lstm_kernel: cannot write %s\n", path);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: lstm_kernel T B input hidden\n");
        return 2;
    }
    int T = atoi(argv[1]), B = atoi(argv[2]), m = atoi(argv[3]), n = atoi(argv[4]);
    if (T < 1 || B < 1 || m < 1 || n < 1) {
        fprintf(stderr, "lstm_kernel: T, B, input and hidden must be positive\n");
        return 2;
    }
    size_t G = 4 * (size_t)n, state = (size_t)B * n;
    float *weights = read_floats("weights.bin", G * m + G * n + 2 * G);
    float *w_ih = weights, *w_hh = w_ih + G * m, *b_ih = w_hh + G * n, *b_hh = b_ih + G;
    float *x = read_floats("x.bin", (size_t)T * B * m);
    float *h = read_floats("h0.bin", state), *c = read_floats("c0.bin", state);
    float *y = malloc((size_t)T * state * sizeof *y), *z = malloc(G * sizeof *z);
    if (!y || !z) {
        fprintf(stderr, "lstm_kernel: out of memory\n");
        return 2;
    }
    lstm_forward(T, B, m, n, w_ih, w_hh, b_ih, b_hh, x, h, c, y, z);
    write_floats("y.bin", y, (size_t)T * state);
    write_floats("h_T.bin", h, state);
    write_floats("c_T.bin", c, state);
    free(weights);
    free(x);
    free(h);
    free(c);
    free(y);
    free(z);
    return 0;
}
