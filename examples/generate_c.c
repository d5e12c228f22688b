/* The same through the C API: a greedy completion streamed through a callback. */
#include <mlxcpp/mlxcpp.h>

#include <stdio.h>
#include <stdlib.h>

static int print_piece(const char* text, size_t length, void* user_data) {
  (void)user_data;
  fwrite(text, 1, length, stdout);
  fflush(stdout);
  return 0;
}

int main(int argc, char** argv) {
  mlxcpp_model* model = NULL;
  mlxcpp_load_params load = mlxcpp_load_default_params();
  if (mlxcpp_model_load(argc > 1 ? argv[1] : NULL, &load, &model) != MLXCPP_OK) {
    fprintf(stderr, "error: %s\n", mlxcpp_last_error());
    return 1;
  }
  mlxcpp_generate_params params = mlxcpp_generate_default_params();
  params.max_tokens = argc > 3 ? atoi(argv[3]) : 12;
  mlxcpp_generation out;
  if (mlxcpp_generate(model, argc > 2 ? argv[2] : "The best way to", 0, &params, print_piece, NULL, &out) != MLXCPP_OK) {
    fprintf(stderr, "error: %s\n", mlxcpp_last_error());
    mlxcpp_model_free(model);
    return 1;
  }
  printf("\n[%lld tokens, %s]\n", (long long)out.generation_tokens, out.finish_reason);
  mlxcpp_generation_free(&out);
  mlxcpp_model_free(model);
  return 0;
}
