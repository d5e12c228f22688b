/* mlxcpp C API: load an MLX-format model, tokenize, apply its chat template, generate with
 * a token callback; the catalogue, name resolution, recommendation and hardware facts as
 * JSON. Opaque handles; every call returns an mlxcpp_status, and mlxcpp_last_error() gives
 * the message of the calling thread's last failure. Strings returned through char** are
 * owned by the caller and released with mlxcpp_free_string(). Link with -lmlxcpp
 * (pkg-config mlxcpp, or find_package(mlxcpp) → mlxcpp::mlxcpp). */
#ifndef MLXCPP_MLXCPP_H
#define MLXCPP_MLXCPP_H

#include <stddef.h>
#include <stdint.h>

#if defined(MLXCPP_BUILDING_SHARED)
#define MLXCPP_API __attribute__((visibility("default")))
#else
#define MLXCPP_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  MLXCPP_OK = 0,
  MLXCPP_ERROR_INVALID_ARGUMENT = 1, /* a parameter is out of range or malformed */
  MLXCPP_ERROR_NOT_FOUND = 2,        /* the model does not exist (see mlxcpp_resolve_json) */
  MLXCPP_ERROR_BUFFER_TOO_SMALL = 3, /* the output array is too small; *n_out says how big */
  MLXCPP_ERROR_FAILED = 4            /* anything else: I/O, bad files, network */
} mlxcpp_status;

typedef struct mlxcpp_model mlxcpp_model;

MLXCPP_API const char* mlxcpp_version(void);
/* The message of this thread's last failed call ("" if none). Valid until the next call. */
MLXCPP_API const char* mlxcpp_last_error(void);
MLXCPP_API void mlxcpp_free_string(char* s);

typedef struct {
  int threads;      /* 0: all cores */
  int precision;    /* 0: fast (default), 1: float32 reference path */
  int allow_download; /* nonzero: a repo id not in the cache is pulled (after the fit check) */
  int device;       /* 0: auto (CUDA when this build and a GPU can run the model), 1: CPU, 2: CUDA */
} mlxcpp_load_params;

MLXCPP_API mlxcpp_load_params mlxcpp_load_default_params(void);
/* model: a directory, an "org/name[@rev]" repo id, or NULL for the default model (the
 * catalogue default when cached, else the bundled one). */
MLXCPP_API mlxcpp_status mlxcpp_model_load(const char* model, const mlxcpp_load_params* params, mlxcpp_model** out);
MLXCPP_API void mlxcpp_model_free(mlxcpp_model* model);
MLXCPP_API int64_t mlxcpp_model_context_length(const mlxcpp_model* model);

/* Token ids of text into ids[0..capacity); *n_out receives the count (also when too small). */
MLXCPP_API mlxcpp_status mlxcpp_tokenize(const mlxcpp_model* model, const char* text, int add_special_tokens,
                                         int32_t* ids, size_t capacity, size_t* n_out);
MLXCPP_API mlxcpp_status mlxcpp_detokenize(const mlxcpp_model* model, const int32_t* ids, size_t n, char** text_out);
/* messages_json: [{"role": "...", "content": "..."}, ...]; the rendered prompt text. */
MLXCPP_API mlxcpp_status mlxcpp_apply_chat_template(const mlxcpp_model* model, const char* messages_json,
                                                    int add_generation_prompt, char** prompt_out);

typedef struct {
  int max_tokens;            /* default 256 */
  float temperature;         /* 0: greedy (default) */
  float top_p;               /* default 1 */
  int top_k;                 /* 0: off */
  float min_p;               /* 0: off */
  float repetition_penalty;  /* 0 or 1: off */
  int has_seed;              /* nonzero: use seed */
  uint64_t seed;
  const char* const* stop;   /* stop strings */
  size_t n_stop;
} mlxcpp_generate_params;

MLXCPP_API mlxcpp_generate_params mlxcpp_generate_default_params(void);

/* Called with each new piece of text (never a partial UTF-8 character). Return nonzero to stop. */
typedef int (*mlxcpp_token_callback)(const char* text, size_t length, void* user_data);

typedef struct {
  char* text;              /* free with mlxcpp_generation_free */
  int64_t prompt_tokens;
  int64_t generation_tokens;
  char finish_reason[16];  /* "stop", "length" or "cancelled" */
  double prompt_tps, generation_tps;
} mlxcpp_generation;

/* chat: nonzero applies the chat template to prompt as one user message. */
MLXCPP_API mlxcpp_status mlxcpp_generate(mlxcpp_model* model, const char* prompt, int chat,
                                         const mlxcpp_generate_params* params, mlxcpp_token_callback callback,
                                         void* user_data, mlxcpp_generation* out);
MLXCPP_API void mlxcpp_generation_free(mlxcpp_generation* generation);

/* The same JSON objects as `mlxcpp list --json`, `resolve --json`, `recommend --json`, `hw --json`. */
MLXCPP_API mlxcpp_status mlxcpp_catalogue_json(const char* category /* NULL: all */, char** json_out);
MLXCPP_API mlxcpp_status mlxcpp_resolve_json(const char* name, char** json_out, int* found);
/* ram_gb / vram_gb < 0: this machine's. */
MLXCPP_API mlxcpp_status mlxcpp_recommend_json(const char* task, int64_t context, double ram_gb, double vram_gb,
                                               char** json_out);
MLXCPP_API mlxcpp_status mlxcpp_hardware_json(char** json_out);

#ifdef __cplusplus
}
#endif

#endif /* MLXCPP_MLXCPP_H */
