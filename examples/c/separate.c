/* separate.c: run an fqss-edge .tflite (int16 PCM in, int16 PCM per source out) through the LiteRT C API of the
 * libLiteRt.so shipped in the ai-edge-litert wheel. No TensorFlow, no C++ and no LiteRT headers needed.
 *
 *   make -C examples/c                     (or the one-line gcc command in examples/c/Makefile)
 *   examples/c/separate model.tflite mix.wav out/mix      -> out/mix_s1.wav, out/mix_s2.wav
 *   examples/c/separate model.tflite mix.raw out/mix      -> out/mix_s1.raw, ... (raw: 16-bit little-endian)
 *
 * Input: a mono 16-bit PCM wav, or raw int16 PCM (little-endian), at the model's sample rate. The samples are
 * zero-padded to the model's valid length (a multiple of its frame hop, at least one window: read from the
 * model's "fqss_edge" metadata), run in one call (the input tensor is resized to that length), and each source
 * is cropped back to the input length. A model exported with a fixed length runs block by block instead.
 * The CPU accelerator of the LiteRT compiled-model API runs the graph with XNNPACK, like LiteRT's Python
 * Interpreter with its default op resolver (LiteRtBackend(kernels="xnnpack")).
 *
 * Level: each call's input is scaled so that its peak is 0.9 of full scale, the level the model was trained at,
 * and the sources are scaled back (an int8 model loses most of its separation on a recording 20 dB below full
 * scale otherwise). Near-silent input (peak below 4 LSB) is left alone. Python does the same
 * (fqss_edge.runtimes.streaming, fqss-edge separate).
 */
#include <math.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "litert_c_api.h"

#define MAX_SRC 16
#define NAME_LEN 64

typedef struct {
  long multiple_of, min_length, fixed_length; /* fixed_length 0: resizable */
  int n_src;
  char names[MAX_SRC][NAME_LEN];
} ModelInfo;

typedef struct {
  int16_t* pcm;
  size_t n;
  long sample_rate; /* 0 for raw input */
} Audio;

static int fail(const char* what, LiteRtStatus s) {
  fprintf(stderr, "error: %s failed (LiteRtStatus %d)\n", what, (int)s);
  return 1;
}

#define CHECK(call)                          \
  do {                                       \
    LiteRtStatus s_ = (call);                \
    if (s_ != kLiteRtStatusOk) {             \
      rc = fail(#call, s_);                  \
      goto done;                             \
    }                                        \
  } while (0)

/* ---- metadata (the JSON written by fqss_edge.export.tflite) ----------------------------------------------- */
static long json_long(const char* json, const char* after, const char* key, long fallback) {
  const char* p = after ? strstr(json, after) : json;
  if (!p) return fallback;
  p = strstr(p, key);
  if (!p) return fallback;
  p += strlen(key);
  while (*p == ' ' || *p == ':') p++;
  if (strncmp(p, "null", 4) == 0) return fallback;
  char* end;
  long v = strtol(p, &end, 10);
  return end == p ? fallback : v;
}

static int read_model_info(LiteRtModel model, ModelInfo* info) {
  const void* buf = NULL;
  size_t size = 0;
  if (LiteRtGetModelMetadata(model, "fqss_edge", &buf, &size) != kLiteRtStatusOk || !buf) {
    fprintf(stderr, "error: no fqss_edge metadata in the model (not written by fqss-edge export?)\n");
    return 1;
  }
  char* json = malloc(size + 1);
  memcpy(json, buf, size);
  json[size] = 0;
  int rc = 0;
  if (!strstr(json, "\"io\": \"int16\"")) {
    fprintf(stderr, "error: this example needs a model exported with int16 PCM I/O (io=\"int16\")\n");
    rc = 1;
  }
  info->multiple_of = json_long(json, "\"length\": {", "\"multiple_of\"", 1);
  info->min_length = json_long(json, "\"length\": {", "\"min\"", 1);
  info->fixed_length = json_long(json, NULL, "\"fixed_length\"", 0);
  info->n_src = 0;
  const char* key = "\"source_names\": [";
  const char* p = strstr(json, key);
  const char* close = p ? strchr(p, ']') : NULL;
  if (p) p += strlen(key);
  while (close && info->n_src < MAX_SRC) { /* ["s1", "s2"]: names without escapes */
    const char* a = strchr(p, '"');
    const char* b = a ? strchr(a + 1, '"') : NULL;
    if (!b || b > close) break;
    size_t len = (size_t)(b - a - 1) < NAME_LEN - 1 ? (size_t)(b - a - 1) : NAME_LEN - 1;
    memcpy(info->names[info->n_src], a + 1, len);
    info->names[info->n_src++][len] = 0;
    p = b + 1;
  }
  free(json);
  return rc;
}

/* ---- audio I/O -------------------------------------------------------------------------------------------- */
static uint32_t le32(const unsigned char* b) { return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24; }
static uint16_t le16(const unsigned char* b) { return (uint16_t)(b[0] | b[1] << 8); }

static int read_audio(const char* path, Audio* a) {
  FILE* f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "error: %s: %s\n", path, strerror(errno));
    return 1;
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char* buf = malloc(size > 0 ? (size_t)size : 1);
  if (size <= 0 || fread(buf, 1, (size_t)size, f) != (size_t)size) {
    fprintf(stderr, "error: %s: empty or unreadable\n", path);
    fclose(f);
    free(buf);
    return 1;
  }
  fclose(f);
  const unsigned char* data = buf;
  size_t nbytes = (size_t)size;
  a->sample_rate = 0;
  if (size >= 12 && !memcmp(buf, "RIFF", 4) && !memcmp(buf + 8, "WAVE", 4)) {
    size_t pos = 12;
    int fmt_ok = 0;
    data = NULL;
    while (pos + 8 <= (size_t)size) {
      uint32_t len = le32(buf + pos + 4);
      const unsigned char* body = buf + pos + 8;
      if (!memcmp(buf + pos, "fmt ", 4) && len >= 16) {
        uint16_t format = le16(body), channels = le16(body + 2), bits = le16(body + 14);
        a->sample_rate = (long)le32(body + 4);
        fmt_ok = (format == 1 || format == 0xFFFE) && channels == 1 && bits == 16;
      } else if (!memcmp(buf + pos, "data", 4)) {
        data = body;
        nbytes = len <= (size_t)size - pos - 8 ? len : (size_t)size - pos - 8;
        break;
      }
      pos += 8 + len + (len & 1);
    }
    if (!fmt_ok || !data) {
      fprintf(stderr, "error: %s: needs a mono 16-bit PCM wav\n", path);
      free(buf);
      return 1;
    }
  }
  a->n = nbytes / 2;
  if (a->n == 0) {
    fprintf(stderr, "error: %s: no samples\n", path);
    free(buf);
    return 1;
  }
  a->pcm = malloc(a->n * sizeof(int16_t));
  for (size_t i = 0; i < a->n; i++) a->pcm[i] = (int16_t)le16(data + 2 * i);
  free(buf);
  return 0;
}

static void put16(FILE* f, uint16_t v) { fputc(v & 255, f), fputc(v >> 8, f); }
static void put32(FILE* f, uint32_t v) { put16(f, v & 65535), put16(f, v >> 16); }

static int write_source(const char* path, const int16_t* pcm, size_t n, long sample_rate) {
  FILE* f = fopen(path, "wb");
  if (!f) {
    fprintf(stderr, "error: %s: %s\n", path, strerror(errno));
    return 1;
  }
  if (sample_rate > 0) { /* canonical 44-byte header: PCM, mono, 16-bit */
    fwrite("RIFF", 1, 4, f), put32(f, (uint32_t)(36 + 2 * n)), fwrite("WAVEfmt ", 1, 8, f);
    put32(f, 16), put16(f, 1), put16(f, 1), put32(f, (uint32_t)sample_rate), put32(f, (uint32_t)sample_rate * 2);
    put16(f, 2), put16(f, 16), fwrite("data", 1, 4, f), put32(f, (uint32_t)(2 * n));
  }
  for (size_t i = 0; i < n; i++) put16(f, (uint16_t)pcm[i]);
  return fclose(f) == 0 ? 0 : 1;
}

/* ---- level ------------------------------------------------------------------------------------------------ */
#define PEAK_TARGET 0.9 /* of full scale (32768): the training level */
#define MIN_PEAK 4      /* int16 LSBs (1e-4 of full scale): quieter input is not amplified */

static int16_t clamp16(double v) { return (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v); }

/* Scales x[0..n) in place to peak PEAK_TARGET (rounded to nearest, ties to even); returns the gain applied. */
static double normalize_level(int16_t* x, size_t n) {
  int peak = 0;
  for (size_t i = 0; i < n; i++) peak = abs(x[i]) > peak ? abs(x[i]) : peak;
  if (peak < MIN_PEAK) return 1.0;
  double g = PEAK_TARGET * 32768.0 / peak;
  for (size_t i = 0; i < n; i++) x[i] = clamp16(nearbyint(x[i] * g));
  return g;
}

static void restore_level(int16_t* y, size_t n, double g) {
  if (g != 1.0)
    for (size_t i = 0; i < n; i++) y[i] = clamp16(nearbyint(y[i] / g));
}

/* ---- model ------------------------------------------------------------------------------------------------ */
static size_t valid_length(const ModelInfo* m, size_t n) {
  size_t step = m->multiple_of > 0 ? (size_t)m->multiple_of : 1;
  if (n < (size_t)m->min_length) n = (size_t)m->min_length;
  return (n + step - 1) / step * step;
}

/* Runs one block of `len` samples (already padded) and writes n_src * len samples to `out` (source-major). */
static int run_block(LiteRtEnvironment env, LiteRtCompiledModel cm, const int16_t* in, size_t len, int n_src,
                     int16_t* out) {
  int rc = 0;
  LiteRtTensorBuffer inb = NULL, outb = NULL;
  void* mem = NULL;
  LiteRtRankedTensorType tin = {kLiteRtElementTypeInt16, {0}}, tout = {kLiteRtElementTypeInt16, {0}};
  tin.layout.rank = 2, tin.layout.dimensions[0] = 1, tin.layout.dimensions[1] = (int32_t)len;
  tout.layout.rank = 2, tout.layout.dimensions[0] = n_src, tout.layout.dimensions[1] = (int32_t)len;
  CHECK(LiteRtCreateManagedTensorBuffer(env, kLiteRtTensorBufferTypeHostMemory, &tin, len * sizeof(int16_t),
                                        &inb));
  CHECK(LiteRtCreateManagedTensorBuffer(env, kLiteRtTensorBufferTypeHostMemory, &tout,
                                        (size_t)n_src * len * sizeof(int16_t), &outb));
  CHECK(LiteRtLockTensorBuffer(inb, &mem, kLiteRtTensorBufferLockModeWrite));
  memcpy(mem, in, len * sizeof(int16_t));
  CHECK(LiteRtUnlockTensorBuffer(inb));
  CHECK(LiteRtRunCompiledModel(cm, 0, 1, &inb, 1, &outb));
  CHECK(LiteRtLockTensorBuffer(outb, &mem, kLiteRtTensorBufferLockModeRead));
  memcpy(out, mem, (size_t)n_src * len * sizeof(int16_t));
  CHECK(LiteRtUnlockTensorBuffer(outb));
done:
  if (inb) LiteRtDestroyTensorBuffer(inb);
  if (outb) LiteRtDestroyTensorBuffer(outb);
  return rc;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s MODEL.tflite INPUT.wav|INPUT.raw OUT_PREFIX\n"
                    "writes OUT_PREFIX_<source>.wav (wav input) or OUT_PREFIX_<source>.raw (raw int16 input)\n",
            argv[0]);
    return 2;
  }
  int rc = 0;
  LiteRtEnvironment env = NULL;
  LiteRtModel model = NULL;
  LiteRtOptions options = NULL;
  LiteRtCompiledModel cm = NULL;
  Audio audio = {0};
  ModelInfo info;
  int16_t *in = NULL, *out = NULL, *src = NULL;

  if (read_audio(argv[2], &audio)) return 1;
  CHECK(LiteRtCreateEnvironment(0, NULL, &env));
  CHECK(LiteRtCreateModelFromFile(env, argv[1], &model));
  if (read_model_info(model, &info)) {
    rc = 1;
    goto done;
  }
  CHECK(LiteRtCreateOptions(&options));
  CHECK(LiteRtSetOptionsHardwareAccelerators(options, kLiteRtHwAcceleratorCpu));
  CHECK(LiteRtCreateCompiledModel(env, model, options, &cm));

  /* One call over the whole (padded) input, or fixed-length blocks for a fixed-length export. */
  size_t block = info.fixed_length > 0 ? (size_t)info.fixed_length : valid_length(&info, audio.n);
  size_t n_blocks = (audio.n + block - 1) / block;
  if (info.fixed_length <= 0) {
    int dims[2] = {1, (int)block};
    CHECK(LiteRtCompiledModelResizeInputTensor(cm, 0, 0, dims, 2));
  }
  LiteRtLayout out_layout;
  CHECK(LiteRtGetCompiledModelOutputTensorLayouts(cm, 0, 1, &out_layout, true));
  int n_src = out_layout.dimensions[0];
  if (out_layout.rank != 2 || (size_t)out_layout.dimensions[1] != block || n_src < 1 || n_src > MAX_SRC) {
    fprintf(stderr, "error: unexpected output shape (rank %u, %d x %d) for %zu input samples\n", out_layout.rank,
            out_layout.dimensions[0], out_layout.dimensions[1], block);
    rc = 1;
    goto done;
  }
  in = calloc(n_blocks * block, sizeof(int16_t));
  out = malloc((size_t)n_src * block * sizeof(int16_t));
  src = malloc((size_t)n_src * audio.n * sizeof(int16_t));
  memcpy(in, audio.pcm, audio.n * sizeof(int16_t));
  for (size_t b = 0; b < n_blocks; b++) {
    double gain = normalize_level(in + b * block, block);
    if (run_block(env, cm, in + b * block, block, n_src, out)) {
      rc = 1;
      goto done;
    }
    restore_level(out, (size_t)n_src * block, gain);
    size_t keep = b + 1 < n_blocks ? block : audio.n - b * block;
    for (int s = 0; s < n_src; s++) memcpy(src + (size_t)s * audio.n + b * block, out + (size_t)s * block,
                                           keep * sizeof(int16_t));
  }
  for (int s = 0; s < n_src; s++) {
    char path[4096], fallback[NAME_LEN];
    snprintf(fallback, sizeof fallback, "s%d", s + 1);
    snprintf(path, sizeof path, "%s_%s.%s", argv[3], s < info.n_src ? info.names[s] : fallback,
             audio.sample_rate ? "wav" : "raw");
    if (write_source(path, src + (size_t)s * audio.n, audio.n, audio.sample_rate)) {
      rc = 1;
      goto done;
    }
    printf("%s\n", path);
  }
  fprintf(stderr, "separated %zu samples into %d sources (%zu call%s of %zu samples)\n", audio.n, n_src, n_blocks,
          n_blocks == 1 ? "" : "s", block);

done:
  free(in), free(out), free(src), free(audio.pcm);
  if (cm) LiteRtDestroyCompiledModel(cm);
  if (options) LiteRtDestroyOptions(options);
  if (model) LiteRtDestroyModel(model);
  if (env) LiteRtDestroyEnvironment(env);
  return rc;
}
