/* Minimal declarations of the LiteRT C API used by separate.c.
 *
 * The ai-edge-litert wheel ships libLiteRt.so (which exports the LiteRT C API) but no C headers. These are our
 * own declarations of the few functions, types and enum values separate.c needs, written from the public LiteRT
 * headers (google-ai-edge/LiteRT: litert/c/litert_common.h, litert_environment.h, litert_model.h,
 * litert_model_types.h, litert_layout.h, litert_options.h, litert_compiled_model.h, litert_tensor_buffer.h,
 * litert_tensor_buffer_types.h) and checked against the shipped library (ai-edge-litert 2.3.0, symbol version
 * VERS_1.0): the argument registers each exported function reads (objdump -d), and the struct layout through
 * LiteRtGetCompiledModelInputTensorLayout. Notably, in this release:
 *   - LiteRtCreateModelFromFile takes the environment first (older releases: filename, model);
 *   - LiteRtLockTensorBuffer takes a lock mode (older releases: an event);
 *   - LiteRtLayout is the bit-field form with inline strides (LiteRtRankedTensorType is 72 bytes).
 * If you link another LiteRT release, check these against its headers.
 */
#ifndef FQSS_EXAMPLES_LITERT_C_API_H_
#define FQSS_EXAMPLES_LITERT_C_API_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* litert_common.h ------------------------------------------------------------------------------------------ */
typedef enum {
  kLiteRtStatusOk = 0,
  kLiteRtStatusErrorInvalidArgument = 1,
  kLiteRtStatusErrorMemoryAllocationFailure = 2,
  kLiteRtStatusErrorRuntimeFailure = 3,
  kLiteRtStatusErrorMissingInputTensor = 4,
  kLiteRtStatusErrorUnsupported = 5,
  kLiteRtStatusErrorNotFound = 6,
  kLiteRtStatusErrorTimeoutExpired = 7,
  kLiteRtStatusErrorWrongVersion = 8,
  kLiteRtStatusErrorUnknown = 9,
  kLiteRtStatusErrorAlreadyExists = 10,
  kLiteRtStatusCancelled = 100,
  kLiteRtStatusErrorFileIO = 500,
  kLiteRtStatusErrorInvalidFlatbuffer = 501,
  kLiteRtStatusErrorDynamicLoading = 502,
  kLiteRtStatusErrorSerialization = 503,
  kLiteRtStatusErrorCompilation = 504,
  kLiteRtStatusErrorIndexOOB = 1000,
} LiteRtStatus;

typedef struct LiteRtEnvironmentT* LiteRtEnvironment;
typedef struct LiteRtModelT* LiteRtModel;
typedef struct LiteRtOptionsT* LiteRtOptions;
typedef struct LiteRtCompiledModelT* LiteRtCompiledModel;
typedef struct LiteRtTensorBufferT* LiteRtTensorBuffer;
typedef struct LiteRtEnvOption LiteRtEnvOption; /* only passed as NULL here */

typedef size_t LiteRtParamIndex;
typedef int LiteRtHwAcceleratorSet; /* bit field of LiteRtHwAccelerators */
enum { kLiteRtHwAcceleratorNone = 0, kLiteRtHwAcceleratorCpu = 1 << 0 };

typedef enum {
  kLiteRtTensorBufferLockModeRead = 0,
  kLiteRtTensorBufferLockModeWrite = 1,
  kLiteRtTensorBufferLockModeReadWrite = 2,
} LiteRtTensorBufferLockMode;

/* litert_layout.h / litert_model_types.h ------------------------------------------------------------------- */
#define LITERT_TENSOR_MAX_RANK 8

typedef struct {
  unsigned int rank : 7; /* number of dimensions */
  bool has_strides : 1;
  int32_t dimensions[LITERT_TENSOR_MAX_RANK]; /* < 0: dynamic */
  uint32_t strides[LITERT_TENSOR_MAX_RANK];
} LiteRtLayout;

typedef enum {
  kLiteRtElementTypeNone = 0,
  kLiteRtElementTypeFloat32 = 1,
  kLiteRtElementTypeInt32 = 2,
  kLiteRtElementTypeInt16 = 7,
  kLiteRtElementTypeInt8 = 9,
} LiteRtElementType;

typedef struct {
  LiteRtElementType element_type;
  LiteRtLayout layout;
} LiteRtRankedTensorType;

#ifndef __cplusplus
_Static_assert(sizeof(LiteRtRankedTensorType) == 72, "LiteRtRankedTensorType must be 72 bytes");
_Static_assert(offsetof(LiteRtRankedTensorType, layout) == 4, "LiteRtRankedTensorType.layout at offset 4");
#endif

/* litert_tensor_buffer_types.h ----------------------------------------------------------------------------- */
typedef enum {
  kLiteRtTensorBufferTypeUnknown = 0,
  kLiteRtTensorBufferTypeHostMemory = 1,
} LiteRtTensorBufferType;

/* litert_environment.h ------------------------------------------------------------------------------------- */
LiteRtStatus LiteRtCreateEnvironment(int num_options, const LiteRtEnvOption* options,
                                     LiteRtEnvironment* environment);
void LiteRtDestroyEnvironment(LiteRtEnvironment environment);

/* litert_model.h ------------------------------------------------------------------------------------------- */
LiteRtStatus LiteRtCreateModelFromFile(LiteRtEnvironment environment, const char* filename, LiteRtModel* model);
LiteRtStatus LiteRtGetModelMetadata(LiteRtModel model, const char* metadata_key, const void** metadata_buffer,
                                    size_t* metadata_buffer_size);
void LiteRtDestroyModel(LiteRtModel model);

/* litert_options.h (compilation options) ------------------------------------------------------------------- */
LiteRtStatus LiteRtCreateOptions(LiteRtOptions* options);
LiteRtStatus LiteRtSetOptionsHardwareAccelerators(LiteRtOptions options,
                                                  LiteRtHwAcceleratorSet hardware_accelerators);
void LiteRtDestroyOptions(LiteRtOptions options);

/* litert_compiled_model.h ---------------------------------------------------------------------------------- */
LiteRtStatus LiteRtCreateCompiledModel(LiteRtEnvironment environment, LiteRtModel model,
                                       LiteRtOptions compilation_options, LiteRtCompiledModel* compiled_model);
LiteRtStatus LiteRtCompiledModelResizeInputTensor(LiteRtCompiledModel compiled_model,
                                                  LiteRtParamIndex signature_index, LiteRtParamIndex input_index,
                                                  const int* dims, size_t dims_size);
LiteRtStatus LiteRtCompiledModelResizeInputTensorNonStrict(LiteRtCompiledModel compiled_model,
                                                           LiteRtParamIndex signature_index,
                                                           LiteRtParamIndex input_index, const int* dims,
                                                           size_t dims_size);
LiteRtStatus LiteRtGetCompiledModelInputTensorLayout(LiteRtCompiledModel compiled_model,
                                                     LiteRtParamIndex signature_index,
                                                     LiteRtParamIndex input_index, LiteRtLayout* layout);
LiteRtStatus LiteRtGetCompiledModelOutputTensorLayouts(LiteRtCompiledModel compiled_model,
                                                       LiteRtParamIndex signature_index, size_t num_layouts,
                                                       LiteRtLayout* layouts, bool update_allocation);
LiteRtStatus LiteRtRunCompiledModel(LiteRtCompiledModel compiled_model, LiteRtParamIndex signature_index,
                                    size_t num_input_buffers, LiteRtTensorBuffer* input_buffers,
                                    size_t num_output_buffers, LiteRtTensorBuffer* output_buffers);
void LiteRtDestroyCompiledModel(LiteRtCompiledModel compiled_model);

/* litert_tensor_buffer.h ----------------------------------------------------------------------------------- */
LiteRtStatus LiteRtCreateManagedTensorBuffer(LiteRtEnvironment env, LiteRtTensorBufferType buffer_type,
                                             const LiteRtRankedTensorType* tensor_type, size_t buffer_size,
                                             LiteRtTensorBuffer* buffer);
LiteRtStatus LiteRtGetTensorBufferPackedSize(LiteRtTensorBuffer tensor_buffer, size_t* size);
LiteRtStatus LiteRtLockTensorBuffer(LiteRtTensorBuffer tensor_buffer, void** host_mem_addr,
                                    LiteRtTensorBufferLockMode lock_mode);
LiteRtStatus LiteRtUnlockTensorBuffer(LiteRtTensorBuffer buffer);
void LiteRtDestroyTensorBuffer(LiteRtTensorBuffer buffer);

#ifdef __cplusplus
}
#endif

#endif /* FQSS_EXAMPLES_LITERT_C_API_H_ */
